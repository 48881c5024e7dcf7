"""Admin for routing configuration: categories (a tree), SLA policies, the working-day calendar, routing rules,
the gazetteer's places (with the CSV import) and the routing history (read only)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import RegexValidator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from minyi.accounts.admin import tree_label
from minyi.accounts.models import Region
from minyi.core.admin import ReadOnlyAdminMixin
from minyi.core.exceptions import DomainError
from minyi.routing.gazetteer import GazetteerReport, gazetteer_import
from minyi.routing.models import CalendarDay, Category, Place, RoutingHistory, RoutingRule, SlaPolicy


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("tree_name", "code", "is_livelihood", "is_active", "sort_order")
    list_filter = ("is_active", "is_livelihood")
    list_editable = ("is_livelihood", "is_active", "sort_order")
    search_fields = ("name", "code", "keywords")
    autocomplete_fields = ("parent",)
    ordering = ("path",)

    @admin.display(description=_("名称"), ordering="path")
    def tree_name(self, obj: Category) -> str:
        return tree_label(obj)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "priority",
        "unit",
        "accept_within",
        "handle_within",
        "extension_max_days",
        "extension_max_count",
        "review_request_days",
        "review_decide_days",
        "evaluation_days",
    )
    list_filter = ("kind", "priority", "unit")
    ordering = ("kind", "priority")


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Holidays and make-up working days for years the chinese-calendar package does not know yet."""

    list_display = ("date", "weekday", "is_workday", "name")
    list_filter = ("is_workday",)
    search_fields = ("name",)
    date_hierarchy = "date"
    ordering = ("date",)

    @admin.display(description=_("星期"))
    def weekday(self, obj: CalendarDay) -> str:
        return "一二三四五六日"[obj.date.weekday()]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Category × region → department. The most specific active rule wins (routing.services.rule_department)."""

    list_display = ("category", "region", "department", "is_active", "note", "updated_at")
    list_editable = ("is_active", "department")
    list_filter = ("is_active", "region__level", "category")
    search_fields = ("category__name", "category__code", "region__name", "department__name", "note")
    autocomplete_fields = ("category", "region", "department")
    list_select_related = ("category", "region", "department")
    ordering = ("category__path", "region__path")


@admin.register(RoutingHistory)
class RoutingHistoryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The rollup of where past cases went; rebuilt from the cases, never edited."""

    list_display = ("category", "region", "department", "cases", "updated_at")
    list_filter = ("category",)
    search_fields = ("category__name", "region__name", "department__name")
    list_select_related = ("category", "region", "department")
    ordering = ("category__path", "region__path", "-cases")


# --- places, with the gazetteer import ------------------------------------------------------------------

GAZETTEER_UPLOAD_MAX_BYTES = 20 * 1024 * 1024
GAZETTEER_UPLOAD_KEEP = timedelta(days=1)
#: Uploads are kept under MEDIA_ROOT by their content's hash between the check and the confirmation.
GAZETTEER_STORED_RE = re.compile(r"^gazetteer/(?P<sha>[0-9a-f]{64})\.(?P<ext>csv|xlsx)$")
#: The import writes regions and places alike.
GAZETTEER_IMPORT_PERMISSIONS = (
    "routing.add_place",
    "routing.change_place",
    "accounts.add_region",
    "accounts.change_region",
)
ENCODING_CHOICES = [
    ("", _("自动识别（UTF-8、GB18030、Big5）")),
    ("utf-8-sig", "UTF-8"),
    ("gb18030", "GB18030 / GBK"),
    ("big5", "Big5"),
]


class GazetteerUploadForm(forms.Form):
    file = forms.FileField(label=_("文件（CSV 或 XLSX）"))
    encoding = forms.ChoiceField(label=_("编码"), choices=ENCODING_CHOICES, required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > GAZETTEER_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("文件过大（上限 %(n)s MB）。") % {"n": GAZETTEER_UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        return upload


class GazetteerConfirmForm(forms.Form):
    stored = forms.CharField(
        widget=forms.HiddenInput,
        validators=[RegexValidator(GAZETTEER_STORED_RE, _("上传的文件标识无效，请重新上传。"))],
    )
    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False, widget=forms.HiddenInput)


def _kind_label(kind: str) -> str:
    if kind in Region.Level.values:
        return str(Region.Level(kind).label)
    if kind in Place.Kind.values:
        return str(Place.Kind(kind).label)
    return kind


def _report_rows(report: GazetteerReport) -> list[tuple[str, int, int]]:
    kinds = [
        k for k in (*Region.Level.values, *Place.Kind.values) if k in report.created or k in report.updated
    ]
    return [(_kind_label(k), report.created.get(k, 0), report.updated.get(k, 0)) for k in kinds]


def _purge_stale_uploads() -> None:
    """Delete uploads that were checked but never confirmed, a day on (best effort: storages differ)."""
    cutoff = timezone.now() - GAZETTEER_UPLOAD_KEEP
    with contextlib.suppress(OSError, NotImplementedError):
        for filename in default_storage.listdir("gazetteer")[1]:
            name = f"gazetteer/{filename}"
            if GAZETTEER_STORED_RE.match(name) and default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)


