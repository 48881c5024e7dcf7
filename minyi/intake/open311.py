"""Open311 GeoReport v2 intake: API keys of the client apps, the attributes each service asks for, and the POST
of a service request, which becomes an ordinary case through `submission_ingest` (channel "open311").

The transport (formats, URLs, error bodies) is minyi.api.open311; docs/open311.md maps every field.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.accounts.models import Region
from minyi.cases.models import Case
from minyi.core.choices import Channel, Kind
from minyi.core.exceptions import Forbidden, NotFound, ValidationFailed
from minyi.intake.models import Open311Client, Open311Request
from minyi.intake.services import submission_ingest, validate_submission
from minyi.routing.models import Category
from minyi.text.normalize import strip_invisible

#: Characters of a key kept in clear (Open311Client.key_prefix), to tell keys apart in the admin.
KEY_PREFIX_CHARS = 8
#: Most attribute values, and most characters of one, that a POST may carry.
MAX_ATTRIBUTE_VALUES = 20
MAX_ATTRIBUTE_CHARS = 200
#: Longest free identifiers the spec lets a client send (device_id, account_id; the model's width).
MAX_ID_CHARS = 100
MAX_MEDIA_URL_CHARS = 1000
#: Characters of the description that a derived title carries after the service name.
TITLE_SNIPPET_CHARS = 24


# ---------------------------------------------------------------------------------------------- API keys


def _key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def open311_key_assign(client: Open311Client) -> str:
    """Give `client` a new random key (unsaved: the caller saves). Returns the key, which is stored only as its
    SHA-256 hash and a short prefix: show it once, it cannot be recovered."""
    raw_key = secrets.token_urlsafe(30)  # 40 characters, 240 bits
    client.key_prefix = raw_key[:KEY_PREFIX_CHARS]
    client.key_hash = _key_hash(raw_key)
    return raw_key


def open311_client_create(*, name: str, contact: str = "") -> tuple[Open311Client, str]:
    """A new client app and its key (shown once)."""
    client = Open311Client(name=name, contact=contact)
    raw_key = open311_key_assign(client)
    client.full_clean(exclude=["key_prefix", "key_hash"])
    client.save()
    return client, raw_key


def open311_client_authenticate(api_key: Any, *, now: datetime | None = None) -> Open311Client:
    """The active client whose key this is; Forbidden (403) for a missing, unknown or disabled key.

    Keys are compared as SHA-256 hashes, in constant time, among the clients that share the key's prefix.
    """
    raw_key = str(api_key or "").strip()
    if not raw_key:
        raise Forbidden(_("缺少 api_key，无法提交服务请求。"), code="api_key_missing")
    if len(raw_key) > 200:
        raise Forbidden(_("api_key 无效，无法提交服务请求。"), code="api_key_invalid")
    digest = _key_hash(raw_key)
    for client in Open311Client.objects.filter(key_prefix=raw_key[:KEY_PREFIX_CHARS], is_active=True):
        if hmac.compare_digest(client.key_hash, digest):
            now = now or timezone.now()
            Open311Client.objects.filter(pk=client.pk).update(last_used_at=now)
            client.last_used_at = now
            return client
    raise Forbidden(_("api_key 无效，无法提交服务请求。"), code="api_key_invalid")


# ---------------------------------------------------------------------------------------------- services


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str | Promise


@dataclass(frozen=True)
class Attribute:
    """One attribute of a service definition (GeoReport v2 "GET Service Definition")."""

    code: str
    datatype: str  # string | number | datetime | text | singlevaluelist | multivaluelist
    description: str | Promise
    order: int
    required: bool = False
    variable: bool = True
    datatype_description: str | Promise | None = None
    values: tuple[AttributeValue, ...] = field(default_factory=tuple)

    @property
    def is_list(self) -> bool:
        return self.datatype in ("singlevaluelist", "multivaluelist")


#: The kinds an Open311 client may choose: every kind but the petition (信访), which has its own procedure.
OPEN311_KINDS = tuple(k for k in Kind if k != Kind.PETITION)

_ATTRIBUTES = (
    Attribute(
        code="kind",
        datatype="singlevaluelist",
        order=1,
        description=gettext_lazy("诉求类型（不填为“投诉”）"),
        values=tuple(AttributeValue(k.value, k.label) for k in OPEN311_KINDS),
    ),
    Attribute(
        code="anonymous",
        datatype="singlevaluelist",
        order=2,
        description=gettext_lazy("匿名反映：选“是”则不保存姓名、电话和电子邮件（不填为“否”）"),
        values=(AttributeValue("false", gettext_lazy("否")), AttributeValue("true", gettext_lazy("是"))),
    ),
    Attribute(
        code="publish",
        datatype="singlevaluelist",
        order=3,
        description=gettext_lazy(
            "是否同意答复后在留言板公开（公开时隐去个人信息；信访件和不宜公开的事项不公开；不填为“同意”）"
        ),
        values=(
            AttributeValue("true", gettext_lazy("同意公开")),
            AttributeValue("false", gettext_lazy("不同意公开")),
        ),
    ),
    Attribute(
        code="title",
        datatype="string",
        order=4,
        description=gettext_lazy("标题（不填则由服务名称和描述的开头组成）"),
        datatype_description=gettext_lazy("一句话，不超过 %(n)s 字"),
    ),
)


def service_list() -> list[Category]:
    """The services: every active category, parents loaded (for the group), in the admin's order."""
    return list(
        Category.objects.filter(is_active=True).select_related("parent").order_by("sort_order", "path")
    )


