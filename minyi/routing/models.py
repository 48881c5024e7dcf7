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
