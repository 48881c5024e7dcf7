from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from minyi.cases.workflow import CaseStatus
from minyi.core.choices import Channel, Kind, Priority


class Case(models.Model):
    """One appeal and its life. `status` is assigned only by minyi.cases.services (a test enforces it)."""

    # unique by a constraint (Meta), not unique=True: PostgreSQL then needs no second, LIKE-pattern index
    tracking_number = models.CharField(_("受理编号"), max_length=24)
    external_number = models.CharField(
        _("原编号"), max_length=64, blank=True, help_text=_("导入的历史件在原系统中的编号")
    )
    query_code_hash = models.CharField(max_length=100, editable=False)
    kind = models.CharField(_("诉求类型"), max_length=16, choices=Kind.choices, default=Kind.COMPLAINT)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    priority = models.CharField(
        _("紧急程度"), max_length=10, choices=Priority.choices, default=Priority.ORDINARY
    )
    title = models.CharField(_("标题"), max_length=200)
    content = models.TextField(_("内容"), help_text=_("群众原文，按原样保存"))
    is_anonymous = models.BooleanField(_("匿名"), default=False)
    category = models.ForeignKey(
        "routing.Category",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("分类"),
    )
    region = models.ForeignKey(
        "accounts.Region",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("区域"),
    )
    address = models.CharField(_("地址"), max_length=255, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.SUBMITTED
    )  # indexed by case_status_due (status first)
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("承办部门"),
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="submitted_cases",
        verbose_name=_("提交账号"),
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="logged_cases",
        verbose_name=_("登记人"),
    )
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="duplicates",
        verbose_name=_("重复于"),
    )
    is_repeat = models.BooleanField(
        _("重复件"), default=False, help_text=_("同一联系人就同一事项再次反映；计入重复诉求统计")
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_cases",
        verbose_name=_("并入"),
    )
    # Deadlines, stored when the case enters a state; "overdue" is derived from due_at.
    accept_due_at = models.DateTimeField(_("受理时限"), null=True, blank=True)
    handle_due_at = models.DateTimeField(_("办理时限"), null=True, blank=True)
    review_due_at = models.DateTimeField(_("复查时限"), null=True, blank=True)
    evaluation_due_at = models.DateTimeField(_("评价截止"), null=True, blank=True)
    due_at = models.DateTimeField(_("当前时限"), null=True, blank=True)  # indexed by case_status_due
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("交办时间"), null=True, blank=True)
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("状态变更时间"), null=True, blank=True)
    escalation_count = models.PositiveIntegerField(_("督办次数"), default=0)
    escalated_at = models.DateTimeField(_("最近督办"), null=True, blank=True)
    escalated_for_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    extension_count = models.PositiveSmallIntegerField(_("延期次数"), default=0)
    pending_extension_days = models.PositiveIntegerField(_("待批延期天数"), null=True, blank=True)
    needs_supervision = models.BooleanField(
        _("待督办处理"), default=False, help_text=_("群众不满意，进入督办队列")
    )
    reopen_count = models.PositiveSmallIntegerField(_("重办次数"), default=0)
    # Publication (disclosure app): the person may ask at submission that the case not be published; staff may
    # flag a case private. Either keeps it off the public board whatever the default for its kind.
    publication_consent = models.BooleanField(
        _("同意公开"), default=True, help_text=_("群众提交时可要求不公开其诉求")
    )
    is_private = models.BooleanField(
        _("不宜公开"), default=False, help_text=_("涉及隐私或敏感事项，工作人员标记后不予公开")
    )
    responded_at = models.DateTimeField(
        _("响应时间"), null=True, blank=True, help_text=_("承办单位首次开始办理或答复的时间（响应率）")
    )
    created_at = models.DateTimeField(_("提交时间"), db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("诉求")
        verbose_name_plural = _("诉求")
        constraints = [
            models.UniqueConstraint(fields=["tracking_number"], name="case_tracking_number_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=CaseStatus.values), name="case_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=Kind.values), name="case_kind_valid"),
            models.CheckConstraint(condition=models.Q(channel__in=Channel.values), name="case_channel_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="case_status_due"),
            models.Index(fields=["department", "status"], name="case_dept_status"),
            models.Index(fields=["category", "created_at"], name="case_category_created"),
            models.Index(fields=["external_number"], name="case_external_number"),
            models.Index(fields=["updated_at"], name="case_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} {self.title}"


class CaseContact(models.Model):
    """The person's contact details, kept apart from the content; read only by roles that need them, and logged."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="contact", primary_key=True)
    name = models.CharField(_("姓名"), max_length=64, blank=True)
    phone = models.CharField(_("电话"), max_length=32, blank=True)
    email = models.EmailField(_("电子邮件"), blank=True)
    id_number = models.CharField(_("证件号码"), max_length=32, blank=True)
    address = models.CharField(_("联系地址"), max_length=255, blank=True)
    external_user = models.CharField(
        _("原系统用户"), max_length=64, blank=True, help_text=_("导入的历史件在原系统中的留言用户标识")
    )

    class Meta:
        verbose_name = _("联系方式")
        verbose_name_plural = _("联系方式")

    def __str__(self) -> str:
        return f"{self.case_id}"


class AppendOnlyQuerySet(models.QuerySet):
    """Events are never changed nor deleted in bulk (CaseEvent here; the barometer's topic and alert events too)."""

    def update(self, **kwargs):
        raise TypeError("events are append-only")

    def delete(self):
        raise TypeError("events are append-only")


class CaseEvent(models.Model):
    """An append-only record of one change to a case: who, what, from which status to which, and why."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("动作"), max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="case_events"
    )
    actor_role = models.CharField(_("身份"), max_length=16, blank=True)
    from_status = models.CharField(_("原状态"), max_length=16, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16, blank=True)
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    is_public = models.BooleanField(_("群众可见"), default=True)
    created_at = models.DateTimeField(_("时间"), db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")
        indexes = [models.Index(fields=["action"], name="case_event_action")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("case events are append-only")


class Reply(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("待审核")
        SENT = "sent", _("已答复")
        REJECTED = "rejected", _("已退回")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="replies")
    text = models.TextField(_("答复内容"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.SENT)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"))
    sent_at = models.DateTimeField(_("答复时间"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("答复")
        verbose_name_plural = _("答复")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(state="pending"), name="one_pending_reply_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_state_display()}"


class Evaluation(models.Model):
    class Rating(models.TextChoices):
        SATISFIED = "satisfied", _("满意")
        BASICALLY = "basically_satisfied", _("基本满意")
        DISSATISFIED = "dissatisfied", _("不满意")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evaluations")
    reply = models.ForeignKey(Reply, on_delete=models.CASCADE, related_name="evaluations")
    rating = models.CharField(_("评价"), max_length=20, choices=Rating.choices)
    resolved = models.BooleanField(_("问题是否解决"), null=True, blank=True)
    reason = models.TextField(_("理由"), blank=True)
    created_at = models.DateTimeField(_("评价时间"))

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("评价")
        verbose_name_plural = _("评价")
        constraints = [models.UniqueConstraint(fields=["reply"], name="one_evaluation_per_reply")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_rating_display()}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}{instance.extension}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    original_name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(max_length=60)
    extension = models.CharField(max_length=8)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")

    def __str__(self) -> str:
        return self.original_name


class PersonalDataAccess(models.Model):
    """Every time staff see a person's contact details, a row is written here (append-only)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("个人信息查看记录")
        verbose_name_plural = _("个人信息查看记录")

    def __str__(self) -> str:
        return f"{self.user_id} {self.case_id} {self.purpose}"
