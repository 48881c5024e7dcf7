"""Forms of the staff pages. They parse and present input; the rules live in policies and services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from minyi.accounts.models import Department, Region
from minyi.cases.selectors import QUEUES, CaseFilters
from minyi.cases.services import MAX_NOTE_CHARS
from minyi.cases.workflow import TRANSITIONS, CaseAction, CaseStatus
from minyi.core.choices import Channel, Kind
from minyi.routing.models import Category

A = CaseAction


class DecodedTextForm(forms.Form):
    """Refuses text that arrived as bytes that are not UTF-8 (Django decodes them to U+FFFD)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, str) and "\ufffd" in value:
                self.add_error(name, _("提交的内容不是有效的 UTF-8 编码文本，请检查后重新提交。"))
        return cleaned


def tree_choices(queryset) -> list[tuple[int, str]]:
    """(id, indented name) for a TreeNode queryset, in tree order."""
    return [(node.pk, f"{'　' * node.depth}{node.name}") for node in queryset.order_by("path")]


def department_choices() -> list[tuple[int, str]]:
    return tree_choices(Department.objects.filter(is_active=True))


def category_choices() -> list[tuple[int, str]]:
    return tree_choices(Category.objects.filter(is_active=True))


def region_choices() -> list[tuple[int, str]]:
    return tree_choices(Region.objects.all())


# ---------------------------------------------------------------------------------------------- workbench

#: Pseudo-queues that are filters rather than entries of selectors.QUEUES.
FILTER_QUEUES = {
    "due_soon": (_("即将到期"), {"due_soon": True}),
    "overdue": (_("已超期"), {"overdue": True}),
}


#: Labels of selectors.QUEUES, translated per request (the selector's own labels are fixed at import).
QUEUE_LABELS = {
    "to_accept": _("待受理"),
    "to_dispatch": _("待派单"),
    "mine": _("本部门办理中"),
    "supervision": _("待督办处理"),
}


def queue_label(key: str) -> str:
    if key in QUEUE_LABELS:
        return str(QUEUE_LABELS[key])
    if key in QUEUES:
        return str(QUEUES[key][0])
    return str(FILTER_QUEUES[key][0])


def queue_filters(key: str) -> CaseFilters:
    """The filters of one workbench queue."""
    if key in QUEUES:
        return CaseFilters(queue=key)
    return CaseFilters(**FILTER_QUEUES[key][1])


