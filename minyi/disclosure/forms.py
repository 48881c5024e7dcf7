"""Forms of the public tracking page. They carry input; the rules are in policies and services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from minyi.cases.forms import DecodedTextForm
from minyi.cases.models import Evaluation
from minyi.cases.services import MAX_NOTE_CHARS
from minyi.cases.workflow import CaseAction
from minyi.text.normalize import strip_invisible


class TrackForm(forms.Form):
    tracking_number = forms.CharField(
        label=_("受理编号"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": _("例如 MY2026010100001")}
        ),
    )
    query_code = forms.CharField(
        label=_("查询码"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("提交诉求时页面显示的 12 位查询码"),
    )


class CitizenActionForm(DecodedTextForm):
    action: CaseAction

    def note_value(self) -> str:
        return ""

    def payload(self) -> dict[str, Any]:
        return {}


class EvaluateForm(CitizenActionForm):
    action = CaseAction.EVALUATE
    RESOLVED = [("yes", _("已解决")), ("no", _("未解决"))]

    rating = forms.ChoiceField(
        label=_("您对答复是否满意"), choices=Evaluation.Rating.choices, widget=forms.RadioSelect
    )
    resolved = forms.ChoiceField(
        label=_("问题是否解决"), choices=RESOLVED, required=False, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("意见或理由"),
        required=False,
        max_length=MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "data-require-when": "rating=dissatisfied"}),
        help_text=_("选择“不满意”时请说明理由，督办人员将跟进处理"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_evaluate_%s")
        super().__init__(*args, **kwargs)

    def note_value(self) -> str:
        return self.cleaned_data.get("reason", "")

    def payload(self) -> dict[str, Any]:
        resolved = {"yes": True, "no": False}.get(self.cleaned_data.get("resolved") or "")
        data: dict[str, Any] = {"rating": self.cleaned_data["rating"]}
        if resolved is not None:
            data["resolved"] = resolved
        return data


class AddInfoForm(CitizenActionForm):
    action = CaseAction.ADD_INFO

    text = forms.CharField(
        label=_("补充内容"),
        max_length=settings.MINYI_MAX_CONTENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("补充的情况将转给办理单位"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_add_info_%s")
        super().__init__(*args, **kwargs)

    def payload(self) -> dict[str, Any]:
        return {"text": self.cleaned_data["text"]}


class RequestReviewForm(CitizenActionForm):
    action = CaseAction.REQUEST_REVIEW

    note = forms.CharField(
        label=_("申请复查的理由"),
        max_length=MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("对答复不服的，可在申请复查截止前提出，并说明理由"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_request_review_%s")
        super().__init__(*args, **kwargs)

    def note_value(self) -> str:
        return self.cleaned_data.get("note", "")


class FeedbackForm(EvaluateForm):
    """The two questions of a feedback link (回访): is the matter solved, and how satisfied is the person.

    Both are required here (the link asks nothing else). The reason is required for "dissatisfied" by the
    evaluate service, whose message the view shows next to the field. Invisible and control characters (zero-width,
    bidi overrides) are removed from the reason before it reaches the supervisors.
    """

    field_order = ["resolved", "rating", "reason"]

    resolved = forms.ChoiceField(
        label=_("问题是否解决"), choices=EvaluateForm.RESOLVED, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_feedback_%s")
        super().__init__(*args, **kwargs)

    def clean_reason(self) -> str:
        return strip_invisible(self.cleaned_data.get("reason") or "").strip()


CITIZEN_FORMS: dict[str, type[CitizenActionForm]] = {
    form.action.value: form for form in (EvaluateForm, AddInfoForm, RequestReviewForm)
}
