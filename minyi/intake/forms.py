"""The submission forms (public web form and staff log). They present and carry the input;
minyi.intake.services.validate_submission / validate_uploads hold the rules and give the messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from minyi.cases.forms import DecodedTextForm, category_choices, region_choices
from minyi.cases.services import MAX_NOTE_CHARS
from minyi.core.choices import Channel, Kind, Priority


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class SubmissionForm(forms.Form):
    """The fields of an appeal. Every field is optional here: the service decides and explains."""

    kind = forms.CharField(label=_("诉求类型"), required=False, widget=forms.Select)
    title = forms.CharField(
        label=_("标题"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": settings.MINYI_MAX_TITLE_CHARS, "required": True}),
        help_text=_("一句话概括您反映的问题"),
    )
    content = forms.CharField(
        label=_("诉求内容"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "required": True}),
        help_text=_("请写明时间、地点、事情经过和您的诉求，便于快速办理"),
    )
    category = forms.CharField(label=_("问题分类"), required=False, widget=forms.Select)
    region = forms.CharField(label=_("所在区域"), required=False, widget=forms.Select)
    address = forms.CharField(
        label=_("详细地址"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 255, "autocomplete": "street-address"}),
    )
    contact_name = forms.CharField(
        label=_("姓名"), required=False, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    contact_phone = forms.CharField(
        label=_("联系电话"),
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    contact_email = forms.CharField(
        label=_("电子邮件"),
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("留下邮箱可收到受理、答复等进度提醒"),
    )
    is_anonymous = forms.BooleanField(
        label=_("匿名反映（不留联系方式）"),
        required=False,
        widget=forms.CheckboxInput(attrs={"data-toggle-disable": "#contact-fields"}),
        help_text=_("匿名反映时无法电话回访，请务必保存好受理编号和查询码"),
    )
    no_publication = forms.BooleanField(
        label=_("不同意公开我的诉求"),
        required=False,
        help_text=_(
            "答复后，诉求和答复会遮盖个人信息后在留言板公开，姓名、联系方式和附件一律不公开；勾选后不公开"
        ),
    )
    attachments = forms.FileField(
        label=_("上传图片或 PDF"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": ",".join(sorted(settings.MINYI_ATTACHMENT_TYPES))}),
    )

    CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.choices = list(Kind.choices)
        self.fields["category"].widget.choices = [("", _("请选择（不确定可不选）")), *category_choices()]
        self.fields["region"].widget.choices = [("", _("请选择（不确定可不选）")), *region_choices()]
        self.fields["attachments"].help_text = _(
            "可上传 %(n)s 个以内的图片或 PDF（%(types)s），每个不超过 %(mb)s MB"
        ) % {
            "n": settings.MINYI_ATTACHMENT_MAX_COUNT,
            "types": "、".join(sorted(settings.MINYI_ATTACHMENT_TYPES)),
            "mb": settings.MINYI_ATTACHMENT_MAX_BYTES // (1024 * 1024),
        }

    def submission_data(self) -> dict[str, Any]:
        """The data dict for intake.services.submission_ingest (files are passed separately)."""
        return {k: v for k, v in self.cleaned_data.items() if k != "attachments"}

    def contact_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.CONTACT_FIELDS]

    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("kind", "title", "content")]

    def place_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("category", "region", "address")]


class StaffLogForm(SubmissionForm):
    """An appeal received by phone, letter or visit, logged by staff on the person's behalf."""

    channel = forms.ChoiceField(
        label=_("来源渠道"),
        choices=[(c.value, c.label) for c in (Channel.PHONE, Channel.LETTER, Channel.VISIT)],
        widget=forms.RadioSelect,
        initial=Channel.PHONE,
    )
    priority = forms.ChoiceField(
        label=_("紧急程度"), choices=Priority.choices, initial=Priority.ORDINARY, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["is_anonymous"].label = _("来访人要求匿名")
        self.fields["no_publication"].label = _("来电来信人不同意公开其诉求")
        self.fields["contact_email"].help_text = ""

    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("channel", "priority", "kind", "title", "content")]


# ---------------------------------------------------------------------------------------------- triage review