class CaseFilterForm(DecodedTextForm):
    OVERDUE_CHOICES = [("", _("不限")), ("1", _("已超期")), ("0", _("未超期"))]

    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("标题、内容关键词或受理编号"), "id": "wb-q"}
        ),
    )
    status = forms.ChoiceField(label=_("状态"), required=False)
    kind = forms.ChoiceField(label=_("类型"), required=False)
    category = forms.TypedChoiceField(label=_("分类"), required=False, coerce=int, empty_value=None)
    region = forms.TypedChoiceField(label=_("区域"), required=False, coerce=int, empty_value=None)
    department = forms.TypedChoiceField(label=_("承办部门"), required=False, coerce=int, empty_value=None)
    overdue = forms.ChoiceField(label=_("超期"), required=False, choices=OVERDUE_CHOICES)
    queue = forms.ChoiceField(required=False, widget=forms.HiddenInput)
    channel = forms.ChoiceField(label=_("渠道"), required=False)
    received_from = forms.DateField(
        label=_("提交日期自"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(
        label=_("提交日期至"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    tree = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        every = [("", _("全部"))]
        self.fields["status"].choices = every + list(CaseStatus.choices)
        self.fields["kind"].choices = every + list(Kind.choices)
        self.fields["channel"].choices = every + list(Channel.choices)
        self.fields["category"].choices = every + category_choices()
        self.fields["region"].choices = every + region_choices()
        self.fields["department"].choices = every + department_choices()
        self.fields["queue"].choices = [("", "")] + [(k, k) for k in [*QUEUES, *FILTER_QUEUES]]

    def to_filters(self) -> CaseFilters:
        """The filters from the valid fields; an invalid value is ignored (and shown next to its field)."""
        data = getattr(self, "cleaned_data", {}) if self.is_bound else {}
        filters = CaseFilters(
            q=data.get("q") or None,
            status=data.get("status") or None,
            kind=data.get("kind") or None,
            category=data.get("category"),
            region=data.get("region"),
            department=data.get("department"),
            channel=data.get("channel") or None,
            received_from=data.get("received_from"),
            received_to=data.get("received_to"),
            tree=bool(data.get("tree")),
        )
        overdue = data.get("overdue")
        if overdue in ("0", "1"):
            filters.overdue = overdue == "1"
        queue = data.get("queue") or ""
        if queue:
            for key, value in vars(queue_filters(queue)).items():
                if value is not None and key in ("queue", "due_soon", "overdue"):
                    setattr(filters, key, value)
        return filters


# ---------------------------------------------------------------------------------------------- actions

NOTE_LABELS = {
    A.DECLINE: _("不予受理理由（将告知群众）"),
    A.REFER: _("转送说明"),
    A.RETURN: _("退单理由"),
    A.REQUEST_EXTENSION: _("延期理由"),
    A.DENY_EXTENSION: _("驳回理由"),
    A.REJECT_REPLY: _("退回理由"),
    A.CLOSE: _("办结说明"),
    A.REOPEN: _("重办理由"),
    A.DECIDE_REVIEW: _("复查意见"),
    A.ESCALATE: _("督办意见"),
    A.MERGE: _("并案说明"),
}


class ActionForm(DecodedTextForm):
    """The note every action takes; required where the workflow table says so."""

    note = forms.CharField(
        label=_("说明"),
        required=False,
        max_length=MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, action: CaseAction, case=None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{action.value}_%s")
        super().__init__(*args, **kwargs)
        self.action = action
        self.case = case
        transition = TRANSITIONS[action]
        self.fields["note"].required = transition.note_required
        self.fields["note"].label = NOTE_LABELS.get(action, _("说明"))
        if not transition.note_required:
            self.fields["note"].help_text = _("选填")

    def payload(self) -> dict[str, Any]:
        return {}


class AssignForm(ActionForm):
    department = forms.TypedChoiceField(label=_("承办部门"), coerce=int)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("请选择")), *department_choices()]
        self.order_fields(["department", "note"])

    def payload(self) -> dict[str, Any]:
        return {"department": self.cleaned_data["department"]}


class ReferForm(ActionForm):
    referred_to = forms.CharField(label=_("转送单位"), max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(["referred_to", "note"])

    def payload(self) -> dict[str, Any]:
        return {"referred_to": self.cleaned_data["referred_to"]}


class ExtensionForm(ActionForm):
    days = forms.IntegerField(label=_("延期天数"), min_value=1, max_value=365)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(["days", "note"])

    def payload(self) -> dict[str, Any]:
        return {"days": self.cleaned_data["days"]}


class ReplyForm(ActionForm):
    text = forms.CharField(
        label=_("答复内容"),
        max_length=settings.MINYI_MAX_CONTENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(["text", "note"])

    def payload(self) -> dict[str, Any]:
        return {"text": self.cleaned_data["text"]}


class ApproveReplyForm(ActionForm):
    text = forms.CharField(
        label=_("答复内容（可修改后发出）"),
        required=False,
        max_length=settings.MINYI_MAX_CONTENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def __init__(self, *args: Any, pending_text: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and pending_text:
            self.initial["text"] = pending_text
        self.order_fields(["text", "note"])

    def payload(self) -> dict[str, Any]:
        text = self.cleaned_data.get("text") or ""
        return {"text": text} if text.strip() else {}


class MergeForm(ActionForm):
    into = forms.CharField(label=_("并入的主诉求受理编号"), max_length=24)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(["into", "note"])

    def payload(self) -> dict[str, Any]:
        return {"into": self.cleaned_data["into"].strip().upper()}


class DecideReviewForm(ActionForm):
    DECISIONS = [("upheld", _("维持原答复，办结")), ("redo", _("重新办理"))]
    decision = forms.ChoiceField(label=_("复查决定"), choices=DECISIONS, widget=forms.RadioSelect)
    department = forms.TypedChoiceField(
        label=_("重办部门"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("重新办理时可改派部门；不选则由原部门重办"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("原承办部门")), *department_choices()]
        self.order_fields(["decision", "department", "note"])

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"decision": self.cleaned_data["decision"]}
        if self.cleaned_data.get("department"):
            data["department"] = self.cleaned_data["department"]
        return data


class ReopenForm(ActionForm):
    department = forms.TypedChoiceField(
        label=_("重办部门"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("不选则由原部门重办"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("原承办部门")), *department_choices()]
        self.order_fields(["department", "note"])

    def payload(self) -> dict[str, Any]:
        department = self.cleaned_data.get("department")
        return {"department": department} if department else {}


ACTION_FORMS: dict[CaseAction, type[ActionForm]] = {
    A.ASSIGN: AssignForm,
    A.REFER: ReferForm,
    A.REQUEST_EXTENSION: ExtensionForm,
    A.REPLY: ReplyForm,
    A.APPROVE_REPLY: ApproveReplyForm,
    A.MERGE: MergeForm,
    A.DECIDE_REVIEW: DecideReviewForm,
    A.REOPEN: ReopenForm,
}


def action_form(action: CaseAction, *, case=None, data=None, pending_text: str = "") -> ActionForm:
    """The form for `action` (bound when `data` is given)."""
    cls = ACTION_FORMS.get(action, ActionForm)
    kwargs: dict[str, Any] = {"action": action, "case": case}
    if cls is ApproveReplyForm:
        kwargs["pending_text"] = pending_text
    return cls(data, **kwargs) if data is not None else cls(**kwargs)


def add_service_errors(form: forms.Form, fields: dict[str, Any], message: str) -> None:
    """Show a service's ValidationFailed next to the fields it names (when the form has them)."""
    named = [name for name in fields if name in form.fields]
    for name in named:
        # One field: the service's message says it all. Several: each field carries its own message.
        form.add_error(name, message if len(named) == 1 else str(fields[name]))
