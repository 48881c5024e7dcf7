"""Admin views of intake: bookkeeping, triage results, imports (read-only) and classifier versions."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from minyi.core.admin import ReadOnlyAdminMixin
from minyi.core.exceptions import DomainError
from minyi.intake.models import (
    ClassifierSwitch,
    ClassifierVersion,
    DuplicateCandidate,
    IdempotencyRecord,
    ImportIssue,
    ImportJob,
    Open311Client,
    Open311Request,
    TrackingSequence,
    Triage,
)
from minyi.routing.models import Category


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The stored response holds the citizen's query code: it is never shown.
    list_display = ("key", "case_id", "response_status", "created_at", "expires_at")
    fields = ("key", "fingerprint", "case_id", "response_status", "created_at", "expires_at")
    readonly_fields = fields
    search_fields = ("key",)
    date_hierarchy = "created_at"


@admin.register(TrackingSequence)
class TrackingSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("day", "last")
    fields = ("day", "last")
    readonly_fields = fields
    ordering = ("-day",)


# ---------------------------------------------------------------------------------------------- classifier


def _figure(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _day(value) -> str:
    if not value:
        return "-"
    return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")


def _version_label(version) -> str:
    if version is None:
        return "-"
    return f"#{version.pk} {timezone.localtime(version.created_at):%Y-%m-%d %H:%M}"


@admin.register(ClassifierVersion)
class ClassifierVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Trained classifiers: read-only, with their held-out quality; the one action switches the active model
    through the service (which refuses a model that does not beat the active one)."""

    list_display = (
        "id",
        "created_at",
        "trained_cases",
        "holdout_macro_f1",
        "baseline_macro_f1",
        "is_active",
        "activated_at",
        "activated_by",
    )
    list_filter = ("is_active",)
    list_select_related = ("activated_by",)
    actions = ("activate_selected",)
    fields = (
        "id",
        "created_at",
        "created_by",
        "note",
        "is_active",
        "activated_at",
        "activated_by",
        "trained_cases",
        "training_range",
        "holdout_range",
        "holdout_macro_f1",
        "holdout_accuracy",
        "holdout_abstain_rate",
        "baseline_macro_f1",
        "quality_table",
        "labels",
        "size",
        "sha256",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # the model file is megabytes: never read it for the admin pages
        return super().get_queryset(request).select_related("created_by", "activated_by").defer("model_file")

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("intake.change_classifierversion")

    @admin.display(description=_("留出集宏平均 F1"))
    def holdout_macro_f1(self, obj) -> str:
        return _figure((obj.metrics or {}).get("macro_f1"))

    @admin.display(description=_("留出集准确率"))
    def holdout_accuracy(self, obj) -> str:
        return _figure((obj.metrics or {}).get("accuracy"))

    @admin.display(description=_("留出集弃权率"))
    def holdout_abstain_rate(self, obj) -> str:
        value = (obj.metrics or {}).get("abstain_rate")
        return "-" if value is None else f"{value * 100:.1f}%"

    @admin.display(description=_("原模型宏平均 F1"))
    def baseline_macro_f1(self, obj) -> str:
        return _figure((obj.baseline or {}).get("macro_f1"))

    @admin.display(description=_("训练数据范围"))
    def training_range(self, obj) -> str:
        training = obj.training or {}
        limit = training.get("limit")
        return _("%(start)s 至 %(end)s；留出比例 %(share)s；样本上限 %(limit)s") % {
            "start": _day(training.get("from")),
            "end": _day(training.get("to")),
            "share": training.get("holdout", "-"),
            "limit": limit if limit is not None else _("无"),
        }

    @admin.display(description=_("留出集范围"))
    def holdout_range(self, obj) -> str:
        holdout = obj.holdout or {}
        return _("%(n)s 件，%(start)s 至 %(end)s") % {
            "n": holdout.get("cases", 0),
            "start": _day(holdout.get("from")),
            "end": _day(holdout.get("to")),
        }

    @admin.display(description=_("各分类质量（留出集）"))
    def quality_table(self, obj) -> str:
        per_category = (obj.metrics or {}).get("per_category") or {}
        if not per_category:
            return "-"
        names = dict(Category.objects.filter(code__in=list(per_category)).values_list("code", "name"))
        head = format_html_join(
            "",
            '<th scope="col">{}</th>',
            ((h,) for h in (_("编码"), _("分类"), _("精确率"), _("召回率"), "F1", _("样本数"))),
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    code,
                    names.get(code, "-"),
                    _figure(row.get("precision")),
                    _figure(row.get("recall")),
                    _figure(row.get("f1")),
                    row.get("support", 0),
                )
                for code, row in sorted(per_category.items())
            ),
        )
        return format_html(
            '<table class="classifier-quality"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            head,
            body,
        )

    @admin.action(description=_("启用所选模型"), permissions=["activate"])
    def activate_selected(self, request, queryset):
        from minyi.intake.learning import classifier_activate  # the text engine loads on first use only

        versions = list(queryset.defer("model_file")[:2])
        if len(versions) != 1:
            self.message_user(request, _("请只选择一个模型。"), level=messages.ERROR)
            return
        try:
            switch = classifier_activate(
                version=versions[0],
                actor=request.user,
                actor_label=request.user.get_username(),
                reason=_("在管理后台启用"),
            )
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        candidate = (switch.evidence.get("candidate") or {}).get("macro_f1")
        self.message_user(
            request,
            _("模型 #%(id)s 已启用（近期留出集宏平均 F1 %(f1)s）。")
            % {"id": versions[0].pk, "f1": _figure(candidate)},
            level=messages.SUCCESS,
        )


