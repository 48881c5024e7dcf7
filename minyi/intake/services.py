"""Submission from every channel. Nothing reaches `cases` without passing through here."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.accounts.models import Region
from minyi.cases.models import Attachment, Case
from minyi.cases.services import case_create
from minyi.core.choices import Channel, Kind, Priority
from minyi.core.exceptions import NotFound, ValidationFailed
from minyi.core.tasks import enqueue
from minyi.intake.codes import check_query_code, hash_query_code, new_query_code, next_tracking_number
from minyi.routing.models import Category
from minyi.text.normalize import strip_invisible


@dataclass(frozen=True)
class Receipt:
    case: Case
    tracking_number: str
    query_code: str


@dataclass(frozen=True)
class Upload:
    name: str
    content: bytes


def _clean_text(value: Any) -> str:
    # NUL cannot be stored by PostgreSQL and is never meaningful in an appeal; nothing else is altered.
    return ("" if value is None else str(value)).replace("\x00", "")


def _has_decoding_damage(value: str) -> bool:
    # Django decodes request bodies with errors="replace": U+FFFD means the bytes were not valid UTF-8.
    return "\ufffd" in value


def _lookup(model, value: Any, field: str, label: str):
    if value in (None, ""):
        return None
    key = str(value).strip()
    qs = model.objects.filter(is_active=True) if hasattr(model, "is_active") else model.objects.all()
    obj = qs.filter(pk=int(key)).first() if key.isdigit() else qs.filter(code=key).first()
    if obj is None:
        raise ValidationFailed(
            _("%(label)s“%(value)s”不存在。") % {"label": label, "value": key[:40]},
            fields={field: _("不存在")},
        )
    return obj


def _decimal(value: Any, field: str, limit: int) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("坐标格式不正确。"), fields={field: _("无效")})
    if not number.is_finite() or abs(number) > limit:
        raise ValidationFailed(_("坐标超出范围。"), fields={field: _("无效")})
    return number.quantize(Decimal("0.000001"))


_TRUE = frozenset({"1", "true", "on", "yes", "公开", "同意"})
_FALSE = frozenset({"0", "false", "off", "no", "不公开", "不同意"})


def _publication_consent(raw: dict[str, Any], errors: dict[str, str]) -> bool:
    """Whether the person agrees that the case may be published once replied (default: yes).

    `publication_consent`: true / false, 1 / 0, 公开 / 不公开 (the API's `publish`); `no_publication` (the web
    form's checkbox "不同意公开我的诉求"): true means no. Either saying no wins.
    """
    consent = True
    for key, meaning in (("publication_consent", True), ("no_publication", False)):
        value = raw.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            said = value
        else:
            word = str(value).strip().lower()
            if word not in _TRUE | _FALSE:
                errors[key] = _("是否同意公开的选项无效。")
                continue
            said = word in _TRUE
        if said != meaning:
            consent = False
    return consent


def validate_submission(data: dict[str, Any]) -> dict[str, Any]:
    """Check and clean a submission. Raises ValidationFailed with a message in the active language."""
    errors: dict[str, str] = {}
    raw = {k: _clean_text(v) if isinstance(v, str) else v for k, v in data.items()}
    for key, value in raw.items():
        if isinstance(value, str) and _has_decoding_damage(value):
            raise ValidationFailed(
                _("提交的内容不是有效的 UTF-8 编码文本，请检查后重新提交。"), fields={key: _("编码无效")}
            )

    kind = str(raw.get("kind") or Kind.COMPLAINT)
    if kind not in Kind.values:
        errors["kind"] = _("诉求类型“%(value)s”不存在。") % {"value": kind[:40]}
    priority = str(raw.get("priority") or Priority.ORDINARY)
    if priority not in Priority.values:
        errors["priority"] = _("紧急程度无效。")

    title = " ".join(strip_invisible(str(raw.get("title") or "")).split())
    content = str(raw.get("content") or "")
    if not title:
        errors["title"] = _("请填写标题。")
    elif len(title) > settings.MINYI_MAX_TITLE_CHARS:
        errors["title"] = _("标题不能超过 %(n)s 字。") % {"n": settings.MINYI_MAX_TITLE_CHARS}
    if not strip_invisible(content).strip():
        errors["content"] = _("请填写诉求内容。")
    elif len(content) > settings.MINYI_MAX_CONTENT_CHARS:
        errors["content"] = _("诉求内容不能超过 %(n)s 字。") % {"n": settings.MINYI_MAX_CONTENT_CHARS}

    address = str(raw.get("address") or "").strip()
    if len(address) > 255:
        errors["address"] = _("地址不能超过 255 字。")
    is_anonymous = str(raw.get("is_anonymous") or raw.get("anonymous") or "").lower() in (
        "1",
        "true",
        "on",
        "yes",
    )
    contact = {
        "name": strip_invisible(str(raw.get("contact_name") or "")).strip(),
        "phone": str(raw.get("contact_phone") or "").strip(),
        "email": str(raw.get("contact_email") or "").strip(),
    }
    if len(contact["name"]) > 64:
        errors["contact_name"] = _("姓名不能超过 64 字。")
    if contact["phone"] and (
        len(contact["phone"]) > 32 or not all(ch.isdigit() or ch in "+-() " for ch in contact["phone"])
    ):
        errors["contact_phone"] = _("电话号码格式不正确。")
    if contact["email"]:
        try:
            validate_email(contact["email"])
        except DjangoValidationError:
            errors["contact_email"] = _("电子邮件地址格式不正确。")
    publication_consent = _publication_consent(raw, errors)
    if errors:
        first = next(iter(errors.values()))
        raise ValidationFailed(first, fields=errors)

    category = _lookup(Category, raw.get("category"), "category", _("分类"))
    region = _lookup(Region, raw.get("region"), "region", _("区域"))
    return {
        "kind": kind,
        "priority": priority,
        "title": title,
        "content": content,
        "address": address,
        "latitude": _decimal(raw.get("latitude") or raw.get("lat"), "latitude", 90),
        "longitude": _decimal(raw.get("longitude") or raw.get("long"), "longitude", 180),
        "is_anonymous": is_anonymous,
        "contact": {} if is_anonymous else contact,
        "category_id": category.pk if category else None,
        "region_id": region.pk if region else None,
        "publication_consent": publication_consent,
    }


def validate_uploads(files: list[Upload]) -> list[tuple[Upload, str, str]]:
    """Check count, size and type (by content, not only by name). Returns (upload, extension, content type)."""
    if len(files) > settings.MINYI_ATTACHMENT_MAX_COUNT:
        raise ValidationFailed(
            _("附件不能超过 %(n)s 个。") % {"n": settings.MINYI_ATTACHMENT_MAX_COUNT},
            fields={"attachments": _("过多")},
        )
    checked = []
    for upload in files:
        extension = os.path.splitext(upload.name or "")[1].lower()
        allowed = settings.MINYI_ATTACHMENT_TYPES.get(extension)
        if allowed is None:
            raise ValidationFailed(
                _("不支持的附件类型“%(ext)s”，仅支持 %(allowed)s。")
                % {"ext": extension or "?", "allowed": "、".join(sorted(settings.MINYI_ATTACHMENT_TYPES))},
                fields={"attachments": _("类型不支持")},
            )
        if len(upload.content) > settings.MINYI_ATTACHMENT_MAX_BYTES:
            raise ValidationFailed(
                _("附件“%(name)s”超过 %(n)s MB。")
                % {"name": upload.name[:60], "n": settings.MINYI_ATTACHMENT_MAX_BYTES // (1024 * 1024)},
                fields={"attachments": _("过大")},
            )
        content_type, magics = allowed
        if not any(upload.content.startswith(m) for m in magics):
            raise ValidationFailed(
                _("附件“%(name)s”的内容与类型不符。") % {"name": upload.name[:60]},
                fields={"attachments": _("内容不符")},
            )
        checked.append((upload, extension, content_type))
    return checked


@transaction.atomic
def submission_ingest(
    *,
    channel: str,
    data: dict[str, Any],
    files: list[Upload] | None = None,
    submitted_by=None,
    logged_by=None,
    now: datetime | None = None,
) -> Receipt:
    """Validate and store one appeal from any channel. All or nothing. Returns the receipt with the query code."""
    if channel not in Channel.values:
        raise ValidationFailed(_("渠道无效。"), fields={"channel": _("无效")})
    clean = validate_submission(data)
    uploads = validate_uploads(list(files or []))
    now = now or timezone.now()
    code = new_query_code()
    tracking_number = next_tracking_number(timezone.localdate(now))
    case = case_create(
        tracking_number=tracking_number,
        query_code_hash=hash_query_code(code),
        channel=channel,
        submitted_by=submitted_by if submitted_by and submitted_by.is_authenticated else None,
        logged_by=logged_by,
        now=now,
        **clean,
    )
    for upload, extension, content_type in uploads:
        digest = hashlib.sha256(upload.content).hexdigest()
        attachment = Attachment(
            case=case,
            original_name=strip_invisible(os.path.basename(upload.name))[:200] or f"attachment{extension}",
            content_type=content_type,
            extension=extension,
            size=len(upload.content),
            sha256=digest,
        )
        attachment.file.save(f"{digest}{extension}", ContentFile(upload.content), save=False)
        attachment.save()
    # Triage on arrival, in the background once this commits (inline without a broker): minyi.intake.triage.
    enqueue("minyi.intake.triage.triage_case", case_id=case.pk)
    return Receipt(case=case, tracking_number=tracking_number, query_code=code)


def case_get_for_citizen(*, tracking_number: str, query_code: str) -> Case:
    """The case behind a tracking number, if the query code matches; NotFound (404) otherwise, either way."""
    number = (tracking_number or "").strip().upper()[:24]
    case = (
        Case.objects.select_related("category", "region", "department").filter(tracking_number=number).first()
    )
    if case is None or not check_query_code(query_code or "", case.query_code_hash):
        raise NotFound(_("受理编号或查询码不正确。"))
    return case