def service_get(service_code: Any) -> Category:
    """The active category behind a service code; NotFound (404) otherwise."""
    code = str(service_code or "").strip()
    category = (
        Category.objects.filter(is_active=True, code=code).select_related("parent").first() if code else None
    )
    if category is None:
        raise NotFound(
            _("service_code“%(code)s”不存在。") % {"code": code[:60]}, code="service_code_not_found"
        )
    return category


def service_attributes(category: Category) -> tuple[Attribute, ...]:
    """The attributes of a service's definition. The same for every category today (the kind, anonymity, consent
    to publication and a title); a function so that categories can grow their own."""
    return _ATTRIBUTES


def attribute_datatype_description(attribute: Attribute) -> str | None:
    if attribute.datatype_description is None:
        return None
    return str(attribute.datatype_description) % {"n": settings.MINYI_MAX_TITLE_CHARS}


# ---------------------------------------------------------------------------------------------- POST requests


@dataclass(frozen=True)
class Open311Receipt:
    """What POST requests answers. `case` is None for a dry run (the test endpoint)."""

    case: Case | None
    service_request_id: str
    token: str
    query_code: str
    account_id: str
    service_notice: str


def _text(params: dict[str, str], name: str) -> str:
    return str(params.get(name) or "").replace("\x00", "").strip()


def _coordinate(value: str, name: str, limit: int) -> Decimal:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            _("%(name)s 应为数字（WGS84 坐标）。") % {"name": name}, fields={name: _("应为数字")}
        )
    if not number.is_finite() or abs(number) > limit:
        raise ValidationFailed(
            _("%(name)s 超出范围（-%(n)s 至 %(n)s）。") % {"name": name, "n": limit},
            fields={name: _("超出范围")},
        )
    return number.quantize(Decimal("0.000001"))


def _location(params: dict[str, str]) -> tuple[Decimal | None, Decimal | None, str, Region | None]:
    lat, long = _text(params, "lat"), _text(params, "long")
    address = " ".join(strip_invisible(_text(params, "address_string")).split())
    address_id = _text(params, "address_id")
    if not (lat or long or address or address_id):
        raise ValidationFailed(
            _("缺少位置：请提供 lat 和 long，或 address_string，或 address_id。"),
            fields={"location": _("必填")},
        )
    if bool(lat) != bool(long):
        raise ValidationFailed(
            _("lat 和 long 须同时提供。"), fields={"lat" if not lat else "long": _("必填")}
        )
    latitude = _coordinate(lat, "lat", 90) if lat else None
    longitude = _coordinate(long, "long", 180) if long else None
    region = None
    if address_id:
        # Our addressing system is the region tree: address_id is a region's code.
        region = Region.objects.filter(code=address_id[:40]).first() if len(address_id) <= 40 else None
        if region is None:
            raise ValidationFailed(
                _("address_id“%(id)s”不存在（应为区域编码）。") % {"id": address_id[:40]},
                fields={"address_id": _("不存在")},
            )
    return latitude, longitude, address, region


