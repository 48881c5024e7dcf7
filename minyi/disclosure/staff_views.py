"""Staff pages of disclosure: a case's publication panel (loaded by htmx on the case page, a page of its own
without scripts): its state and hold reason, the original beside the masked copy, the edit form, and publish or
withdraw with a reason.

Thin views: minyi.cases.policies decides, minyi.disclosure.publication writes. A case the user may not see
answers 404; an operation their role may not perform, 403 with the message; bad input, 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from minyi.cases import policies
from minyi.cases.forms import DecodedTextForm, add_service_errors
from minyi.cases.models import Case, Reply
from minyi.cases.views import get_case_or_404, is_htmx, render_staff, staff_required, status_label
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import DomainError
from minyi.disclosure import publication
from minyi.disclosure.models import Publication

OPERATIONS = ("publish", "unpublish", "edit")
PANEL_TEMPLATE = "disclosure/staff/publication_panel.html"
PAGE_TEMPLATE = "disclosure/staff/publication_page.html"


class PublicationEditForm(DecodedTextForm):
    """The masked texts as staff correct them. The service cleans and checks them (lengths, personal data)."""

    title = forms.CharField(
        label=gettext_lazy("公开标题"),
        required=False,
        strip=False,
        max_length=publication.MAX_TITLE_CHARS,
        widget=forms.TextInput(attrs={"maxlength": publication.MAX_TITLE_CHARS}),
    )
    content = forms.CharField(
        label=gettext_lazy("公开内容"),
        required=False,
        strip=False,
        max_length=settings.MINYI_MAX_CONTENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    note = forms.CharField(
        label=gettext_lazy("修改说明"),
        required=False,
        max_length=publication.MAX_NOTE_CHARS,
        widget=forms.TextInput(attrs={"maxlength": publication.MAX_NOTE_CHARS}),
    )

    def __init__(self, *args: Any, reply_ids: Sequence[int] = (), **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "pub-edit-%s")
        super().__init__(*args, **kwargs)
        self.reply_ids = list(reply_ids)
        for i, reply_id in enumerate(self.reply_ids, start=1):
            self.fields[f"reply-{reply_id}"] = forms.CharField(
                label=_("公开答复 %(n)s") % {"n": i},
                required=False,
                strip=False,
                max_length=settings.MINYI_MAX_CONTENT_CHARS,
                widget=forms.Textarea(attrs={"rows": 4}),
            )

    def reply_fields(self) -> list[forms.BoundField]:
        return [self[f"reply-{reply_id}"] for reply_id in self.reply_ids]

    def texts(self) -> dict[str, Any]:
        """The texts posted (a field not posted at all stays unchanged: None)."""
        posted = self.data
        replies = {
            reply_id: self.cleaned_data[f"reply-{reply_id}"]
            for reply_id in self.reply_ids
            if f"reply-{reply_id}" in posted
        }
        return {
            "title": self.cleaned_data["title"] if "title" in posted else None,
            "content": self.cleaned_data["content"] if "content" in posted else None,
            "replies": replies or None,
        }


class PublicationReasonForm(DecodedTextForm):
    """Why the case is published or withdrawn (required to withdraw: the service says so)."""

    note = forms.CharField(
        label=gettext_lazy("原因"),
        required=False,
        help_text=gettext_lazy("撤回公开时必填"),
        max_length=publication.MAX_NOTE_CHARS,
        widget=forms.TextInput(attrs={"maxlength": publication.MAX_NOTE_CHARS}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "pub-reason-%s")
        super().__init__(*args, **kwargs)


def _sent_replies(case: Case) -> list[Reply]:
    return list(
        Reply.objects.filter(case=case, state=Reply.State.SENT)
        .select_related("department")
        .order_by("sent_at", "id")
    )


def _default_label(shown: dict[str, Any] | None) -> str:
    """For a publication not created yet: what refresh would decide."""
    if shown is None:
        return ""
    if shown["hold_reason"]:
        return str(Publication.Hold(shown["hold_reason"]).label)
    return str(Publication.State(shown["state"]).label)


def _panel_context(
    request: HttpRequest,
    case: Case,
    *,
    error: DomainError | None = None,
    edit_form: PublicationEditForm | None = None,
    reason_form: PublicationReasonForm | None = None,
    done: str = "",
) -> dict[str, Any]:
    actor = policies.actor_for_user(request.user)
    replies = _sent_replies(case)
    pub = publication.publication_get(case=case)
    context: dict[str, Any] = {
        "case": case,
        "pub": pub,
        "error": error,
        "done": done,
        "replied": bool(replies),
    }
    if not replies and pub is None:
        return context
    if pub is not None:
        title, content = pub.title, pub.content
        copies = {r.reply_id: r.text for r in pub.replies.all()}
        state, hold = pub.state, pub.hold_reason
        problems = publication.problems_for(pub)
        shown = None
    else:
        shown = publication.preview(case)
        title, content, copies = shown["title"], shown["content"], shown["replies"]
        state, hold = Publication.State.HELD, ""
        problems = []
    reply_ids = [r.pk for r in replies]
    if edit_form is None:
        edit_form = PublicationEditForm(
            reply_ids=reply_ids,
            initial={
                "title": title,
                "content": content,
                **{f"reply-{r.pk}": copies.get(r.pk, "") for r in replies},
            },
        )
    fields = {f.name: f for f in edit_form.reply_fields()}
    can_publish = policies.can_publish(actor, case)
    blocked = publication.blocked_reason(case)
    context.update(
        {
            "title": title,
            "content": content,
            "reply_rows": [
                {"reply": r, "public": copies.get(r.pk, ""), "field": fields.get(f"reply-{r.pk}")}
                for r in replies
            ],
            "state": state,
            "state_label": Publication.State(state).label,
            "hold_label": Publication.Hold(hold).label if hold else "",
            "default_label": _default_label(shown),
            "problems": problems,
            "blocked": blocked,
            "can_publish": can_publish,
            "may_publish_now": can_publish and not blocked and state != Publication.State.PUBLISHED,
            "may_unpublish": can_publish and state == Publication.State.PUBLISHED,
            "edit_form": edit_form,
            "reason_form": reason_form or PublicationReasonForm(),
            "case_status_label": status_label(pub.case_status if pub is not None else case.status),
            "merged": (pub.case_status if pub is not None else case.status) == CaseStatus.MERGED,
        }
    )
    return context


def _render_panel(request: HttpRequest, case: Case, *, status: int = 200, **kw: Any) -> HttpResponse:
    context = _panel_context(request, case, **kw)
    if is_htmx(request):
        return render(request, PANEL_TEMPLATE, context, status=status)
    return render_staff(request, PAGE_TEMPLATE, context, status=status)


@require_GET
@never_cache
@staff_required
def publication_panel(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    return _render_panel(request, case)


DONE = {
    "publish": gettext_lazy("已公开。"),
    "unpublish": gettext_lazy("已撤回公开。"),
    "edit": gettext_lazy("已保存公开文本。"),
}


@require_POST
@staff_required
def publication_action(request: HttpRequest, case_id: int, operation: str) -> HttpResponse:
    case = get_case_or_404(request, case_id)
    if operation not in OPERATIONS:
        raise Http404
    actor = policies.actor_for_user(request.user)
    try:
        policies.require_publication(actor, case)
    except DomainError as exc:
        return _render_panel(request, case, status=exc.status_code, error=exc)
    edit_form = reason_form = None
    if operation == "edit":
        edit_form = PublicationEditForm(request.POST, reply_ids=[r.pk for r in _sent_replies(case)])
        form: forms.Form = edit_form
    else:
        form = reason_form = PublicationReasonForm(request.POST)
    bound = {"edit_form": edit_form, "reason_form": reason_form}
    if not form.is_valid():
        error = DomainError(_("提交的内容有误，请按提示修改后重新提交。"))
        return _render_panel(request, case, status=400, error=error, **bound)
    note = form.cleaned_data.get("note") or ""
    try:
        if edit_form is not None:
            publication.edit(case_id=case.pk, actor=actor, note=note, **edit_form.texts())
        elif operation == "publish":
            publication.publish(case_id=case.pk, actor=actor, note=note)
        else:
            publication.unpublish(case_id=case.pk, actor=actor, note=note)
    except DomainError as exc:
        add_service_errors(form, exc.fields, exc.message)
        return _render_panel(request, case, status=exc.status_code, error=exc, **bound)
    if is_htmx(request):
        return _render_panel(request, Case.objects.get(pk=case.pk), done=str(DONE[operation]))
    messages.success(request, str(DONE[operation]))
    return redirect("disclosure_staff:publication", case_id=case.pk)
