from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from minyi.core.choices import Kind, Priority
from minyi.core.models import TreeNode


class Category(TreeNode):
    """What an appeal is about (a tree: 城乡建设 > 住房保障 > ...)."""

    name = models.CharField(_("名称"), max_length=100)
    code = models.SlugField(_("编码"), max_length=60, unique=True)
    keywords = models.CharField(_("关键词"), max_length=500, blank=True, help_text=_("以空格分隔"))
    is_active = models.BooleanField(_("启用"), default=True)
    is_livelihood = models.BooleanField(_("重点民生领域"), default=False)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["sort_order", "path"]
        verbose_name = _("诉求分类")
        verbose_name_plural = _("诉求分类")

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Deadlines for one kind and priority. `unit` says how the amounts count."""

    class Unit(models.TextChoices):
        WORKING_DAYS = "working_days", _("工作日")
        CALENDAR_DAYS = "calendar_days", _("自然日")
        HOURS = "hours", _("小时")

    kind = models.CharField(_("诉求类型"), max_length=16, choices=Kind.choices)
    priority = models.CharField(
        _("紧急程度"), max_length=10, choices=Priority.choices, default=Priority.ORDINARY
    )
    unit = models.CharField(_("计时单位"), max_length=16, choices=Unit.choices, default=Unit.WORKING_DAYS)
    accept_within = models.PositiveIntegerField(_("受理时限"), help_text=_("自提交起"))
    handle_within = models.PositiveIntegerField(_("办理时限"), help_text=_("自受理起"))
    extension_max_days = models.PositiveIntegerField(_("延期上限（自然日）"), default=30)
    extension_max_count = models.PositiveSmallIntegerField(_("可延期次数"), default=1)
    review_request_days = models.PositiveIntegerField(_("申请复查期限（自然日）"), default=30)
    review_decide_days = models.PositiveIntegerField(_("复查办理期限（自然日）"), default=30)
    evaluation_days = models.PositiveIntegerField(_("评价期限（自然日）"), default=7)

    class Meta:
        verbose_name = _("时限规则")
        verbose_name_plural = _("时限规则")
        constraints = [models.UniqueConstraint(fields=["kind", "priority"], name="sla_kind_priority_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_priority_display()}"


class CalendarDay(models.Model):
    """An admin-entered exception to the working-day calendar: a holiday, or a make-up working day (调休)."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"), help_text=_("勾选表示调休上班；不勾选表示放假"))
    name = models.CharField(_("说明"), max_length=60, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("工作日历调整")
        verbose_name_plural = _("工作日历调整")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class RoutingRule(models.Model):
    """Category × region → the department responsible. Admins edit these rules.

    A rule for a category covers its subcategories, and a rule for a region covers the areas inside it; a rule
    without a region applies everywhere. The most specific rule wins: the deepest category first, then the deepest
    region (minyi.routing.services.rule_department).
    """

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("分类")
    )
    region = models.ForeignKey(
        "accounts.Region",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routing_rules",
        verbose_name=_("区域"),
        help_text=_("留空表示适用于所有区域"),
    )
    department = models.ForeignKey(
        "accounts.Department",
        on_delete=models.CASCADE,
        related_name="routing_rules",
        verbose_name=_("承办部门"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("派单规则")
        verbose_name_plural = _("派单规则")
        constraints = [
            models.UniqueConstraint(fields=["category", "region"], name="routing_rule_unique"),
            models.UniqueConstraint(
                fields=["category"],
                condition=models.Q(region__isnull=True),
                name="routing_rule_unique_anywhere",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category_id} × {self.region_id or '*'} → {self.department_id}"


class Place(models.Model):
    """A gazetteer entry below the administrative regions: an estate (小区), a road, a landmark, a company.

    Regions (city, district, street, community) are accounts.Region rows, which the gazetteer includes too;
    a Place always lies inside one region, its finest known one.
    """

    class Kind(models.TextChoices):
        ESTATE = "estate", _("小区")
        ROAD = "road", _("道路")
        LANDMARK = "landmark", _("地标")
        COMPANY = "company", _("单位企业")
        SCHOOL = "school", _("学校")
        HOSPITAL = "hospital", _("医院")
        MARKET = "market", _("市场商场")
        OTHER = "other", _("其他")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.ESTATE)
    region = models.ForeignKey(
        "accounts.Region", on_delete=models.PROTECT, related_name="places", verbose_name=_("所在区域")
    )
    aliases = models.CharField(_("别名"), max_length=500, blank=True, help_text=_("以空格或顿号分隔"))
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["region", "name"]
        verbose_name = _("地名")
        verbose_name_plural = _("地名")
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="place_region_name_unique"),
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=[
                        "estate",
                        "road",
                        "landmark",
                        "company",
                        "school",
                        "hospital",
                        "market",
                        "other",
                    ]
                ),
                name="place_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoutingHistory(models.Model):
    """How often past cases of a category (and region) went to a department: the fallback when no rule applies.

    A rollup, rebuilt from the cases by minyi.intake.triage.routing_history_refresh (after imports and daily).
    `region` null holds the count over all regions.
    """

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey("accounts.Region", null=True, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey("accounts.Department", on_delete=models.CASCADE, related_name="+")
    cases = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("派单历史统计")
        verbose_name_plural = _("派单历史统计")
        indexes = [models.Index(fields=["category", "region"], name="routing_history_lookup")]

    def __str__(self) -> str:
        return f"{self.category_id} × {self.region_id or '*'} → {self.department_id}: {self.cases}"
