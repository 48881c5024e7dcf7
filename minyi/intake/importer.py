"""Bulk import of hotline and petition history: `minyi import FILE… [--mapping mapping.toml] [--dry-run]`.

A file (CSV in any encoding of the text engine, or XLSX) goes in as finished cases with their original numbers,
times, categories, departments and replies, triaged in batches. The import is:

- idempotent: every source row has an identity (ImportRow: the source system's name and the row's own number,
  or, without a number column, a hash of its cells and how many identical rows came before it), so a second run
  adds nothing; a row whose number was imported before with other content is reported, not imported again;
- resumable: each batch commits in one transaction together with the job's checkpoint (ImportJob), so a run killed
  at any moment, even by `kill -9`, is finished by a rerun, which skips to the checkpoint; no row is lost, none
  doubled;
- forgiving: a bad row (undecodable bytes, no text, an unparseable date, an unknown status) is skipped and reported
  with its file, row and reason (ImportIssue, and import-errors.csv), and the good rows go in; a file that cannot
  be read as a table, or has no text column, is refused before anything is written.

Categories and departments that the history names and minyi does not know are created (the organisation's own
categories are what the classifier then learns), unless `create_missing` is off, in which case such rows are
reported.
"""

from __future__ import annotations

import contextlib
import csv
import getpass
import hashlib
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.accounts.models import Department, Region
from minyi.cases import policies
from minyi.cases.models import Evaluation
from minyi.cases.services import HistoryCase, case_annotate, cases_import_history
from minyi.cases.workflow import CaseStatus
from minyi.core.bulk import bulk_insert
from minyi.core.choices import Kind, Priority
from minyi.intake import import_worker
from minyi.intake.codes import next_tracking_numbers
from minyi.intake.dedupe_storage import DatabaseStorage
from minyi.intake.import_index import MirroredStorage
from minyi.intake.models import ImportIssue, ImportJob, ImportRow
from minyi.intake.triage import CaseFacts, contact_keys, record, routing_history_refresh
from minyi.routing.models import Category
from minyi.text.dates import DateParseError, parse_datetime
from minyi.text.dedupe import DuplicateIndex
from minyi.text.normalize import strip_invisible
from minyi.text.records import FieldMap, Mapping, record_of, resolve_fields
from minyi.text.tabular import BadRow, TableError, count_rows, read_table

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"
DEFAULT_BATCH = 500
#: Longest content an imported case may have (history can be longer than a web submission).
MAX_IMPORT_CONTENT = 100_000
#: How long a running job's heartbeat stays fresh: an older one belongs to a process that died.
HEARTBEAT_STALE = 120

KIND_VALUES = {
    **{k: k for k in Kind.values},
    **{str(label): value for value, label in Kind.choices},
    "举报": Kind.COMPLAINT,
    "投诉举报": Kind.COMPLAINT,
    "求决": Kind.HELP,
    "求助求决": Kind.HELP,
    "意见": Kind.SUGGESTION,
    "意见建议": Kind.SUGGESTION,
    "感谢": Kind.PRAISE,
    "表扬感谢": Kind.PRAISE,
    "来信": Kind.PETITION,
    "来访": Kind.PETITION,
}
STATUS_VALUES = {
    **{s: s for s in ("closed", "replied", "declined", "referred")},
    **dict.fromkeys(
        ("已办结", "办结", "已完成", "完成", "已结案", "结案", "已关闭", "已回复归档"), CaseStatus.CLOSED
    ),
    **dict.fromkeys(("已答复", "答复", "已回复", "待评价", "已反馈"), CaseStatus.REPLIED),
    **dict.fromkeys(("不予受理", "不受理", "已退回不予受理"), CaseStatus.DECLINED),
    **dict.fromkeys(("已转送", "转送", "转办外单位", "已转办"), CaseStatus.REFERRED),
}
RATING_VALUES = {
    **{r: r for r in Evaluation.Rating.values},
    "满意": Evaluation.Rating.SATISFIED,
    "非常满意": Evaluation.Rating.SATISFIED,
    "基本满意": Evaluation.Rating.BASICALLY,
    "比较满意": Evaluation.Rating.BASICALLY,
    "一般": Evaluation.Rating.BASICALLY,
    "不满意": Evaluation.Rating.DISSATISFIED,
    "非常不满意": Evaluation.Rating.DISSATISFIED,
    **dict.fromkeys(("", "未评价", "无", "-", "—", "未回访", "无评价"), ""),
}
RESOLVED_VALUES = {
    **dict.fromkeys(("是", "已解决", "解决", "yes", "true", "1", "y"), True),
    **dict.fromkeys(("否", "未解决", "no", "false", "0", "n"), False),
}
PRIORITY_VALUES = {
    **{p: p for p in Priority.values},
    **{str(label): value for value, label in Priority.choices},
    "特急": Priority.URGENT,
    "加急": Priority.URGENT,
    "普通": Priority.ORDINARY,
}
_SENTENCE_END = re.compile(r"[。！？!?\n]")