class TriageReviewForm(DecodedTextForm):
    """Accept or correct one part of a triage. Which fields matter depends on the part (minyi.intake.review)."""

    decision = forms.ChoiceField(choices=[("accept", _("确认")), ("correct", _("更正"))])
    category = forms.TypedChoiceField(label=_("正确的分类"), required=False, coerce=int, empty_value=None)
    region = forms.TypedChoiceField(label=_("正确的区域"), required=False, coerce=int, empty_value=None)
    department = forms.TypedChoiceField(label=_("建议承办部门"), required=False, coerce=int, empty_value=None)
    risk_level = forms.ChoiceField(label=_("风险等级"), required=False)
    drop = forms.MultipleChoiceField(label=_("误识别，不需遮盖"), required=False)
    add_phrases = forms.CharField(
        label=_("还需遮盖的原文"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("每行一处，须与诉求中的文字一致。"),
    )
    dismiss = forms.MultipleChoiceField(label=_("不是重复"), required=False)
    repeat = forms.ChoiceField(
        label=_("重复件"),
        required=False,
        choices=[("", _("不变")), ("1", _("标记为重复件")), ("0", _("不是重复件"))],
    )
    note = forms.CharField(
        label=_("说明"), required=False, max_length=MAX_NOTE_CHARS, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, triage=None, candidates: list | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from minyi.cases.forms import department_choices
        from minyi.intake.models import Triage

        empty = [("", "—")]
        # the form of one part (its prefix) lists only that part's choices: the panel renders six forms
        part = self.prefix
        for name, choices in (
            ("category", category_choices),
            ("region", region_choices),
            ("department", department_choices),
        ):
            self.fields[name].choices = empty + (choices() if part in (None, name) else [])
        self.fields["risk_level"].choices = empty + list(Triage.RiskLevel.choices)
        spans = (triage.pii_spans if triage is not None else {}) or {}
        self.fields["drop"].choices = [
            (f"{name}:{i}", f"{name}:{i}") for name, items in spans.items() for i in range(len(items))
        ]
        self.fields["dismiss"].choices = [(str(c), str(c)) for c in (candidates or [])]

    def correction(self):
        from minyi.intake.review import Correction

        data = self.cleaned_data
        phrases = [line.strip() for line in (data.get("add_phrases") or "").splitlines() if line.strip()]
        repeat = {"1": True, "0": False}.get(data.get("repeat") or "")
        return Correction(
            category=data.get("category"),
            region=data.get("region"),
            department=data.get("department"),
            risk_level=data.get("risk_level") or None,
            drop_spans=list(data.get("drop") or []),
            add_phrases=phrases,
            dismiss=[int(x) for x in data.get("dismiss") or [] if str(x).isdigit()],
            repeat=repeat,
        )


# ---------------------------------------------------------------------------------------------- import


class ImportUploadForm(DecodedTextForm):
    file = forms.FileField(label=_("文件"), help_text=_("CSV 或 Excel（.xlsx）导出文件"))
    source = forms.SlugField(
        label=_("来源系统"),
        required=False,
        max_length=80,
        help_text=_("同一来源内按原编号去重；不同系统的编号可能重复时请分别填写，如 12345、xinfang"),
    )
    create_missing = forms.BooleanField(
        label=_("自动新建文件中出现的分类和部门"), required=False, initial=True
    )


class ImportMappingForm(forms.Form):
    """Which column feeds which field: one choice per field, the columns of the file as options."""

    def __init__(
        self, *args: Any, header: list[str], current: dict[str, list[str]], fields: list[str], **kw
    ) -> None:
        super().__init__(*args, **kw)
        from minyi.intake.importer import FIELD_LABELS

        options = [("", "—")] + [(name, name) for name in header if name]
        for name in fields:
            chosen = (current.get(name) or [""])[0]
            self.fields[name] = forms.ChoiceField(
                label=FIELD_LABELS.get(name, name), required=False, choices=options, initial=chosen
            )

    def columns(self) -> dict[str, list[str]]:
        return {name: [value] for name, value in self.cleaned_data.items() if value}
