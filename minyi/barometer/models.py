"""The barometer's tables: dashboard rollups, hot topics, early-warning alerts, reply quality and reports.

Rollups and topics are derived data, rebuilt by background jobs (minyi.barometer.rollups / hot / warnings); alerts
and their events, topic events and reports are records. Events are append-only, like CaseEvent.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from minyi.cases.models import AppendOnlyQuerySet


class BarometerSettings(models.Model):
    """The thresholds of hot topics and early warning (one row; admin → 晴雨表设置)."""

    topic_window_days = models.PositiveSmallIntegerField(
        _("热点窗口（天）"), default=30, validators=[MinValueValidator(1), MaxValueValidator(366)]
    )
    topic_min_size = models.PositiveSmallIntegerField(
        _("热点最少诉求数"), default=3, validators=[MinValueValidator(1), MaxValueValidator(366)]
    )
    topic_threshold = models.FloatField(_("聚类相似度阈值"), default=0.3)
    surge_baseline_days = models.PositiveSmallIntegerField(
        _("基线天数"), default=28, validators=[MinValueValidator(1), MaxValueValidator(366)]
    )
    surge_window_days = models.PositiveSmallIntegerField(
        _("突增窗口（天）"), default=3, validators=[MinValueValidator(1), MaxValueValidator(366)]
    )
    surge_min_count = models.PositiveSmallIntegerField(_("突增最少件数"), default=5)
    surge_ratio = models.FloatField(_("突增倍数阈值"), default=2.0)
    surge_p_value = models.FloatField(_("显著性（p 值）"), default=0.001)
    red_ratio = models.FloatField(_("红色预警倍数"), default=5.0)
    red_count = models.PositiveIntegerField(_("红色预警件数"), default=30)
    orange_ratio = models.FloatField(_("橙色预警倍数"), default=3.0)
    orange_count = models.PositiveIntegerField(_("橙色预警件数"), default=15)
    red_risk = models.PositiveSmallIntegerField(_("红色预警风险分"), default=60)
    orange_risk = models.PositiveSmallIntegerField(_("橙色预警风险分"), default=40)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("晴雨表设置")
        verbose_name_plural = _("晴雨表设置")
        constraints = [
            models.CheckConstraint(condition=models.Q(topic_threshold__gt=0, topic_threshold__lt=1),
                                   name="barometer_settings_threshold"),
            models.CheckConstraint(condition=models.Q(surge_p_value__gt=0, surge_p_value__lt=1),
                                   name="barometer_settings_p_value"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return str(_("晴雨表设置"))

    @classmethod
    def get(cls) -> BarometerSettings:
        row = cls.objects.order_by("pk").first()
        return row if row is not None else cls.objects.create()

    def to_surge_config(self):
        from minyi.text.surge import SurgeConfig

        return SurgeConfig(
            baseline_days=self.surge_baseline_days,
            window_days=self.surge_window_days,
            min_count=self.surge_min_count,
            ratio=self.surge_ratio,
            p_value=self.surge_p_value,
        )

    def to_level_rules(self):
        from minyi.text.surge import LevelRules

        return LevelRules(
            red_ratio=self.red_ratio,
            red_count=self.red_count,
            orange_ratio=self.orange_ratio,
            orange_count=self.orange_count,
            red_risk=self.red_risk,
            orange_risk=self.orange_risk,
        )


class DailyRollup(models.Model):
    """Counters of the cases received on `day` (local date) by category × region × channel × kind × department.
    Rebuilt for the days whose cases changed (minyi.barometer.rollups); dashboards sum rows, never scan cases."""

    day = models.DateField(_("日期"))
    category = models.ForeignKey(
        "routing.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    region = models.ForeignKey(
        "accounts.Region", null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+", db_index=False)  # fmt: skip
    channel = models.CharField(max_length=10)
    kind = models.CharField(max_length=16)
    received = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    responded_on_time = models.PositiveIntegerField(default=0)
    replied = models.PositiveIntegerField(default=0)
    replied_on_time = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    resolution_answered = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    high_risk = models.PositiveIntegerField(default=0)
    supports = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("晴雨表日汇总")
        verbose_name_plural = _("晴雨表日汇总")
        indexes = [
            models.Index(fields=["day"], name="baro_rollup_day"),
            models.Index(fields=["category", "day"], name="baro_rollup_cat_day"),
            models.Index(fields=["region", "day"], name="baro_rollup_region_day"),
            models.Index(fields=["department", "day"], name="baro_rollup_dept_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.category_id} {self.region_id} {self.channel} {self.kind}"


class BarometerWatermark(models.Model):
    """Where a job last stopped (name: "rollup", ...)."""

    name = models.CharField(max_length=40, primary_key=True)
    cases_updated_to = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("晴雨表进度")
        verbose_name_plural = _("晴雨表进度")

    def __str__(self) -> str:
        return self.name


class TopicRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("运行中")
        OK = "ok", _("完成")
        FAILED = "failed", _("失败")

    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    window_start = models.DateTimeField(_("窗口开始"))
    window_end = models.DateTimeField(_("窗口结束"))
    cases = models.PositiveIntegerField(_("诉求数"), default=0)
    topics = models.PositiveIntegerField(_("热点数"), default=0)
    elapsed_ms = models.FloatField(_("耗时（毫秒）"), default=0)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    error = models.CharField(_("错误"), max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("热点分析运行")
        verbose_name_plural = _("热点分析运行")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.status}"


class Topic(models.Model):
    class Trend(models.TextChoices):
        NEW = "new", _("新出现")
        RISING = "rising", _("上升")
        STEADY = "steady", _("平稳")
        FADING = "fading", _("回落")
        GONE = "gone", _("已消退")

    label = models.CharField(_("热点"), max_length=120)
    keywords = models.JSONField(_("关键词"), default=list, blank=True)
    title = models.CharField(_("代表性标题"), max_length=200, blank=True)
    representative_case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="+", verbose_name=_("代表诉求"))  # fmt: skip
    signature = models.JSONField(default=dict, blank=True)
    size = models.PositiveIntegerField(_("诉求数"), default=0)
    previous = models.PositiveIntegerField(_("上期诉求数"), default=0)
    people = models.PositiveIntegerField(_("人数"), default=0)
    supports = models.PositiveIntegerField(_("附议数"), default=0)
    regions = models.PositiveIntegerField(_("涉及区域数"), default=0)
    growth = models.FloatField(_("增长"), default=0)
    heat = models.FloatField(_("热度"), default=0)
    rank = models.PositiveIntegerField(_("排名"), null=True, blank=True)
    trend = models.CharField(_("走势"), max_length=8, choices=Trend.choices, default=Trend.NEW)
    is_active = models.BooleanField(_("当前热点"), default=True)
    first_seen_at = models.DateTimeField(_("首次发现"))
    last_seen_at = models.DateTimeField(_("最近发现"))
    window_start = models.DateTimeField(_("窗口开始"), null=True, blank=True)
    window_end = models.DateTimeField(_("窗口结束"), null=True, blank=True)
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("责任部门"))  # fmt: skip
    assigned_at = models.DateTimeField(_("交办时间"), null=True, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # fmt: skip
    followers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="followed_topics",
                                       verbose_name=_("关注人"))  # fmt: skip
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["rank", "-heat"]
        verbose_name = _("热点")
        verbose_name_plural = _("热点")
        indexes = [
            models.Index(fields=["is_active", "rank"], name="topic_active_rank"),
            models.Index(fields=["department", "is_active"], name="topic_dept_active"),
        ]

    def __str__(self) -> str:
        return self.label


class TopicMember(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="members")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    is_current = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("热点诉求")
        verbose_name_plural = _("热点诉求")
        constraints = [models.UniqueConstraint(fields=["topic", "case"], name="topic_member_unique")]
        indexes = [models.Index(fields=["case"], name="topic_member_case")]

    def __str__(self) -> str:
        return f"{self.topic_id}:{self.case_id}"


class TopicSnapshot(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="snapshots")
    run = models.ForeignKey(TopicRun, on_delete=models.CASCADE, related_name="snapshots")
    size = models.PositiveIntegerField(default=0)
    heat = models.FloatField(default=0)
    rank = models.PositiveIntegerField(null=True, blank=True)
    trend = models.CharField(max_length=8, choices=Topic.Trend.choices, default=Topic.Trend.NEW)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["taken_at"]
        verbose_name = _("热点历史")
        verbose_name_plural = _("热点历史")
        indexes = [models.Index(fields=["topic", "taken_at"], name="topic_snapshot_topic_time")]

    def __str__(self) -> str:
        return f"{self.topic_id} {self.taken_at:%Y-%m-%d %H:%M}"


class TopicEvent(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("动作"), max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")  # fmt: skip
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("热点记录")
        verbose_name_plural = _("热点记录")

    def __str__(self) -> str:
        return f"{self.topic_id} {self.action}"


class Alert(models.Model):
    """An early warning (预警): a surge, a risk signal, or both, with the appeals behind it."""

    class Level(models.TextChoices):
        RED = "red", _("红色")
        ORANGE = "orange", _("橙色")
        YELLOW = "yellow", _("黄色")

    class Source(models.TextChoices):
        TOPIC = "topic", _("热点")
        PLACE = "place", _("地点")
        CATEGORY = "category", _("分类")
        REGION = "region", _("区域")
        RISK = "risk", _("风险信号")

    class State(models.TextChoices):
        OPEN = "open", _("待处置")
        ACKNOWLEDGED = "acknowledged", _("已签收")
        CLOSED = "closed", _("已关闭")

    level = models.CharField(_("预警级别"), max_length=8, choices=Level.choices)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    key = models.CharField(max_length=120)
    label = models.CharField(_("预警"), max_length=200)
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"))
    count = models.PositiveIntegerField(_("件数"), default=0)
    baseline = models.FloatField(_("基线"), default=0)
    threshold = models.PositiveIntegerField(_("阈值"), default=0)
    ratio = models.FloatField(_("倍数"), default=0)
    p_value = models.FloatField(_("p 值"), null=True, blank=True)
    risk_score = models.PositiveSmallIntegerField(_("风险分"), default=0)
    reasons = models.JSONField(_("依据"), default=list, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.OPEN)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    category = models.ForeignKey(
        "routing.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    region = models.ForeignKey(
        "accounts.Region", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    place = models.ForeignKey(
        "routing.Place", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("责任部门"))  # fmt: skip
    fingerprint = models.CharField(max_length=160)
    created_at = models.DateTimeField(_("发现时间"))
    updated_at = models.DateTimeField(_("更新时间"))
    acknowledged_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")  # fmt: skip
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")  # fmt: skip
    close_note = models.TextField(_("处置说明"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], condition=~models.Q(state="closed"),
                                    name="alert_fingerprint_open_unique"),
            models.CheckConstraint(condition=models.Q(level__in=["red", "orange", "yellow"]), name="alert_level_valid"),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["state", "level"], name="alert_state_level"),
            models.Index(fields=["department", "state"], name="alert_dept_state"),
            models.Index(fields=["created_at"], name="alert_created"),
        ]

    def __str__(self) -> str:
        return self.label


class AlertCase(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="alert_cases")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("预警诉求")
        verbose_name_plural = _("预警诉求")
        constraints = [models.UniqueConstraint(fields=["alert", "case"], name="alert_case_unique")]
        indexes = [models.Index(fields=["case"], name="alert_case_case")]

    def __str__(self) -> str:
        return f"{self.alert_id}:{self.case_id}"


class AlertEvent(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("动作"), max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")  # fmt: skip
    actor_role = models.CharField(_("身份"), max_length=16, blank=True)
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("预警记录")
        verbose_name_plural = _("预警记录")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action}"


class ReplyQuality(models.Model):
    reply = models.OneToOneField(
        "cases.Reply", on_delete=models.CASCADE, primary_key=True, related_name="quality"
    )
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+", db_index=False)
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)  # fmt: skip
    score = models.PositiveSmallIntegerField(_("答复质量分"))
    parts = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    version = models.PositiveSmallIntegerField(default=1)
    computed_at = models.DateTimeField(_("评估时间"))

    class Meta:
        verbose_name = _("答复质量")
        verbose_name_plural = _("答复质量")
        indexes = [models.Index(fields=["department", "computed_at"], name="reply_quality_dept_time")]

    def __str__(self) -> str:
        return f"{self.reply_id}: {self.score}"


class Report(models.Model):
    class Kind(models.TextChoices):
        WEEKLY = "weekly", _("周报")
        MONTHLY = "monthly", _("月报")

    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices)
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    generated_at = models.DateTimeField(_("生成时间"))
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("生成人"))  # fmt: skip
    pdf = models.FileField(upload_to="reports/", blank=True)
    xlsx = models.FileField(upload_to="reports/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-period_start", "kind"]
        verbose_name = _("分析报告")
        verbose_name_plural = _("分析报告")
        constraints = [
            models.UniqueConstraint(fields=["kind", "period_start"], name="report_kind_period_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start}"
