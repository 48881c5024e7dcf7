"""Staff pages of intake: the triage panel of a case (accept or correct each part, merge duplicates) and the
import of history from spreadsheets (upload, preview the column mapping, run as a background job, follow it).

Thin views: policies decide, services write. A case the user may not see answers 404; so does the import area
for a user without an import role.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from minyi.cases import policies, workflow
from minyi.cases.models import Case
from minyi.cases.views import get_case_or_404, is_htmx, render_staff, staff_required, status_label
from minyi.cases.workflow import CaseAction
from minyi.core.exceptions import DomainError
from minyi.intake import importer, review
from minyi.intake.forms import ImportMappingForm, ImportUploadForm, TriageReviewForm
from minyi.intake.models import DuplicateCandidate, ImportIssue, ImportJob, Triage, TriageState
from minyi.intake.triage import duplicate_rows, pii_label, risk_label, triage_case, triage_get
from minyi.routing.models import Category
from minyi.text.tabular import TableError

logger = logging.getLogger(__name__)

PART_LABELS = {
    "category": gettext_lazy("分类"),
    "region": gettext_lazy("区域与地点"),
    "department": gettext_lazy("建议承办部门"),
    "pii": gettext_lazy("个人信息"),
    "duplicates": gettext_lazy("疑似重复"),
    "risk": gettext_lazy("风险研判"),
}


# ---------------------------------------------------------------------------------------------- triage panel


def _hint(text: str) -> str:
    """A masked preview of a piece of personal data: its first and last characters only."""
    text = text.strip()
    if len(text) <= 2:
        return "*" * len(text)
    return f"{text[0]}{'*' * min(8, len(text) - 2)}{text[-1]}"


def _pii_rows(case: Case, triage: Triage) -> list[dict[str, Any]]:
    rows = []
    for name, text in (("title", case.title), ("content", case.content)):
        for i, (kind, start, end) in enumerate((triage.pii_spans or {}).get(name, [])):
            rows.append({"ref": f"{name}:{i}", "label": pii_label(kind), "hint": _hint(text[start:end])})
    return rows


def _panel_context(request: HttpRequest, case: Case, *, error: DomainError | None = None, bound=None) -> dict:
    actor = policies.actor_for_user(request.user)
    triage = triage_get(case=case)
    context: dict[str, Any] = {"case": case, "triage": triage, "error": error, "part_labels": PART_LABELS}
    if triage is None:
        context["can_rerun"] = policies.can_review_triage(actor, case, "category")
        return context
    duplicates = duplicate_rows(case=case, actor=actor)
    can = {part: policies.can_review_triage(actor, case, part) for part in policies.TRIAGE_PARTS}
    top_ids = [row[2] for row in triage.category_top if len(row) > 2 and row[2]]
    names = dict(Category.objects.filter(pk__in=top_ids).values_list("pk", "name"))
    forms = {}
    for part in policies.TRIAGE_PARTS:
        if bound is not None and bound[0] == part:
            forms[part] = bound[1]
        else:
            forms[part] = TriageReviewForm(
                triage=triage,
                candidates=[d["candidate"].candidate_id for d in duplicates],
                initial={
                    "category": case.category_id or triage.category_id,
                    "region": case.region_id or triage.region_id,
                    "department": triage.department_id,
                    "risk_level": triage.risk_level,
                },
                prefix=part,
            )
    context.update(
        {
            "can": can,
            "can_rerun": can["category"],
            "can_merge": CaseAction.MERGE in policies.available_actions(actor, case),
            "forms": forms,
            "top": [
                {"name": names.get(row[2], row[0]), "p": row[1]}
                for row in triage.category_top
                if len(row) > 2
            ],
            "confidence_pct": round((triage.category_confidence or 0) * 100),
            "pii_rows": _pii_rows(case, triage),
            "duplicates": [
                {
                    **d,
                    "status_label": status_label(d["case"].status),
                    "similarity_pct": round(d["candidate"].similarity * 100),
                    "mergeable": d["case"].status not in workflow.FINAL_STATES
                    and not d["case"].merged_into_id,
                }
                for d in duplicates
            ],
            "risk_reasons": [{"label": risk_label(r["code"]), **r} for r in triage.risk_reasons],
            "states": {
                part: TriageState(getattr(triage, f"{part}_state")).label for part in policies.TRIAGE_PARTS
            },
        }
    )
    return context


def _render_panel(request: HttpRequest, case: Case, *, status: int = 200, **kw: Any) -> HttpResponse:
    context = _panel_context(request, case, **kw)
    if is_htmx(request):
        return render(request, "intake/triage_panel.html", context, status=status)
    return render_staff(request, "intake/triage_page.html", context, status=status)


@require_GET
@never_cache
@staff_required
def triage_panel(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    return _render_panel(request, case)


def _back(request: HttpRequest, case: Case) -> HttpResponse:
    if is_htmx(request):
        return _render_panel(request, case)
    return redirect(reverse("cases:detail", args=[case.pk]) + "#triage-panel")


@require_POST
@staff_required
def triage_review_view(request: HttpRequest, case_id: int, part: str) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    if part not in policies.TRIAGE_PARTS:
        raise Http404
    actor = policies.actor_for_user(request.user)
    triage = triage_get(case=case)
    if triage is None:
        raise Http404
    form = TriageReviewForm(
        request.POST,
        triage=triage,
        candidates=list(DuplicateCandidate.objects.filter(case=case).values_list("candidate_id", flat=True)),
        prefix=part,
    )
    if not form.is_valid():
        return _render_panel(request, case, status=400, bound=(part, form))
    try:
        review.triage_review(
            case_id=case.pk,
            actor=actor,
            part=part,
            decision=form.cleaned_data["decision"],
            correction=form.correction(),
            note=form.cleaned_data.get("note") or "",
        )
    except DomainError as exc:
        return _render_panel(request, case, status=exc.status_code, error=exc, bound=(part, form))
    if not is_htmx(request):
        messages.success(request, _("已核定“%(part)s”。") % {"part": PART_LABELS[part]})
    return _back(request, Case.objects.get(pk=case.pk))


@require_POST
@staff_required
def triage_merge_view(request: HttpRequest, case_id: int, candidate_id: int) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    actor = policies.actor_for_user(request.user)
    note = (request.POST.get("note") or "").strip() or _("与 %(no)s 为同一事项，并案办理。") % {
        "no": candidate_id
    }
    try:
        review.triage_merge(case_id=case.pk, candidate_id=candidate_id, actor=actor, note=note[:2000])
    except DomainError as exc:
        return _render_panel(request, case, status=exc.status_code, error=exc)
    messages.success(request, _("已并案。"))
    if policies.can_view(actor, case):
        return redirect("cases:detail", case_id=case.pk)
    return redirect("cases:workbench")


@require_POST
@staff_required
def triage_rerun(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    if not policies.can_review_triage(request.user, case, "category"):
        raise Http404
    triage_case(case_id=case.pk, force=True)
    if not is_htmx(request):
        messages.success(request, _("已重新研判。"))
    return _back(request, case)


# ---------------------------------------------------------------------------------------------- import


def import_required(view):
    """Staff with an import role only; everyone else gets 404 (the import area does not exist for them)."""

    @staff_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not policies.can_import(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _job_or_404(job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job


def _store_upload(uploaded, *, user, source: str, create_missing: bool) -> ImportJob:
    digest = hashlib.sha256()
    size = 0
    for chunk in uploaded.chunks():
        digest.update(chunk)
        size += len(chunk)
    uploaded.seek(0)
    extension = Path(uploaded.name or "").suffix.lower()[:8]
    job = ImportJob(
        source=source or importer.DEFAULT_SOURCE,
        file_name=Path(uploaded.name or "upload").name[:255],
        file_sha256=digest.hexdigest(),
        file_size=size,
        file_extension=extension if extension in (".csv", ".xlsx", ".xlsm", ".txt", ".tsv") else "",
        created_by=user,
        created_at=timezone.now(),
        options={"create_missing": create_missing},
    )
    job.file.save(f"{job.file_sha256}{job.file_extension}", uploaded, save=False)
    job.save()
    return job


@require_http_methods(["GET", "POST"])
@import_required
def import_index(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            uploaded = form.cleaned_data["file"]
            if uploaded.size > settings.MINYI_IMPORT_UPLOAD_MAX_BYTES:
                form.add_error(
                    "file",
                    _("文件超过 %(n)s MB。") % {"n": settings.MINYI_IMPORT_UPLOAD_MAX_BYTES // (1024 * 1024)},
                )
            else:
                job = _store_upload(
                    uploaded,
                    user=request.user,
                    source=form.cleaned_data.get("source") or "",
                    create_missing=form.cleaned_data.get("create_missing", True),
                )
                with importer.local_copy(job) as path:
                    try:
                        importer.preview(path, limit=1)
                    except TableError as exc:
                        job.file.delete(save=False)
                        job.delete()
                        form.add_error(
                            "file", _("无法作为表格读取：%(reason)s") % {"reason": _file_reason(exc)}
                        )
                    else:
                        return redirect("intake:import_preview", job_id=job.pk)
        status = 400
    page = Paginator(
        ImportJob.objects.select_related("created_by").order_by("-created_at", "-id"), 20
    ).get_page(request.GET.get("page"))
    return render_staff(request, "intake/import_index.html", {"form": form, "page": page}, status=status)


def _file_reason(exc: Exception) -> str:
    """A TableError's message without the server-side path of the stored file."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    return rest if sep and ("/" in head or "\\" in head) else text