@admin.register(ClassifierSwitch)
class ClassifierSwitchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "version_label",
        "previous_label",
        "actor_name",
        "actor_label",
        "reason",
        "evidence_summary",
    )
    fields = (
        "created_at",
        "version_label",
        "previous_label",
        "actor_name",
        "actor_label",
        "reason",
        "evidence_summary",
        "evidence",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("version", "previous", "actor")
            .defer("version__model_file", "previous__model_file")
        )

    @admin.display(description=_("启用的模型"), ordering="version_id")
    def version_label(self, obj) -> str:
        return _version_label(obj.version)

    @admin.display(description=_("原模型"), ordering="previous_id")
    def previous_label(self, obj) -> str:
        return _version_label(obj.previous)

    @admin.display(description=_("账号"))
    def actor_name(self, obj) -> str:
        return obj.actor.get_username() if obj.actor else "-"

    @admin.display(description=_("依据"))
    def evidence_summary(self, obj) -> str:
        evidence = obj.evidence or {}
        candidate = evidence.get("candidate") or {}
        previous = evidence.get("previous") or {}
        held = evidence.get("slice") or {}
        return _("新 %(new)s / 原 %(old)s（近期 %(n)s 件，%(start)s 至 %(end)s）") % {
            "new": _figure(candidate.get("macro_f1")),
            "old": _figure(previous.get("macro_f1")),
            "n": held.get("cases", 0),
            "start": _day(held.get("from")),
            "end": _day(held.get("to")),
        }


# ---------------------------------------------------------------------------------------------- triage, import


def _visible(request):
    """The ids of the cases the signed-in user may see (the admin lists nothing else of theirs)."""
    from minyi.cases import policies

    return policies.visible_cases(request.user).values("pk")