def _attributes(category: Category, given: dict[str, list[str]]) -> dict[str, Any]:
    """The known attributes, checked against the service definition; unknown codes are ignored."""
    clean: dict[str, Any] = {}
    for attribute in service_attributes(category):
        values = [v.replace("\x00", "").strip() for v in given.get(attribute.code, [])]
        values = [v for v in values if v]
        if not values:
            if attribute.required:
                raise ValidationFailed(
                    _("缺少必填属性 attribute[%(code)s]。") % {"code": attribute.code},
                    fields={f"attribute[{attribute.code}]": _("必填")},
                )
            continue
        name = f"attribute[{attribute.code}]"
        if len(values) > MAX_ATTRIBUTE_VALUES or any(len(v) > MAX_ATTRIBUTE_CHARS for v in values):
            raise ValidationFailed(
                _("属性 %(name)s 的取值过多或过长。") % {"name": name}, fields={name: _("过长")}
            )
        if attribute.datatype != "multivaluelist" and len(values) > 1:
            raise ValidationFailed(
                _("属性 %(name)s 只能有一个取值。") % {"name": name}, fields={name: _("只能有一个取值")}
            )
        if attribute.is_list:
            keys = {v.key for v in attribute.values}
            wrong = next((v for v in values if v not in keys), None)
            if wrong is not None:
                raise ValidationFailed(
                    _("属性 %(name)s 的取值“%(value)s”无效，可选：%(keys)s。")
                    % {"name": name, "value": wrong[:40], "keys": ", ".join(sorted(keys))},
                    fields={name: _("无效")},
                )
        clean[attribute.code] = values if attribute.datatype == "multivaluelist" else values[0]
    return clean


def _media_url(value: str) -> str:
    if not value:
        return ""
    try:
        if len(value) > MAX_MEDIA_URL_CHARS:
            raise DjangoValidationError("too long")
        URLValidator(schemes=["http", "https"])(value)
    except DjangoValidationError:
        raise ValidationFailed(
            _("media_url 应为 http 或 https 网址（不超过 %(n)s 字符）。") % {"n": MAX_MEDIA_URL_CHARS},
            fields={"media_url": _("无效")},
        )
    return value


_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


