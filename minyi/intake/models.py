from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TrackingSequence(models.Model):
    """Per-day counter behind tracking numbers (MY + yyyymmdd + 5 digits)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("编号序列")
        verbose_name_plural = _("编号序列")

    def __str__(self) -> str:
        return f"{self.day} {self.last}"


class IdempotencyRecord(models.Model):
    """The first response to a public submission, replayed to repeats with the same Idempotency-Key.

    It holds the query code in its response for 24 hours and no longer: expired rows are purged
    (`minyi intake_purge_idempotency`, and on every lookup of an expired key).
    """

    key = models.CharField(max_length=200, unique=True)
    fingerprint = models.CharField(max_length=64)
    case_id = models.BigIntegerField(null=True)
    response_status = models.PositiveSmallIntegerField(default=201)
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("幂等记录")
        verbose_name_plural = _("幂等记录")

    def __str__(self) -> str:
        return self.key


# ---------------------------------------------------------------------------------------------- triage


class TriageState(models.TextChoices):
    """How far a person has looked at one part of a triage."""

    SUGGESTED = "suggested", _("待确认")
    NEEDS_PERSON = "needs_person", _("需人工判断")
    ACCEPTED = "accepted", _("已确认")
    CORRECTED = "corrected", _("已更正")
    STAFF = "staff", _("人工填写")
    HISTORICAL = "historical", _("历史数据")
    NONE = "none", _("无")


#: States in which a person decided (what train-classifier --from-cases learns from).
HUMAN_STATES = frozenset(
    {TriageState.ACCEPTED, TriageState.CORRECTED, TriageState.STAFF, TriageState.HISTORICAL}
)


class Triage(models.Model):
    """What minyi understood of a case on arrival: text, category, place, department, personal data, duplicates,
    risk. Written by minyi.intake.triage; each part is then accepted or corrected by staff (a CaseEvent each)."""

    class RiskLevel(models.TextChoices):
        NONE = "none", _("无")
        LOW = "low", _("低")
        MEDIUM = "medium", _("中")
        HIGH = "high", _("高")

    class DepartmentSource(models.TextChoices):
        RULE = "rule", _("派单规则")
        HISTORY = "history", _("历史办理")
        STAFF = "staff", _("人工指定")
        NONE = "none", _("无")

    case = models.OneToOneField(
        "cases.Case",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="triage",
        verbose_name=_("诉求"),
    )
    normalized_text = models.TextField(_("规范化文本"), blank=True)
    tokens = models.TextField(_("分词"), blank=True, help_text=_("以空格分隔"))

    category = models.ForeignKey(
        "routing.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("建议分类"),
        db_index=False,
    )  # fmt: skip
    category_confidence = models.FloatField(_("置信度"), null=True, blank=True)
    category_top = models.JSONField(_("候选分类"), default=list, blank=True)
    category_state = models.CharField(
        _("分类状态"), max_length=16, choices=TriageState.choices, default=TriageState.SUGGESTED
    )
    classifier = models.ForeignKey(
        "intake.ClassifierVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("模型版本"),
        db_index=False,
    )  # fmt: skip

    region = models.ForeignKey(
        "accounts.Region", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("识别区域"),
        db_index=False,
    )  # fmt: skip
    place = models.ForeignKey(
        "routing.Place", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("识别地点"),
        db_index=False,
    )  # fmt: skip
    place_matches = models.JSONField(_("地名匹配"), default=list, blank=True)
    region_state = models.CharField(
        _("区域状态"), max_length=16, choices=TriageState.choices, default=TriageState.SUGGESTED
    )

    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("建议部门"),
        db_index=False,
    )  # fmt: skip
    department_source = models.CharField(
        _("建议依据"), max_length=10, choices=DepartmentSource.choices, default=DepartmentSource.NONE
    )
    department_state = models.CharField(
        _("部门状态"), max_length=16, choices=TriageState.choices, default=TriageState.SUGGESTED
    )

    pii_spans = models.JSONField(
        _("个人信息位置"), default=dict, blank=True, help_text=_("{字段: [[类型, 起, 止], ...]}，不存原文")
    )
    pii_state = models.CharField(
        _("个人信息状态"), max_length=16, choices=TriageState.choices, default=TriageState.SUGGESTED
    )

    duplicates_count = models.PositiveSmallIntegerField(_("疑似重复数"), default=0)
    duplicates_state = models.CharField(
        _("重复状态"), max_length=16, choices=TriageState.choices, default=TriageState.SUGGESTED
    )

    risk_score = models.PositiveSmallIntegerField(_("风险分"), default=0)
    risk_level = models.CharField(
        _("风险等级"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.NONE
    )
    risk_reasons = models.JSONField(_("风险依据"), default=list, blank=True)
    risk_state = models.CharField(
        _("风险状态"), max_length=16, choices=TriageState.choices, default=TriageState.SUGGESTED
    )

    triaged_at = models.DateTimeField(_("研判时间"))
    elapsed_ms = models.FloatField(_("耗时（毫秒）"), default=0)

    class Meta:
        verbose_name = _("智能研判")
        verbose_name_plural = _("智能研判")
        indexes = [
            models.Index(fields=["risk_level"], name="triage_risk_level"),
            models.Index(fields=["category_state"], name="triage_category_state"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}"


class DuplicateCandidate(models.Model):
    """A case that looks like an earlier one (near-duplicate text), found by triage; the dispatcher merges or
    dismisses it."""

    class State(models.TextChoices):
        OPEN = "open", _("待处理")
        MERGED = "merged", _("已并案")
        DISMISSED = "dismissed", _("非重复")

    # indexed by duplicate_candidate_unique (case first); nothing looks candidates up by the earlier case
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="duplicate_candidates", db_index=False
    )
    candidate = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+", db_index=False)
    similarity = models.FloatField(_("相似度"))
    same_contact = models.BooleanField(_("同一联系人"), default=False)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.OPEN)

    class Meta:
        ordering = ["-similarity", "candidate_id"]
        verbose_name = _("疑似重复")
        verbose_name_plural = _("疑似重复")
        constraints = [
            models.UniqueConstraint(fields=["case", "candidate"], name="duplicate_candidate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} ~ {self.candidate_id} ({self.similarity:.2f})"


class DuplicateIndexMeta(models.Model):
    """The settings the shared duplicate index was built with (one row per index name)."""

    name = models.CharField(max_length=40, primary_key=True)
    meta = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("重复索引设置")
        verbose_name_plural = _("重复索引设置")

    def __str__(self) -> str:
        return self.name


class DuplicateSignature(models.Model):
    """One case's MinHash signature in the shared duplicate index (minyi.intake.dedupe_storage)."""

    case_id = models.BigIntegerField(primary_key=True)
    signature = models.BinaryField()
    keys = models.BinaryField(help_text="the case's bucket keys (little-endian int64), to remove it again")
    bucketed = models.BooleanField(
        default=True, help_text="False while a bulk import has put off writing the case's bucket rows"
    )

    class Meta:
        verbose_name = _("重复索引签名")
        verbose_name_plural = _("重复索引签名")
        indexes = [
            models.Index(
                fields=["case_id"], condition=models.Q(bucketed=False), name="dup_signature_unbucketed"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id}"


class DuplicateBucket(models.Model):
    """One LSH band bucket membership of a case: (bucket key, case). The composite key is the only index."""

    pk = models.CompositePrimaryKey("key", "case_id")
    key = models.BigIntegerField()
    case_id = models.BigIntegerField()

    class Meta:
        verbose_name = _("重复索引分桶")
        verbose_name_plural = _("重复索引分桶")

    def __str__(self) -> str:
        return f"{self.key}:{self.case_id}"


# ---------------------------------------------------------------------------------------------- classifier


class ClassifierVersion(models.Model):
    """A trained category classifier, stored in the database so that every worker loads the same one.

    At most one version is active. A version becomes active only when it beats the active one on a held-out
    slice of recent cases (minyi.intake.learning); every switch is a ClassifierSwitch row.
    """

    created_at = models.DateTimeField(_("训练时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("训练人"),
    )  # fmt: skip
    model_file = models.BinaryField(_("模型文件"), editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    size = models.PositiveIntegerField(_("大小（字节）"), default=0)
    labels = models.JSONField(_("分类编码"), default=list)
    trained_cases = models.PositiveIntegerField(_("训练样本数"), default=0)
    training = models.JSONField(_("训练数据"), default=dict, blank=True, help_text=_("时间范围、参数"))
    holdout = models.JSONField(_("留出集"), default=dict, blank=True)
    metrics = models.JSONField(_("留出集质量"), default=dict, blank=True)
    baseline = models.JSONField(
        _("原模型在同一留出集上的质量"), default=dict, blank=True, help_text=_("训练时的在用模型")
    )
    is_active = models.BooleanField(_("在用"), default=False)
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("启用人"),
    )  # fmt: skip
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("分类模型")
        verbose_name_plural = _("分类模型")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_classifier"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.created_at:%Y-%m-%d %H:%M}"


class ClassifierSwitch(models.Model):
    """An append-only record of one change of the active classifier: who, when, why, on what evidence."""

    version = models.ForeignKey(ClassifierVersion, on_delete=models.PROTECT, related_name="switches")
    previous = models.ForeignKey(
        ClassifierVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(_("操作人"), max_length=150, blank=True)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    evidence = models.JSONField(_("依据"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("模型切换记录")
        verbose_name_plural = _("模型切换记录")

    def __str__(self) -> str:
        return f"{self.previous_id} → {self.version_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("classifier switches are append-only")
        super().save(*args, **kwargs)


# ---------------------------------------------------------------------------------------------- bulk import


def import_upload_path(instance: ImportJob, filename: str) -> str:
    return f"imports/{instance.file_sha256[:2]}/{instance.file_sha256}{instance.file_extension}"


class ImportJob(models.Model):
    """One run of `minyi import` (or of the staff import page) over one file. Resumable: `checkpoint_row` is the
    last row whose batch committed; a rerun of the same file skips to it, and row identities (ImportRow) make
    every row go in once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待开始")
        RUNNING = "running", _("导入中")
        FINISHED = "finished", _("已完成")
        FAILED = "failed", _("失败")

    source = models.CharField(_("来源"), max_length=80)
    file_name = models.CharField(_("文件名"), max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    file_size = models.BigIntegerField(_("文件大小"), default=0)
    file_extension = models.CharField(max_length=8, blank=True)
    file = models.FileField(upload_to=import_upload_path, blank=True)
    options = models.JSONField(_("映射与选项"), default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(_("总行数（估计）"), null=True, blank=True)
    checkpoint_row = models.PositiveIntegerField(_("已提交至行"), default=0)
    rows_read = models.PositiveIntegerField(_("已读行数"), default=0)
    imported = models.PositiveIntegerField(_("已导入"), default=0)
    already_present = models.PositiveIntegerField(_("已存在"), default=0)
    errors = models.PositiveIntegerField(_("错误行"), default=0)
    message = models.TextField(_("信息"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("发起人"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("创建时间"))
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"


class ImportRow(models.Model):
    """The identity of one imported source row: (source, row key) appears once, so a rerun adds nothing."""

    source = models.CharField(max_length=80)
    row_key = models.CharField(max_length=100)
    row_hash = models.CharField(max_length=40, blank=True, help_text="a hash of the row's cells")
    # no indexes but the identity: rows are looked up by (source, row_key) only
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+", db_index=False)
    job = models.ForeignKey(ImportJob, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    row_number = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("导入行")
        verbose_name_plural = _("导入行")
        constraints = [models.UniqueConstraint(fields=["source", "row_key"], name="import_row_unique")]

    def __str__(self) -> str:
        return f"{self.source}:{self.row_key}"


class ImportIssue(models.Model):
    """A row that was not imported, and why (the job's import-errors.csv)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    row_number = models.PositiveIntegerField(_("行号"))
    column = models.CharField(_("列"), max_length=100, blank=True)
    reason = models.TextField(_("原因"))

    class Meta:
        ordering = ["row_number", "id"]
        verbose_name = _("导入错误")
        verbose_name_plural = _("导入错误")
        constraints = [models.UniqueConstraint(fields=["job", "row_number"], name="import_issue_unique")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number}"


class Open311Client(models.Model):
    """A civic app allowed to POST service requests through Open311 GeoReport v2 (`api_key`). Managed in the
    admin; the key is shown once when the client is created and stored only as a SHA-256 hash."""

    name = models.CharField(_("名称"), max_length=100)
    contact = models.CharField(_("联系人"), max_length=200, blank=True)
    key_prefix = models.CharField(_("密钥前缀"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 接入应用")
        verbose_name_plural = _("Open311 接入应用")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"


class Open311Request(models.Model):
    """What an Open311 POST carried beyond the case itself: the token answered at once, the service code, the
    attributes, the media URL and the client's device and account ids. The case is an ordinary case."""

    case = models.OneToOneField(
        "cases.Case", on_delete=models.CASCADE, primary_key=True, related_name="open311"
    )
    token = models.CharField(max_length=40, unique=True)
    client = models.ForeignKey(Open311Client, null=True, on_delete=models.SET_NULL, related_name="requests")
    service_code = models.CharField(max_length=60)
    attributes = models.JSONField(default=dict, blank=True)
    media_url = models.URLField(max_length=1000, blank=True)
    device_id = models.CharField(max_length=100, blank=True)
    account_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("Open311 请求")
        verbose_name_plural = _("Open311 请求")

    def __str__(self) -> str:
        return self.token