#: The fields of a row, as the staff import page names them (minyi.text.records.FIELDS has the column names).
FIELD_LABELS = {
    "external_id": gettext_lazy("原编号"),
    "title": gettext_lazy("标题"),
    "content": gettext_lazy("内容"),
    "time": gettext_lazy("提交时间"),
    "category": gettext_lazy("分类"),
    "subcategory": gettext_lazy("二级分类"),
    "department": gettext_lazy("承办部门"),
    "region": gettext_lazy("区域"),
    "address": gettext_lazy("地址"),
    "kind": gettext_lazy("诉求类型"),
    "channel": gettext_lazy("渠道"),
    "status": gettext_lazy("状态"),
    "priority": gettext_lazy("紧急程度"),
    "reply": gettext_lazy("答复内容"),
    "reply_time": gettext_lazy("答复时间"),
    "closed_time": gettext_lazy("办结时间"),
    "contact_name": gettext_lazy("姓名"),
    "contact_phone": gettext_lazy("联系电话"),
    "contact_email": gettext_lazy("电子邮件"),
    "user": gettext_lazy("原系统用户"),
    "satisfaction": gettext_lazy("满意度"),
    "resolved": gettext_lazy("是否解决"),
    "supports": gettext_lazy("点赞数"),
    "opposes": gettext_lazy("反对数"),
}


#: Fields kept in the import event's data, as the history gave them: the original channel (the case's own channel
#: is "import"), and the board's up- and down-votes.
EXTRA_FIELDS = ("channel", "supports", "opposes")


class ImportRefused(ValueError):
    """The whole file is refused (unreadable, no text column, another run of it in progress)."""


@dataclass
class ImportOptions:
    source: str | None = None
    mapping: Mapping | None = None
    batch_size: int = DEFAULT_BATCH
    dry_run: bool = False
    create_missing: bool = True
    actor: Any = None  # the User importing, or None (the system / the server's operator)
    actor_label: str = ""
    workers: int = 0  # analysis worker processes (0: inline; the command uses 1)


@dataclass
class ImportReport:
    path: str
    source: str
    job_id: int | None = None
    total_rows: int | None = None
    rows_read: int = 0
    imported: int = 0
    already_present: int = 0
    errors: int = 0
    issues: list[tuple[int, str, str]] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    unused_columns: tuple[str, ...] = ()
    created_categories: list[str] = field(default_factory=list)
    created_departments: list[str] = field(default_factory=list)
    without_time: int = 0
    repeats: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    already_imported: bool = False
    dry_run: bool = False
    stages: dict[str, float] = field(default_factory=dict)  # seconds spent per stage of the batches


Progress = Callable[[int, int | None, "ImportReport"], None]


# ---------------------------------------------------------------------------------------------- row parsing