def derived_title(service_name: str, description: str) -> str:
    """'<service name>：<the description's first words>' within the title limit."""
    text = " ".join(strip_invisible(description).split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip(" ，,：:")
    if not first:
        return service_name[: settings.MINYI_MAX_TITLE_CHARS]
    if len(first) > TITLE_SNIPPET_CHARS:
        first = first[:TITLE_SNIPPET_CHARS].rstrip() + "…"
    return f"{service_name}：{first}"[: settings.MINYI_MAX_TITLE_CHARS]


def _contact_name(first: str, last: str) -> str:
    first, last = strip_invisible(first).strip(), strip_invisible(last).strip()
    if first.isascii() and last.isascii():
        return " ".join(p for p in (first, last) if p)  # "John Smith"
    return f"{last}{first}"  # 张 + 三: family name first, no space


def _bounded_id(params: dict[str, str], name: str) -> str:
    value = strip_invisible(_text(params, name))
    if len(value) > MAX_ID_CHARS:
        raise ValidationFailed(
            _("%(name)s 不能超过 %(n)s 字符。") % {"name": name, "n": MAX_ID_CHARS}, fields={name: _("过长")}
        )
    return value


def service_notice_for(case_or_none: Case | None, *, tracking_number: str, query_code: str) -> str:
    site = settings.MINYI_SITE_URL
    if case_or_none is None:
        return _("测试接口：请求格式正确，未创建诉求。")
    return _(
        "已收到您的诉求，受理编号 %(number)s，查询码 %(code)s（请妥善保存）。"
        "可在 %(site)s/track/ 查询办理进度、补充材料和评价答复。"
    ) % {"number": tracking_number, "code": query_code, "site": site}


def open311_submit(
    *,
    client: Open311Client,
    params: dict[str, str],
    attributes: dict[str, list[str]],
    now: datetime | None = None,
    dry_run: bool = False,
) -> Open311Receipt:
    """Check one POST requests and, unless `dry_run`, store it as an ordinary case (submission_ingest with
    channel "open311", then triage, routing and the workflow like any other) plus its Open311Request row.

    `params` are the form's single-valued fields (service_code, lat, long, address_string, address_id, email,
    device_id, account_id, first_name, last_name, phone, description, media_url); `attributes` maps attribute
    codes to their values. Raises ValidationFailed (400) or NotFound (404, unknown service_code).
    """
    service_code = _text(params, "service_code")
    if not service_code:
        raise ValidationFailed(_("缺少 service_code。"), fields={"service_code": _("必填")})
    category = service_get(service_code)
    latitude, longitude, address, region = _location(params)
    clean_attributes = _attributes(category, attributes)
    media_url = _media_url(_text(params, "media_url"))
    device_id = _bounded_id(params, "device_id")
    account_id = _bounded_id(params, "account_id")

    description = str(params.get("description") or "").replace("\x00", "")
    if strip_invisible(description).strip():
        content = description
    else:
        content = _("反映事项：%(service)s（该请求未附文字描述）。") % {"service": category.name}
    title = clean_attributes.get("title") or derived_title(category.name, description)
    data = {
        "kind": clean_attributes.get("kind") or Kind.COMPLAINT,
        "title": title,
        "content": content,
        "category": category.pk,  # by key: a code of digits ("001") would read as a primary key
        "region": region.pk if region else None,
        "address": address,
        # as text: intake reads "latitude or lat", and Decimal("0") is false
        "latitude": None if latitude is None else str(latitude),
        "longitude": None if longitude is None else str(longitude),
        "is_anonymous": clean_attributes.get("anonymous") == "true",
        "publication_consent": clean_attributes.get("publish", "true"),
        "contact_name": _contact_name(_text(params, "first_name"), _text(params, "last_name")),
        "contact_phone": _text(params, "phone"),
        "contact_email": _text(params, "email"),
    }
    now = now or timezone.now()
    if dry_run:
        validate_submission(data)
        token = secrets.token_hex(16)
        return Open311Receipt(
            case=None,
            service_request_id=f"TEST-{token[:12].upper()}",
            token=token,
            query_code="",
            account_id=account_id,
            service_notice=service_notice_for(None, tracking_number="", query_code=""),
        )
    with transaction.atomic():
        receipt = submission_ingest(channel=Channel.OPEN311, data=data, now=now)
        request = Open311Request.objects.create(
            case=receipt.case,
            token=secrets.token_hex(16),
            client=client,
            service_code=category.code,
            attributes=clean_attributes,
            media_url=media_url,
            device_id=device_id,
            account_id=account_id,
            created_at=now,
        )
    return Open311Receipt(
        case=receipt.case,
        service_request_id=receipt.tracking_number,
        token=request.token,
        query_code=receipt.query_code,
        account_id=account_id,
        service_notice=service_notice_for(
            receipt.case, tracking_number=receipt.tracking_number, query_code=receipt.query_code
        ),
    )


def open311_token_lookup(token: Any) -> Open311Request:
    """The request behind a token; NotFound (404) otherwise."""
    value = str(token or "").strip()
    found = (
        Open311Request.objects.select_related("case").filter(token=value).first()
        if value and len(value) <= 40
        else None
    )
    if found is None:
        raise NotFound(_("token“%(token)s”不存在。") % {"token": value[:40]}, code="token_not_found")
    return found
