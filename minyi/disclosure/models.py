"""What the public sees: published cases (masked copies, never the original), supports, the person's feedback
links, and the scoreboard's daily rollups.

The original case, its replies and its contact are never altered here: a Publication holds its own masked copy,
which staff may edit before it goes out, and which a check refuses while it still holds detectable personal data.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from minyi.core.choices import Kind


class Publication(models.Model):
    class State(models.TextChoices):
        HELD = "held", _("暂不公开")
        PUBLISHED = "published", _("已公开")
        WITHDRAWN = "withdrawn", _("已撤回")

    class Hold(models.TextChoices):
        """Why a replied case is not (yet) on the board."""

        NONE = "", _("无")
        KIND = "kind", _("该类诉求默认不公开")
        PETITION = "petition", _("信访件不公开")
        NO_CONSENT = "no_consent", _("群众要求不公开")
        PRIVATE = "private", _("标记为不宜公开")
        PII = "pii", _("公开文本仍含个人信息")
        STAFF = "staff", _("工作人员撤回")

    case = models.OneToOneField(
        "cases.Case", on_delete=models.CASCADE, primary_key=True, related_name="publication"
    )
    state = models.CharField(_("公开状态"), max_length=10, choices=State.choices, default=State.HELD)
    hold_reason = models.CharField(_("未公开原因"), max_length=12, choices=Hold.choices, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    # The masked copy: what the public reads. Written by the text engine, editable by staff.
    title = models.CharField(_("公开标题"), max_length=200)
    content = models.TextField(_("公开内容"))
    edited_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(_("修改时间"), null=True, blank=True)
    # Denormalised from the case for the board's filters and orderings (kept in step by disclosure.services).
    kind = models.CharField(_("诉求类型"), max_length=16, choices=Kind.choices)
    category = models.ForeignKey(
        "routing.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    region = models.ForeignKey(
        "accounts.Region", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case_status = models.CharField(_("办理状态"), max_length=16)  # not-a-case-status: a copy, for filtering
    received_at = models.DateTimeField(_("提交时间"))
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("公开时间"), null=True, blank=True)
    #: Segmented, simplified tokens of the masked title and content, space-separated with a space at each end.
    search_text = models.TextField(blank=True, editable=False)
    view_count = models.PositiveIntegerField(_("浏览量"), default=0)
    support_count = models.PositiveIntegerField(_("附议数"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("公开信息")
        verbose_name_plural = _("公开信息")
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="published") | Q(published_at__isnull=False),
                name="publication_published_has_time",
            ),
        ]
        # Every board query is "published, maybe one filter, newest (or most viewed) first": one partial index
        # per shape, each ending in the primary key so that keyset pagination is an index range scan.
        indexes = [
            models.Index(
                fields=["-published_at", "-case"], name="pub_board_newest", condition=Q(state="published")
            ),
            models.Index(
                fields=["-view_count", "-case"], name="pub_board_viewed", condition=Q(state="published")
            ),
            models.Index(
                fields=["category", "-published_at", "-case"],
                name="pub_board_category",
                condition=Q(state="published"),
            ),
            models.Index(
                fields=["region", "-published_at", "-case"],
                name="pub_board_region",
                condition=Q(state="published"),
            ),
            models.Index(
                fields=["department", "-published_at", "-case"],
                name="pub_board_department",
                condition=Q(state="published"),
            ),
            models.Index(
                fields=["case_status", "-published_at", "-case"],
                name="pub_board_status",
                condition=Q(state="published"),
            ),
            models.Index(fields=["state", "hold_reason"], name="pub_state_hold"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_state_display()}"


class PublishedReply(models.Model):
    """The masked copy of one sent reply, as the public reads it."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="replies")
    reply = models.OneToOneField("cases.Reply", on_delete=models.CASCADE, related_name="published")
    text = models.TextField(_("公开答复"))
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(_("答复时间"), null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "id"]
        verbose_name = _("公开答复")
        verbose_name_plural = _("公开答复")

    def __str__(self) -> str:
        return f"{self.publication_id} {self.reply_id}"


class Support(models.Model):
    """One "me too" (+1) on a published case. `voter` is a keyed hash of the client (never the address itself),
    so one client counts once per case."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="supports")
    voter = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("附议")
        verbose_name_plural = _("附议")
        constraints = [
            models.UniqueConstraint(fields=["publication", "voter"], name="support_once_per_voter")
        ]

    def __str__(self) -> str:
        return f"{self.publication_id}"


class FeedbackInvitation(models.Model):
    """The question sent to the person after a reply: is it solved, are you satisfied? Answered once, through a
    link whose token is stored only as a hash."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("电子邮件")
        SMS = "sms", _("短信")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="feedback_invitations")
    reply = models.ForeignKey("cases.Reply", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    created_at = models.DateTimeField(_("发送时间"))
    expires_at = models.DateTimeField(_("失效时间"))
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("回访邀请")
        verbose_name_plural = _("回访邀请")
        indexes = [models.Index(fields=["case", "reply"], name="feedback_case_reply")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.channel}"


class ScoreRollup(models.Model):
    """Counters for the scoreboard: the cases received on `day` (local date), by responsible department and
    region. Rebuilt for the days whose cases changed (disclosure.scoreboard.rollup_refresh: a day's rows are
    deleted and recomputed in one transaction, serialised by the RollupWatermark row lock); the scoreboard sums
    rows, it never scans cases."""

    day = models.DateField(_("日期"))
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    region = models.ForeignKey(
        "accounts.Region", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    received = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    responded_on_time = models.PositiveIntegerField(default=0)
    replied = models.PositiveIntegerField(default=0)
    replied_on_time = models.PositiveIntegerField(default=0)
    reply_seconds = models.BigIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    resolution_answered = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("考核日汇总")
        verbose_name_plural = _("考核日汇总")
        indexes = [
            models.Index(fields=["day"], name="score_rollup_day"),
            models.Index(fields=["department", "day"], name="score_rollup_dept_day"),
            models.Index(fields=["region", "day"], name="score_rollup_region_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id} {self.region_id}"


class RollupWatermark(models.Model):
    """Where the last rollup refresh stopped: cases updated after `cases_updated_to` have days to rebuild."""

    name = models.CharField(max_length=40, primary_key=True)
    cases_updated_to = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("汇总进度")
        verbose_name_plural = _("汇总进度")

    def __str__(self) -> str:
        return self.name