class RowProblem(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def _clean(value: str) -> str:
    # NUL cannot be stored by PostgreSQL and is never meaningful; nothing else of the original text is altered.
    return value.replace("\x00", "") if value else ""


def _title_from(content: str) -> str:
    text = " ".join(strip_invisible(content).split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip() or text
    return first[:40] + ("…" if len(first) > 40 else "")


class _Resolver:
    """Names of the history → our categories, departments and regions (cached; creating what is missing)."""

    def __init__(self, *, create_missing: bool, dry_run: bool) -> None:
        self.create_missing = create_missing
        self.dry_run = dry_run
        self.categories: dict[str, int | None] = {}
        self.subcategories: dict[tuple[int, str], int | None] = {}
        self.departments: dict[str, int | None] = {}
        self.regions: dict[str, int | None] = {}
        self.created_categories: list[str] = []
        self.created_departments: list[str] = []
        self._pending_categories: set[str] = set()
        self._pending_departments: set[str] = set()

    def reset(self) -> None:
        """Forget what a rolled-back batch created."""
        self.__init__(create_missing=self.create_missing, dry_run=self.dry_run)

    @staticmethod
    def _code(prefix: str, name: str, model, limit: int) -> str:
        from pypinyin import lazy_pinyin

        stem = slugify("-".join(lazy_pinyin(name)))[: limit - 12] or prefix
        digest = hashlib.sha1(name.encode()).hexdigest()[:6]
        code = f"{stem}-{digest}"
        n = 1
        while model.objects.filter(code=code).exists():
            n += 1
            code = f"{stem}-{digest}{n}"
        return code

    def _named(
        self, model, name: str, column: str, *, cache: dict, pending: set, created: list, what: str, code
    ):
        """The id of the `model` row whose code or name is `name` (cached); created when missing and allowed
        (a dry run only counts it); RowProblem when missing and not created."""
        if not name:
            return None
        if name in cache:
            found = cache[name]
        else:
            found = (
                model.objects.filter(code=name).values_list("pk", flat=True).first()
                or model.objects.filter(name=name)
                .order_by("depth", "path")
                .values_list("pk", flat=True)
                .first()
            )
            if found is None and self.create_missing and len(name) <= 100:
                created.append(name)
                if self.dry_run:
                    pending.add(name)
                else:
                    found = model.objects.create(name=name, code=code(name)).pk
            cache[name] = found
        if found is None and name not in pending:
            raise RowProblem(column, _("%(what)s“%(name)s”不存在。") % {"what": what, "name": name[:40]})
        return found

    def category(self, name: str, column: str) -> int | None:
        return self._named(
            Category, name, column, cache=self.categories, pending=self._pending_categories,
            created=self.created_categories, what=_("分类"), code=lambda n: self._code("cat", n, Category, 60),
        )  # fmt: skip

    def subcategory(self, parent_id: int | None, name: str) -> int | None:
        if not name or parent_id is None:
            return parent_id
        key = (parent_id, name)
        if key not in self.subcategories:
            found = (
                Category.objects.filter(parent_id=parent_id, name=name).values_list("pk", flat=True).first()
            )
            if found is None and self.create_missing and not self.dry_run and len(name) <= 100:
                parent = Category.objects.get(pk=parent_id)
                found = Category.objects.create(
                    name=name, parent=parent, code=self._code("cat", f"{parent.name}-{name}", Category, 60)
                ).pk
                self.created_categories.append(f"{parent.name} / {name}")
            self.subcategories[key] = found or parent_id
        return self.subcategories[key]

    def department(self, name: str, column: str) -> int | None:
        return self._named(
            Department, name, column, cache=self.departments, pending=self._pending_departments,
            created=self.created_departments, what=_("部门"),
            code=lambda n: self._code("dept", n, Department, 40),
        )  # fmt: skip

    def region(self, name: str) -> int | None:
        if not name:
            return None
        if name not in self.regions:
            self.regions[name] = (
                Region.objects.filter(code=name).values_list("pk", flat=True).first()
                or Region.objects.filter(name=name).order_by("depth").values_list("pk", flat=True).first()
            )
        return self.regions[name]


@dataclass
class _Row:
    number: int
    key: str
    digest: str
    item: HistoryCase | None = None
    historical: dict[str, bool] = field(default_factory=dict)
    problem: RowProblem | None = None
    without_time: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # what the history says that has no field of its own


def _parse_time(value: str, column: str, mapping: Mapping | None, *, what: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = parse_datetime(
            value,
            formats=mapping.date_formats if mapping else (),
            day_first=bool(mapping and mapping.day_first),
        )
    except DateParseError as exc:
        raise RowProblem(
            column,
            _("%(what)s“%(value)s”无法识别（%(reason)s）。")
            % {"what": what, "value": value[:40], "reason": exc},
        ) from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class _RowReader:
    """Turns the cells of one row into a HistoryCase, or a RowProblem naming the column and the reason."""

    def __init__(self, fields: FieldMap, mapping: Mapping | None, resolver: _Resolver, now: datetime) -> None:
        self.fields = fields
        self.mapping = mapping
        self.resolver = resolver
        self.now = now
        self.columns = {
            name: "、".join(fields.header[i] for i in idx) for name, idx in fields.indices.items()
        }
        self.seen: dict[
            int, int
        ] = {}  # hash of the cells -> how many such rows so far (rows without numbers)

    def column(self, name: str) -> str:
        return self.columns.get(name, name)

    def identity(self, number: int, values: list[str], rec: dict[str, str]) -> tuple[str, str]:
        digest = hashlib.sha1("\x1f".join(values).encode("utf-8", "surrogatepass")).hexdigest()
        external = rec.get("external_id", "")
        if external:
            return f"id:{external[:90]}", digest
        short = int(digest[:15], 16)
        occurrence = self.seen.get(short, 0) + 1
        self.seen[short] = occurrence
        return f"h:{digest[:32]}:{occurrence}", digest

    def read(self, number: int, values: list[str]) -> _Row:
        rec = record_of(values, self.fields, self.mapping)
        key, digest = self.identity(number, values, rec)
        row = _Row(number=number, key=key, digest=digest)
        try:
            row.item, row.historical, row.without_time = self._item(rec)
        except RowProblem as problem:
            row.problem = problem
        row.extra = {name: rec[name][:100] for name in EXTRA_FIELDS if rec.get(name)}
        return row

    def _item(self, rec: dict[str, str]) -> tuple[HistoryCase, dict[str, bool], bool]:
        title = " ".join(strip_invisible(_clean(rec.get("title", ""))).split())
        content = _clean(rec.get("content", ""))
        if not strip_invisible(content).strip():
            content = title
        if not content.strip():
            raise RowProblem(self.column("content"), _("没有诉求内容（标题和内容都为空）。"))
        if len(content) > MAX_IMPORT_CONTENT:
            raise RowProblem(
                self.column("content"), _("内容超过 %(n)s 字。") % {"n": f"{MAX_IMPORT_CONTENT:,}"}
            )
        if not title:
            title = _title_from(content)
        created = _parse_time(rec.get("time", ""), self.column("time"), self.mapping, what=_("时间"))
        without_time = created is None
        created = created or self.now
        if created > self.now:
            raise RowProblem(
                self.column("time"), _("时间“%(value)s”晚于现在。") % {"value": rec.get("time", "")[:40]}
            )
        kind = KIND_VALUES.get(rec.get("kind", "")) if rec.get("kind") else Kind.COMPLAINT
        if kind is None:
            raise RowProblem(
                self.column("kind"), _("诉求类型“%(value)s”无法识别。") % {"value": rec["kind"][:40]}
            )
        priority = PRIORITY_VALUES.get(rec.get("priority", "")) if rec.get("priority") else Priority.ORDINARY
        if priority is None:
            raise RowProblem(
                self.column("priority"), _("紧急程度“%(value)s”无法识别。") % {"value": rec["priority"][:40]}
            )
        reply = _clean(rec.get("reply", "")).strip()
        replied_at = _parse_time(
            rec.get("reply_time", ""), self.column("reply_time"), self.mapping, what=_("答复时间")
        )
        closed_at = _parse_time(
            rec.get("closed_time", ""), self.column("closed_time"), self.mapping, what=_("办结时间")
        )
        if reply and replied_at is None:
            replied_at = closed_at or created
        status_value = rec.get("status", "")
        if status_value:
            status = STATUS_VALUES.get(status_value) or STATUS_VALUES.get(status_value.lower())
            if status is None:
                raise RowProblem(
                    self.column("status"),
                    _("状态“%(value)s”不是已办结、已答复、不予受理或已转送，历史件只能以这些状态导入。")
                    % {"value": status_value[:40]},
                )
        else:
            status = CaseStatus.CLOSED
        if status == CaseStatus.REPLIED and not reply:
            raise RowProblem(self.column("status"), _("状态为已答复，但没有答复内容。"))
        rating = RATING_VALUES.get(rec.get("satisfaction", ""))
        if rating is None:
            raise RowProblem(
                self.column("satisfaction"),
                _("评价“%(value)s”无法识别。") % {"value": rec["satisfaction"][:40]},
            )
        resolved = RESOLVED_VALUES.get(rec.get("resolved", "").lower()) if rec.get("resolved") else None
        category_id = self.resolver.category(rec.get("category", ""), self.column("category"))
        category_id = self.resolver.subcategory(category_id, rec.get("subcategory", ""))
        department_id = self.resolver.department(rec.get("department", ""), self.column("department"))
        region_id = self.resolver.region(rec.get("region", ""))
        phone = rec.get("contact_phone", "")[:32]
        email = rec.get("contact_email", "")
        contact = {
            "name": strip_invisible(rec.get("contact_name", "")).strip()[:64],
            "phone": phone,
            "email": email[:254] if "@" in email and " " not in email.strip() else "",
            "external_user": rec.get("user", "")[:64],
        }
        item = HistoryCase(
            tracking_number="",
            external_number=rec.get("external_id", "")[:64],
            created_at=created,
            title=title[:200],
            content=content,
            status=status,
            kind=kind,
            priority=priority,
            category_id=category_id,
            region_id=region_id,
            department_id=department_id,
            address=strip_invisible(rec.get("address", "")).strip()[:255],
            contact=contact,
            reply=reply,
            replied_at=replied_at,
            closed_at=closed_at,
            rating=rating if reply else "",
            resolved=resolved,
        )
        historical = {
            "category": category_id is not None,
            "region": region_id is not None,
            "department": department_id is not None,
        }
        return item, historical, without_time


# ---------------------------------------------------------------------------------------------- the job


#: The tables an import fills: their planner statistics are refreshed as they grow (analyze_tables).
IMPORT_TABLES = (
    "cases_case", "cases_casecontact", "cases_caseevent", "cases_reply", "intake_triage", "intake_importrow",
    "intake_duplicatesignature", "intake_duplicatebucket", "intake_duplicatecandidate",
)  # fmt: skip


def analyze_tables() -> None:
    """Refresh PostgreSQL's statistics of the tables an import fills. Without them, after a large import into a
    young database the planner still believes the tables small and scans where it should probe (a duplicate
    lookup went from 1 ms to 3.6 s on a million cases); autovacuum would catch up later, or never where it is off."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in IMPORT_TABLES:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def file_sha256(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _worker() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(worker: dict[str, Any] | None) -> bool:
    """Whether the process that ran a job is still alive (only knowable on the same host)."""
    if not worker or worker.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(worker.get("pid", 0)), 0)
    except (OSError, ValueError):
        return False
    return int(worker["pid"]) != os.getpid()


def _claim_job(
    *,
    source: str,
    sha: str,
    size: int,
    path: str,
    options: ImportOptions,
    job: ImportJob | None,
    now: datetime,
) -> ImportJob:
    """The job of this file: the one given (staff page), an unfinished one to resume, or a new one."""
    with transaction.atomic():
        if job is None:
            job = (
                ImportJob.objects.select_for_update()
                .filter(source=source, file_sha256=sha)
                .exclude(status=ImportJob.Status.FINISHED)
                .order_by("-created_at", "-id")
                .first()
            )
        else:
            job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job is not None and job.status == ImportJob.Status.RUNNING:
            worker = (job.options or {}).get("worker")
            fresh = job.heartbeat_at and (now - job.heartbeat_at).total_seconds() < HEARTBEAT_STALE
            if _alive(worker) or (fresh and worker and worker.get("host") != socket.gethostname()):
                raise ImportRefused(
                    _("该文件正在由另一个导入任务（#%(id)s）导入，请等待其完成。") % {"id": job.pk}
                )
        if job is None:
            job = ImportJob.objects.create(
                source=source,
                file_name=os.path.basename(path)[:255],
                file_sha256=sha,
                file_size=size,
                file_extension=Path(path).suffix.lower()[:8],
                created_by=options.actor if getattr(options.actor, "pk", None) else None,
                created_at=now,
            )
        job.status = ImportJob.Status.RUNNING  # not-a-case-status
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.options = {**(job.options or {}), "worker": _worker()}
        job.save(update_fields=["status", "started_at", "heartbeat_at", "options"])
    return job


def _job_status(job_id: int, status: str, **fields: Any) -> None:
    """Set an import job's status (not a case's: the workflow's rule does not apply)."""
    ImportJob.objects.filter(pk=job_id).update(
        status=status, heartbeat_at=timezone.now(), **fields
    )  # not-a-case-status


def import_file(
    path: str,
    *,
    options: ImportOptions | None = None,
    job: ImportJob | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import one file. Raises TableError / ImportRefused for a file that is refused whole (nothing written)."""
    options = options or ImportOptions()
    mapping = options.mapping
    started = time.perf_counter()
    now = now or timezone.now()
    path = os.fspath(path)
    table = read_table(
        path,
        encoding=mapping.encoding if mapping else None,
        sheet=mapping.sheet if mapping else None,
        on_bad_row="report",
    )
    with table:
        fields = resolve_fields(table.header, mapping, path=path)
        source = (options.source or (mapping.source if mapping else None) or DEFAULT_SOURCE)[:80]
        report = ImportReport(path=path, source=source, dry_run=options.dry_run)
        report.fields = fields.describe()
        report.unused_columns = fields.unused
        with contextlib.suppress(OSError, TableError, ValueError):
            report.total_rows = count_rows(path, encoding=table.encoding)
        sha, size = file_sha256(path)
        if not options.dry_run:
            finished = (
                ImportJob.objects.filter(source=source, file_sha256=sha, status=ImportJob.Status.FINISHED)
                .order_by("-finished_at")
                .first()
            )
            if finished is not None and job is None:
                report.already_imported = True
                report.job_id = finished.pk
                report.already_present = finished.imported + finished.already_present
                report.seconds = time.perf_counter() - started
                return report
            job = _claim_job(source=source, sha=sha, size=size, path=path, options=options, job=job, now=now)
            report.job_id = job.pk
            report.resumed_from = job.checkpoint_row
            report.imported, report.already_present, report.errors = (
                job.imported,
                job.already_present,
                job.errors,
            )
            report.rows_read = job.rows_read
            if report.total_rows is not None and job.total_rows != report.total_rows:
                ImportJob.objects.filter(pk=job.pk).update(total_rows=report.total_rows)
        runner = _Runner(
            job=job,
            fields=fields,
            mapping=mapping,
            options=options,
            report=report,
            now=now,
            progress=progress,
        )
        try:
            runner.run(table.rows)
        except BaseException as exc:
            if job is not None and not isinstance(exc, KeyboardInterrupt | SystemExit):
                _job_status(job.pk, ImportJob.Status.FAILED, message=str(exc)[:2000])
            raise
    if job is not None:
        with runner.stage("index-build"):
            DatabaseStorage().build_deferred()
        with runner.stage("analyze"):
            analyze_tables()
        routing_history_refresh()
        _job_status(job.pk, ImportJob.Status.FINISHED, finished_at=timezone.now())
        report.issues = list(
            ImportIssue.objects.filter(job=job)
            .order_by("row_number")
            .values_list("row_number", "column", "reason")
        )
        report.errors = len(report.issues)
    report.seconds = time.perf_counter() - started
    return report


class _Ticket:
    """The analysis of one batch: a Future of the worker, or work done inline when asked for."""

    def __init__(self, future=None, items=None) -> None:
        self.future = future
        self.items = items

    def result(self) -> dict[int, Any]:
        if self.future is not None:
            return self.future.result()
        return import_worker.analyse_numbered(self.items or [])


class _Analyst:
    """Analyses batches of rows, in a worker process (`workers=1`, the command's default) or inline (0)."""

    def __init__(self, *, workers: int) -> None:
        self.pool = None
        if workers > 0:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: the worker opens its own database connection and loads its own models
            self.pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=import_worker.init
            )

    def __enter__(self) -> _Analyst:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, rows: list[_Row]) -> _Ticket:
        items = [
            (r.number, r.item.title, r.item.content, timezone.localtime(r.item.created_at))
            for r in rows
            if r.item is not None and r.problem is None
        ]
        if self.pool is None:
            return _Ticket(items=items)
        return _Ticket(future=self.pool.submit(import_worker.analyse_numbered, items))


class _Runner:
    def __init__(self, *, job, fields, mapping, options, report, now, progress) -> None:
        self.job = job
        self.options = options
        self.report = report
        self.now = now
        self.progress = progress
        self.resolver = _Resolver(create_missing=options.create_missing, dry_run=options.dry_run)
        self.reader = _RowReader(fields, mapping, self.resolver, now)
        self.checkpoint = job.checkpoint_row if job is not None else 0
        self.batch_size = max(1, int(options.batch_size))
        self.index: DuplicateIndex | None = None
        self.next_analyze = 10_000  # statistics refreshed after 10k, 20k, 40k ... imported rows
        # case id -> contact keys, of the cases this run has seen
        self.contacts: dict[int, frozenset[str]] = {}
        # dry run: hashes of this run's keys, to count repeats within the file
        self.seen_keys: set[int] = set()

    def _index(self) -> DuplicateIndex:
        """The duplicate index of this import: the shared one, mirrored in memory (minyi.intake.import_index)."""
        if self.index is None:
            mirror = MirroredStorage()
            with self.stage("index-load"):
                mirror.load()
            self.index = DuplicateIndex(storage=mirror, threshold=settings.MINYI_DUPLICATE_THRESHOLD)
        return self.index

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage of the batches (the report's `stages`: where an import spends its time)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            stages = self.report.stages
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - started

    def run(self, rows: Iterator[tuple[int, list[str] | BadRow]]) -> None:
        """Read, parse and commit the rows batch by batch. With an analysis worker, the text of batch N+1 is
        analysed in the worker while batch N is written: the two overlap."""
        pending: tuple[list[_Row], _Ticket] | None = None
        with _Analyst(workers=0 if self.options.dry_run else self.options.workers) as analyst:
            for raw in self._batches(rows):
                parsed = self.parse(raw)
                if self.options.dry_run:
                    self.finish(parsed, None)
                    continue
                ticket = analyst.submit(parsed)
                if pending is not None:
                    self.finish(*pending)
                pending = (parsed, ticket)
            if pending is not None:
                self.finish(*pending)

    def _batches(self, rows: Iterator[tuple[int, list[str] | BadRow]]) -> Iterator[list]:
        batch: list[tuple[int, list[str] | BadRow]] = []
        for number, values in rows:
            if number <= self.checkpoint:
                if not isinstance(values, BadRow):
                    self.reader.identity(
                        number, values, record_of(values, self.reader.fields, self.reader.mapping)
                    )
                continue
            batch.append((number, values))
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def parse(self, raw: list[tuple[int, list[str] | BadRow]]) -> list[_Row]:
        rows: list[_Row] = []
        with self.stage("parse"):
            for number, values in raw:
                if isinstance(values, BadRow):
                    rows.append(_Row(number=number, key="", digest="", problem=RowProblem("", values.reason)))
                else:
                    rows.append(self.reader.read(number, values))
        return rows

    def finish(self, rows: list[_Row], ticket: _Ticket | None) -> None:
        if self.options.dry_run:
            self._dry(rows)
        else:
            try:
                self._commit(rows, ticket)
            except BaseException:
                self.resolver.reset()
                raise
        self.report.rows_read += len(rows)
        if self.progress is not None:
            self.progress(len(rows), self.report.total_rows, self.report)

    def _dry(self, rows: list[_Row]) -> None:
        keys = [r.key for r in rows if r.problem is None]
        existing = set(
            ImportRow.objects.filter(source=self.report.source, row_key__in=keys).values_list(
                "row_key", flat=True
            )
        )
        for row in rows:
            if row.problem is not None:
                self.report.errors += 1
                self.report.issues.append((row.number, row.problem.column, row.problem.reason))
            elif row.key in existing or hash(row.key) in self.seen_keys:
                self.report.already_present += 1
            else:
                self.seen_keys.add(hash(row.key))
                self.report.imported += 1
                self.report.without_time += row.without_time
        self.report.created_categories = self.resolver.created_categories
        self.report.created_departments = self.resolver.created_departments

    def _commit(self, rows: list[_Row], ticket: _Ticket) -> None:
        report = self.report
        job = self.job
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # A crash may lose the last batches that reported success; their checkpoint is lost with them, so a
                # rerun imports them again: safe, and the batch commits do not wait for the disk.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            keys = [r.key for r in rows if r.problem is None]
            existing = {
                key: (digest, number)
                for key, digest, number in ImportRow.objects.filter(
                    source=report.source, row_key__in=keys
                ).values_list("row_key", "row_hash", "row_number")
            }
            fresh: list[_Row] = []
            batch_keys: dict[str, _Row] = {}
            issues: list[ImportIssue] = []
            present = 0
            for row in rows:
                if row.problem is None and row.key in batch_keys:
                    earlier = batch_keys[row.key]
                    if earlier.digest == row.digest:
                        present += 1
                    else:
                        row.problem = RowProblem(
                            self.reader.column("external_id"),
                            _("编号与第 %(n)s 行相同但内容不同，未导入。") % {"n": earlier.number},
                        )
                elif row.problem is None and row.key in existing:
                    digest, number = existing[row.key]
                    if digest and digest != row.digest:
                        row.problem = RowProblem(
                            self.reader.column("external_id"),
                            _("该编号已于此前导入（第 %(n)s 行），内容不同，未再导入。") % {"n": number},
                        )
                    else:
                        present += 1
                elif row.problem is None:
                    batch_keys[row.key] = row
                    fresh.append(row)
                if row.problem is not None:
                    issues.append(
                        ImportIssue(
                            job=job,
                            row_number=row.number,
                            column=row.problem.column[:100],
                            reason=row.problem.reason,
                        )
                    )
            cases = self._create(fresh, ticket)
            bulk_insert(
                [
                    ImportRow(
                        source=report.source,
                        row_key=row.key,
                        row_hash=row.digest,
                        case=case,
                        job=job,
                        row_number=row.number,
                    )
                    for row, case in zip(fresh, cases, strict=True)
                ],
                batch_size=1000,
            )
            ImportIssue.objects.bulk_create(issues, batch_size=1000, ignore_conflicts=True)
            report.imported += len(cases)
            report.already_present += present
            report.errors += len(issues)
            report.without_time += sum(r.without_time for r in fresh)
            report.created_categories = self.resolver.created_categories
            report.created_departments = self.resolver.created_departments
            if report.imported >= self.next_analyze:
                transaction.on_commit(analyze_tables)
                self.next_analyze *= 2
            ImportJob.objects.filter(pk=job.pk).update(
                checkpoint_row=rows[-1].number,
                rows_read=report.rows_read + len(rows),
                imported=report.imported,
                already_present=report.already_present,
                errors=report.errors,
                heartbeat_at=timezone.now(),
            )

    def _create(self, rows: list[_Row], ticket: _Ticket) -> list:
        if not rows:
            return []
        items = [r.item for r in rows]
        with self.stage("analyse"):  # inline: the analysis itself; with a worker: the wait for it
            by_number = ticket.result()
        analyses = [by_number[r.number] for r in rows]
        for row, item, analysis in zip(rows, items, analyses, strict=True):
            # what the history lacks, triage fills in (and says so: the state stays "suggested")
            if item.category_id is None and not analysis.abstained:
                item.category_id = analysis.category_id
            if item.region_id is None:
                item.region_id = analysis.region_id
            item.event_data = {
                **row.extra,
                "source": self.report.source,
                "row": row.number,
                "job": self.job.pk,
                "file": self.job.file_name,
                "category_from": "history"
                if row.historical.get("category")
                else ("triage" if item.category_id else ""),
            }
        by_day: dict[Any, list[HistoryCase]] = {}
        for item in items:
            by_day.setdefault(timezone.localdate(item.created_at), []).append(item)
        with self.stage("numbers"):
            numbers = next_tracking_numbers({day: len(group) for day, group in by_day.items()})
        for day, group in by_day.items():
            for item, number in zip(group, numbers[day], strict=True):
                item.tracking_number = number
        with self.stage("cases"):
            cases = cases_import_history(items=items, actor=self.options.actor, now=self.now)
        facts = [
            CaseFacts(
                case_id=case.pk,
                category_id=case.category_id,
                region_id=case.region_id,
                department_id=case.department_id,
                historical=row.historical,
                contact_keys=frozenset(
                    contact_keys(
                        phone=row.item.contact.get("phone", ""),
                        email=row.item.contact.get("email", ""),
                        external_user=row.item.contact.get("external_user", ""),
                    )
                ),
            )
            for case, row in zip(cases, rows, strict=True)
        ]
        with self.stage("triage"):
            recorded = record(
                facts,
                analyses,
                now=self.now,
                stage=self.stage,
                index=self._index(),
                known_contacts=self.contacts,
            )
        for case, done in zip(cases, recorded, strict=True):
            repeat = {k: v for k, v in done.changes.items() if k in ("is_repeat", "duplicate_of_id")}
            if repeat:
                case_annotate(
                    case_id=case.pk,
                    actor=policies.SYSTEM_ACTOR,
                    action="triage",
                    changes=repeat,
                    data={"repeat_of": repeat.get("duplicate_of_id"), "import_job": self.job.pk},
                    now=self.now,
                )
                self.report.repeats += 1
        return cases


# ---------------------------------------------------------------------------------------------- preview


@dataclass
class Preview:
    header: list[str]
    fields: list[tuple[str, str]]
    columns: dict[str, list[str]]  # field -> the column names feeding it
    unused: tuple[str, ...]
    rows: list[dict[str, Any]]  # the first rows as they would go in, or their problem
    total_rows: int | None
    encoding: str | None


def preview(
    path: str, *, mapping: Mapping | None = None, limit: int = 5, now: datetime | None = None
) -> Preview:
    """The column mapping and the first `limit` rows of a file as the import would read them. Writes nothing.
    Raises TableError for a file that would be refused."""
    now = now or timezone.now()
    table = read_table(
        path, encoding=mapping.encoding if mapping else None, sheet=mapping.sheet if mapping else None,
        on_bad_row="report",
    )  # fmt: skip
    with table:
        fields = resolve_fields(table.header, mapping, path=path)
        reader = _RowReader(fields, mapping, _Resolver(create_missing=True, dry_run=True), now)
        rows: list[dict[str, Any]] = []
        for number, values in table.rows:
            if isinstance(values, BadRow):
                rows.append({"row": number, "problem": values.reason})
            else:
                row = reader.read(number, values)
                if row.problem is not None:
                    rows.append({"row": number, "problem": row.problem.reason, "column": row.problem.column})
                else:
                    item = row.item
                    rows.append(
                        {
                            "row": number,
                            "external_number": item.external_number,
                            "created_at": None if row.without_time else item.created_at,
                            "title": item.title,
                            "content": item.content[:120],
                            "status": item.status,
                            "status_label": str(CaseStatus(item.status).label),
                            "kind": item.kind,
                            "reply": item.reply[:80],
                            "replied_at": item.replied_at,
                        }
                    )
            if len(rows) >= limit:
                break
        total = None
        with contextlib.suppress(OSError, TableError, ValueError):
            total = count_rows(path, encoding=table.encoding)
        columns = {name: [fields.header[i] for i in idx] for name, idx in fields.indices.items()}
        return Preview(
            header=list(table.header),
            fields=fields.describe(),
            columns=columns,
            unused=fields.unused,
            rows=rows,
            total_rows=total,
            encoding=table.encoding,
        )


# ---------------------------------------------------------------------------------------------- reports and jobs


def write_errors_csv(path: str, issues: list[tuple[str, int, str, str]]) -> None:
    """import-errors.csv: file, row, column, reason (UTF-8 with BOM, so that Excel opens it)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "column", "reason"])
        writer.writerows(issues)


def run_job(*, job_id: int) -> None:
    """Run (or resume) an import job started from the staff page. The background task."""
    from minyi.text.records import mapping_from_dict

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status == ImportJob.Status.FINISHED:
        return
    options = job.options or {}
    mapping = (
        mapping_from_dict(options.get("mapping") or {}, origin=f"job {job.pk}")
        if options.get("mapping")
        else None
    )
    from minyi.accounts.models import User

    actor = User.objects.filter(pk=job.created_by_id).first()
    with local_copy(job) as path:
        try:
            import_file(
                path,
                options=ImportOptions(
                    source=job.source,
                    mapping=mapping,
                    create_missing=options.get("create_missing", True),
                    actor=actor,
                    batch_size=options.get("batch_size", DEFAULT_BATCH),
                ),
                job=job,
            )
        except (TableError, ImportRefused) as exc:
            _job_status(job.pk, ImportJob.Status.FAILED, message=str(exc)[:2000])


@contextlib.contextmanager
def local_copy(job: ImportJob) -> Iterator[str]:
    """A local path of the job's stored file (the storage may be remote)."""
    try:
        local = job.file.path
    except NotImplementedError:  # a remote storage (S3): copy it down
        local = ""
    if local and os.path.exists(local):
        yield local
        return
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=job.file_extension) as handle:
        with job.file.open("rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                handle.write(chunk)
        handle.flush()
        yield handle.name


def imports_resume(*, now: datetime | None = None, background: bool = True) -> int:
    """Re-enqueue staff-page jobs whose process died (a restart, a crash). Idempotent; the periodic sweep.

    `background=False` (the cron command, a process that ends when it returns) runs them before returning."""
    from minyi.core.tasks import enqueue

    now = now or timezone.now()
    count = 0
    for job in ImportJob.objects.filter(
        status__in=[ImportJob.Status.RUNNING, ImportJob.Status.PENDING]
    ).exclude(file=""):
        stale = job.heartbeat_at is None or (now - job.heartbeat_at).total_seconds() > HEARTBEAT_STALE
        if stale and not _alive((job.options or {}).get("worker")):
            if background:
                enqueue("minyi.intake.importer.run_job", background=True, job_id=job.pk)
            else:
                run_job(job_id=job.pk)
            count += 1
    return count


def default_actor_label() -> str:
    with contextlib.suppress(Exception):
        return f"cli:{getpass.getuser()}"
    return "cli"


def errors_path_default() -> str:
    return str(Path.cwd() / "import-errors.csv")


__all__ = [
    "ImportOptions",
    "ImportRefused",
    "ImportReport",
    "file_sha256",
    "import_file",
    "imports_resume",
    "run_job",
    "write_errors_csv",
]