def _mapping_of(job: ImportJob):
    from minyi.text.records import mapping_from_dict

    data = (job.options or {}).get("mapping")
    return mapping_from_dict(data, origin=f"job {job.pk}") if data else None


@require_http_methods(["GET", "POST"])
@import_required
def import_preview(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(job_id)
    if job.status != ImportJob.Status.PENDING:
        return redirect("intake:import_progress", job_id=job.pk)
    status = 200
    error = ""
    with importer.local_copy(job) as path:
        try:
            shown = importer.preview(path, mapping=_mapping_of(job))
        except TableError as exc:
            shown, error, status = None, _file_reason(exc), 400
        if shown is not None and request.method == "POST":
            form = ImportMappingForm(
                request.POST, header=shown.header, current=shown.columns, fields=list(importer.FIELD_LABELS)
            )
            if form.is_valid():
                job.options = {**(job.options or {}), "mapping": {"columns": form.columns()}}
                try:
                    shown = importer.preview(path, mapping=_mapping_of(job))
                except TableError as exc:
                    error, status = _file_reason(exc), 400
                else:
                    job.save(update_fields=["options"])
                    messages.success(request, _("已更新列的对应关系。"))
                    return redirect("intake:import_preview", job_id=job.pk)
        form = (
            ImportMappingForm(header=shown.header, current=shown.columns, fields=list(importer.FIELD_LABELS))
            if shown is not None
            else None
        )
    return render_staff(
        request, "intake/import_preview.html", {"job": job, "preview": shown, "form": form, "error": error},
        status=status,
    )  # fmt: skip


@require_POST
@import_required
def import_start(request: HttpRequest, job_id: int) -> HttpResponse:
    from minyi.core.tasks import enqueue

    job = _job_or_404(job_id)
    # one start per job, however often the button is pressed: only the request that moves it on enqueues it
    started = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, heartbeat_at=timezone.now()
    )  # not-a-case-status
    if started:
        enqueue("minyi.intake.importer.run_job", background=True, job_id=job.pk)
        logger.info("import job %s started by user %s", job.pk, request.user.pk)
    return redirect("intake:import_progress", job_id=job.pk)


@require_GET
@never_cache
@import_required
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(job_id)
    elapsed = ((job.heartbeat_at or timezone.now()) - job.started_at).total_seconds() if job.started_at else 0
    done = job.rows_read
    context = {
        "job": job,
        "percent": min(100, round(done * 100 / job.total_rows)) if job.total_rows else None,
        "rate": round(done / elapsed) if elapsed > 0 else None,
        "running": job.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING),
        "issues": list(job.issues.order_by("row_number")[:20]),
    }
    if is_htmx(request, "import-progress"):
        return render(request, "intake/partials/import_progress.html", context)
    return render_staff(request, "intake/import_progress.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@import_required
def import_errors(request: HttpRequest, job_id: int) -> StreamingHttpResponse:
    """The job's bad rows as import-errors.csv (file, row, column, reason), streamed."""
    job = _job_or_404(job_id)

    def rows():
        writer = csv.writer(_Echo())
        yield "\ufeff" + writer.writerow(["file", "row", "column", "reason"])
        for issue in ImportIssue.objects.filter(job=job).order_by("row_number").iterator(chunk_size=2000):
            yield writer.writerow([job.file_name, issue.row_number, issue.column, issue.reason])

    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in rows()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-errors-{job.pk}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