def _store_upload(data: bytes) -> str:
    """Keep an uploaded file under its content's hash; returns its storage name (gazetteer/<sha256>.<ext>)."""
    _purge_stale_uploads()
    ext = "xlsx" if data.startswith(b"PK\x03\x04") else "csv"
    name = f"gazetteer/{hashlib.sha256(data).hexdigest()}.{ext}"
    if default_storage.exists(name):
        default_storage.delete(name)  # saved again, so that its age counts from this upload
    default_storage.save(name, ContentFile(data))
    return name


def _import_stored(name: str, *, encoding: str | None, dry_run: bool) -> GazetteerReport:
    """Run the import on a stored upload (copied to a local file for the reader). Raises DomainError."""
    match = GAZETTEER_STORED_RE.match(name)
    if match is None or not default_storage.exists(name):
        raise DomainError(gettext("上传的文件已失效，请重新上传。"))
    with default_storage.open(name, "rb") as stored:
        data = stored.read()
    if hashlib.sha256(data).hexdigest() != match["sha"]:
        raise DomainError(gettext("上传的文件已失效，请重新上传。"))
    handle, local = tempfile.mkstemp(prefix="gazetteer-", suffix=f".{match['ext']}")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return gazetteer_import(path=local, dry_run=dry_run, encoding=encoding or None)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(local)


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin):
    """Estates, roads, landmarks ... inside the regions, for the place finder. Bulk entry: 从 CSV 导入."""

    list_display = ("name", "kind", "region", "aliases", "is_active", "updated_at")
    list_filter = ("kind", "is_active", "region__level")
    list_editable = ("is_active",)
    search_fields = ("name", "aliases", "region__name")
    autocomplete_fields = ("region",)
    list_select_related = ("region",)
    fields = ("name", "kind", "region", "aliases", "is_active")
    ordering = ("region__path", "name")

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="routing_place_import",
            ),
            *super().get_urls(),
        ]

    def may_import(self, request: HttpRequest) -> bool:
        return request.user.has_perms(GAZETTEER_IMPORT_PERMISSIONS)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_import_gazetteer": self.may_import(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload → the dry run's report → confirm → import. The file waits in storage between the steps."""
        if not self.may_import(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("从 CSV 导入地名"),
            "form": GazetteerUploadForm(),
        }
        status = 200
        if request.method == "POST" and "stored" in request.POST:
            confirm = GazetteerConfirmForm(request.POST)
            if not confirm.is_valid():
                context["error"] = gettext("上传的文件标识无效，请重新上传。")
                return self._render(request, context, status=400)
            name, encoding = confirm.cleaned_data["stored"], confirm.cleaned_data["encoding"]
            try:
                report = _import_stored(name, encoding=encoding, dry_run=False)
            except DomainError as exc:
                context["error"] = exc.message
                return self._render(request, context, status=400)
            if report.applied:
                with contextlib.suppress(OSError):
                    default_storage.delete(name)
                created, updated = sum(report.created.values()), sum(report.updated.values())
                self.message_user(
                    request,
                    gettext("地名库已导入：新增 %(created)s 条，更新 %(updated)s 条，未变 %(unchanged)s 条。")
                    % {"created": created, "updated": updated, "unchanged": report.unchanged},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:routing_place_changelist"))
            # the data changed since the check and a row no longer fits: show the new report
            context.update(self._report_context(report, name=name, encoding=encoding))
        elif request.method == "POST":
            form = GazetteerUploadForm(request.POST, request.FILES)
            context["form"] = form
            if form.is_valid():
                encoding = form.cleaned_data["encoding"]
                name = _store_upload(form.cleaned_data["file"].read())
                try:
                    report = _import_stored(name, encoding=encoding, dry_run=True)
                except DomainError as exc:
                    context["error"] = exc.message
                    status = 400
                else:
                    context.update(self._report_context(report, name=name, encoding=encoding))
            else:
                status = 400
        return self._render(request, context, status=status)

    def _report_context(self, report: GazetteerReport, *, name: str, encoding: str) -> dict:
        return {
            "report": report,
            "report_rows": _report_rows(report),
            "errors_shown": report.errors[:200],
            "errors_more": max(0, len(report.errors) - 200),
            "confirm_form": GazetteerConfirmForm(
                initial={"stored": name, "encoding": encoding}, auto_id="confirm_%s"
            )
            if report.ok
            else None,
        }

    def _render(self, request: HttpRequest, context: dict, *, status: int = 200) -> TemplateResponse:
        return TemplateResponse(request, "admin/routing/place/import.html", context, status=status)