@admin.register(Triage)
class TriageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What triage found, case by case (read-only: staff review it on the case page). Lists only the cases the
    signed-in user may see; the normalised text is not shown (it holds the personal data the case holds)."""

    list_display = (
        "case", "category", "category_state", "category_confidence", "region", "department", "department_source",
        "duplicates_count", "risk_level", "risk_score", "triaged_at",
    )  # fmt: skip
    list_filter = ("category_state", "risk_level", "department_source", "region_state", "department_state")
    list_select_related = ("case", "category", "region", "department")
    fields = (
        "case", "category", "category_confidence", "category_state", "category_top", "classifier", "region", "place",
        "place_matches", "region_state", "department", "department_source", "department_state", "pii_state",
        "duplicates_count", "duplicates_state", "risk_level", "risk_score", "risk_reasons", "risk_state",
        "triaged_at", "elapsed_ms",
    )  # fmt: skip
    readonly_fields = fields
    search_fields = ("case__tracking_number", "case__external_number")
    date_hierarchy = "triaged_at"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(case_id__in=_visible(request))
            .defer("normalized_text", "tokens")
        )


class ImportIssueInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ImportIssue
    extra = 0
    fields = ("row_number", "column", "reason")
    readonly_fields = fields
    max_num = 0


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "file_name", "source", "status", "rows_read", "imported", "already_present", "errors", "created_by",
        "created_at", "finished_at",
    )  # fmt: skip
    list_filter = ("status", "source")
    search_fields = ("file_name", "source", "file_sha256")
    fields = (
        "file_name", "source", "file_sha256", "file_size", "status", "total_rows", "checkpoint_row", "rows_read",
        "imported", "already_present", "errors", "message", "created_by", "created_at", "started_at",
        "heartbeat_at", "finished_at",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (ImportIssueInline,)
    date_hierarchy = "created_at"


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("case", "candidate", "similarity", "same_contact", "state")
    list_filter = ("state", "same_contact")
    list_select_related = ("case", "candidate")
    fields = list_display
    readonly_fields = fields
    search_fields = ("case__tracking_number", "candidate__tracking_number")

    def get_queryset(self, request):
        visible = _visible(request)
        return super().get_queryset(request).filter(case_id__in=visible, candidate_id__in=visible)


# ---------------------------------------------------------------------------------------------- Open311


def _show_key_once(modeladmin, request, client, raw_key: str) -> None:
    modeladmin.message_user(
        request,
        format_html(
            "{}<br><code>{}</code><br>{}",
            _("“%(name)s”的 Open311 api_key：") % {"name": client.name},
            raw_key,
            _("请立即复制并安全地交给对方：密钥只显示这一次，系统只保存其散列值，无法找回。"),
        ),
        level=messages.SUCCESS,
    )


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    """Civic apps allowed to POST Open311 service requests. A key is made when a client is added (and by the
    "new key" action) and shown once; only its prefix and SHA-256 hash are stored."""

    list_display = (
        "name",
        "key_prefix",
        "contact",
        "is_active",
        "created_at",
        "last_used_at",
        "request_count",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "contact", "key_prefix")
    fields = ("name", "contact", "is_active", "key_prefix", "created_at", "last_used_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at")
    actions = ("issue_new_key",)

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_requests=Count("requests"))

    @admin.display(description=_("请求数"), ordering="_requests")
    def request_count(self, obj) -> int:
        return getattr(obj, "_requests", 0)

    def save_model(self, request, obj, form, change):
        raw_key = None
        if not change:
            from minyi.intake.open311 import open311_key_assign

            raw_key = open311_key_assign(obj)
        super().save_model(request, obj, form, change)
        if raw_key is not None:
            _show_key_once(self, request, obj, raw_key)

    @admin.action(description=_("生成新密钥（旧密钥立即失效）"), permissions=["change"])
    def issue_new_key(self, request, queryset):
        from minyi.intake.open311 import open311_key_assign

        clients = list(queryset[:2])
        if len(clients) != 1:
            self.message_user(request, _("请只选择一个接入应用。"), level=messages.ERROR)
            return
        client = clients[0]
        raw_key = open311_key_assign(client)
        client.save(update_fields=["key_prefix", "key_hash"])
        _show_key_once(self, request, client, raw_key)


@admin.register(Open311Request)
class Open311RequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What Open311 POSTs carried beyond the case (read-only). Lists only the cases the signed-in user may see."""

    list_display = ("case", "client", "service_code", "token", "created_at")
    list_filter = ("client", "service_code")
    list_select_related = ("case", "client")
    fields = ("case", "client", "service_code", "token", "attributes", "media_url", "device_id", "account_id",
              "created_at")  # fmt: skip
    readonly_fields = fields
    search_fields = ("case__tracking_number", "token")
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case_id__in=_visible(request))
