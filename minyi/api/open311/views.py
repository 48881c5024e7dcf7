"""Open311 GeoReport v2 at /open311/v2/ (and the dry-run test endpoint at /open311/v2/test/).

The methods of http://wiki.open311.org/GeoReport_v2 and its Service Discovery, each in `.xml` and `.json`.
This module is transport only: parsing, limits and error bodies. Intake (minyi.intake.open311) checks and stores
a POST as an ordinary case; minyi.api.open311.selectors decides what GET may show. docs/open311.md maps fields.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from minyi.api.open311 import selectors
from minyi.api.open311.render import CONTENT_TYPES, render, render_errors
from minyi.core.exceptions import DomainError, NotFound, ValidationFailed
from minyi.core.ratelimit import check_request_rate
from minyi.intake import open311 as intake

logger = logging.getLogger("minyi.api.open311")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: When the service discovery document or the service definitions last changed in a way clients should notice
#: (the spec's "changeset": a sortable string). Raise it with any change to the attributes or to this module's
#: discovery answer. Categories carry no modification time, so their own edits do not move it.
CHANGESET = "2026-12-01 00:00"
MAX_SERVICE_CODES = 200


def _error(fmt: str, status: int, description: str, **headers: str) -> HttpResponse:
    response = render_errors(fmt, status, [description])
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _check_jurisdiction(request: HttpRequest, params: dict[str, str] | None = None) -> None:
    expected = (settings.MINYI_OPEN311_JURISDICTION or "").strip()
    given = ((params or {}).get("jurisdiction_id") or request.GET.get("jurisdiction_id") or "").strip()
    if expected and given and given.casefold() != expected.casefold():
        raise NotFound(
            _("jurisdiction_id“%(id)s”不存在，本接口服务的是“%(expected)s”。")
            % {"id": given[:100], "expected": expected}
        )


def _check_query_encoding(request: HttpRequest) -> None:
    # Django decodes the query string with errors="replace": U+FFFD means the bytes were not UTF-8.
    for key, values in request.GET.lists():
        if "\ufffd" in key or any("\ufffd" in v for v in values):
            raise ValidationFailed(_("请求参数不是有效的 UTF-8 编码文本。"))


def endpoint(*methods: str) -> Callable:
    """The frame of every method: the format (404 when unknown), rate limit (429), HTTP method (405),
    jurisdiction (404), and any refusal of the domain as the spec's error body in the request's format."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, fmt: str = "xml", test: bool = False, **kwargs: Any):
            if fmt not in CONTENT_TYPES:
                return _error(
                    "xml", 404, _("不支持的格式“%(fmt)s”，请用 .xml 或 .json。") % {"fmt": fmt[:20]}
                )
            try:
                check_request_rate(request, "open311")
                if request.method not in methods:
                    return _error(
                        fmt, 405, _("该地址不支持 %(method)s 请求。") % {"method": request.method[:10]},
                        Allow=", ".join(methods),
                    )  # fmt: skip
                _check_query_encoding(request)
                return view(request, *args, fmt=fmt, test=test, **kwargs)
            except DomainError as exc:
                status = exc.status_code if exc.status_code in (400, 403, 404, 413, 429) else 400
                extra = {"Retry_After": "60"} if status == 429 else {}
                return _error(fmt, status, str(exc.message), **extra)
            except RequestDataTooBig:
                return _error(fmt, 413, _("请求体过大。"))
            except Exception:
                # Logged with its type and stack, never with the request's data.
                logger.exception("open311 %s failed", view.__name__)
                return _error(fmt, 500, _("服务暂时出现故障，请稍后再试。"))

        return csrf_exempt(wrapper)

    return decorate


# ---------------------------------------------------------------------------------------------- discovery


def _base_url() -> str:
    return f"{settings.MINYI_SITE_URL}/open311/v2/"


def _test_url() -> str:
    return settings.MINYI_OPEN311_TEST_URL or f"{settings.MINYI_SITE_URL}/open311/v2/test/"


@endpoint("GET", "HEAD")
def discovery(request: HttpRequest, *, fmt: str, test: bool) -> HttpResponse:
    formats = ["text/xml", "application/json"]
    values = {
        "site": settings.MINYI_SITE_NAME,
        "email": settings.DEFAULT_FROM_EMAIL,
        "url": settings.MINYI_SITE_URL,
    }
    document = {
        "changeset": CHANGESET,
        "contact": _("%(site)s Open311 接口（%(url)s），联系邮箱：%(email)s") % values,
        "key_service": _(
            "提交服务请求须有 api_key，由%(site)s管理员签发：请发邮件至 %(email)s，写明应用名称和联系人。"
        )
        % values,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": _base_url(),
                "changeset": CHANGESET,
                "type": "production",
                "formats": formats,
            },
            {
                "specification": SPECIFICATION,
                "url": _test_url(),
                "changeset": CHANGESET,
                "type": "test",
                "formats": formats,
            },
        ],
    }
    return render(fmt, "discovery", document)


@csrf_exempt
def root(request: HttpRequest, *, test: bool = False) -> HttpResponse:
    """The bare endpoint URL leads to the discovery document (the spec suggests serving something there)."""
    if request.method not in ("GET", "HEAD"):
        return not_found(request)
    return HttpResponseRedirect(request.path.rstrip("/") + "/discovery.xml")


# ---------------------------------------------------------------------------------------------- services


def _keywords(text: str) -> str | None:
    words = [w for w in re.split(r"[\s,，、;；]+", text or "") if w]
    return ", ".join(words) or None


def _service(category, names: dict[int, str]) -> dict[str, Any]:
    ancestors = [int(p) for p in category.path.strip("/").split("/") if p]
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": " / ".join(names[pk] for pk in ancestors if pk in names) or category.name,
        "metadata": bool(intake.service_attributes(category)),
        "type": "realtime",
        "keywords": _keywords(category.keywords),
        "group": category.parent.name if category.parent_id else category.name,
    }


def _category_names() -> dict[int, str]:
    from minyi.routing.models import Category

    return dict(Category.objects.values_list("id", "name"))


@endpoint("GET", "HEAD")
def services(request: HttpRequest, *, fmt: str, test: bool) -> HttpResponse:
    _check_jurisdiction(request)
    names = _category_names()
    return render(fmt, "services", [_service(c, names) for c in intake.service_list()])


@endpoint("GET", "HEAD")
def service_definition(request: HttpRequest, service_code: str, *, fmt: str, test: bool) -> HttpResponse:
    _check_jurisdiction(request)
    category = intake.service_get(service_code)
    attributes = []
    for attribute in intake.service_attributes(category):
        item: dict[str, Any] = {
            "variable": attribute.variable,
            "code": attribute.code,
            "datatype": attribute.datatype,
            "required": attribute.required,
            "datatype_description": intake.attribute_datatype_description(attribute),
            "order": attribute.order,
            "description": str(attribute.description),
        }
        if attribute.is_list:
            item["values"] = [{"key": v.key, "name": str(v.name)} for v in attribute.values]
        attributes.append(item)
    return render(fmt, "service_definition", {"service_code": category.code, "attributes": attributes})


# ---------------------------------------------------------------------------------------------- requests

_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]{1,60})\](?:\[\d*\])?$")


def _form_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    """The POST's fields, decoded strictly as UTF-8 (the spec: "assumed to be UTF-8"); 400 otherwise."""
    content_type = (request.content_type or "").lower()
    if content_type.startswith("multipart/"):
        pairs = [(k, v) for k, values in request.POST.lists() for v in values]
        if any("\ufffd" in k or "\ufffd" in v for k, v in pairs):
            raise ValidationFailed(_("提交的内容不是有效的 UTF-8 编码文本。"))
        return pairs
    if content_type not in ("application/x-www-form-urlencoded", "", "text/plain"):
        raise ValidationFailed(_("请以 application/x-www-form-urlencoded 格式提交。"))
    try:
        body = request.body.decode("utf-8")
        return parse_qsl(
            body,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )
    except UnicodeDecodeError:
        raise ValidationFailed(_("提交的内容不是有效的 UTF-8 编码文本。"))
    except (ValueError, TooManyFieldsSent):
        raise ValidationFailed(_("提交的字段过多。"))


def _split_form(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    params: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    for key, value in pairs:
        match = _ATTRIBUTE_KEY.match(key)
        if match:
            attributes.setdefault(match.group(1), []).append(value)
        elif key not in params:  # a repeated field: the first one counts
            params[key] = value
    return params, attributes


def _post_request(request: HttpRequest, *, fmt: str, test: bool) -> HttpResponse:
    params, attributes = _split_form(_form_pairs(request))
    _check_jurisdiction(request, params)
    client = intake.open311_client_authenticate(params.get("api_key") or request.GET.get("api_key"))
    receipt = intake.open311_submit(client=client, params=params, attributes=attributes, dry_run=test)
    document = [
        {
            "service_request_id": receipt.service_request_id,
            "service_notice": receipt.service_notice,
            "account_id": receipt.account_id or None,
        }
    ]
    return render(fmt, "service_requests", document)


_W3C_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_W3C_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$")


def parse_w3c(value: str, name: str, *, end: bool = False) -> datetime:
    """A W3C date-time (ISO 8601 subset). A date alone means the start of that day (for an end date, its end),
    and a time without offset the site's time zone. A '+' turned into a space by the URL is read as '+'."""
    text = value.strip()
    text = re.sub(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$", r"\1+\2", text)
    try:
        if _W3C_DATE.match(text):
            parts = [int(p) for p in text.split("-")] + [1, 1]
            day = datetime(parts[0], parts[1], parts[2]).date()  # noqa: DTZ001 - a calendar date
            moment = datetime.combine(day, time.min)
            if end:
                if len(text) == 4:
                    moment = moment.replace(year=moment.year + 1)
                elif len(text) == 7:
                    moment = (moment + timedelta(days=32)).replace(day=1)
                else:
                    moment += timedelta(days=1)
                moment -= timedelta(microseconds=1)
            return timezone.make_aware(moment)
        if not _W3C_DATETIME.match(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        moment.astimezone(timezone.get_current_timezone())  # raises OverflowError at the calendar's edges
        return moment
    except (ValueError, OverflowError):
        raise ValidationFailed(
            _("%(name)s 的格式不正确，应为 W3C 日期时间，例如 2010-01-01T00:00:00Z。") % {"name": name}
        )


def _comma_list(request: HttpRequest, name: str) -> list[str]:
    items: list[str] = []
    for value in request.GET.getlist(name):
        items.extend(item.strip() for item in value.split(","))
    return [item for item in items if item]


def _get_filter(request: HttpRequest) -> selectors.RequestFilter:
    ids = _comma_list(request, "service_request_id")
    if len(ids) > selectors.MAX_IDS:
        raise ValidationFailed(
            _("一次最多查询 %(n)s 个 service_request_id，本次有 %(count)s 个。")
            % {"n": selectors.MAX_IDS, "count": len(ids)}
        )
    if ids:  # the spec: "This overrides all other arguments."
        return selectors.RequestFilter(ids=sorted({i.upper() for i in ids if len(i) <= 24}))

    codes = _comma_list(request, "service_code")
    if len(codes) > MAX_SERVICE_CODES:
        raise ValidationFailed(_("一次最多查询 %(n)s 个 service_code。") % {"n": MAX_SERVICE_CODES})
    statuses = {s.lower() for s in _comma_list(request, "status")}
    wrong = sorted(statuses - {"open", "closed"})
    if wrong:
        raise ValidationFailed(
            _("status 只能是 open 或 closed，收到“%(value)s”。") % {"value": wrong[0][:20]}
        )

    start_raw = (request.GET.get("start_date") or "").strip()
    end_raw = (request.GET.get("end_date") or "").strip()
    start = parse_w3c(start_raw, "start_date") if start_raw else None
    end = parse_w3c(end_raw, "end_date", end=True) if end_raw else None
    span = timedelta(days=selectors.MAX_SPAN_DAYS)
    try:
        if start is None and end is None:
            end = timezone.now()
            start = end - span
        elif start is None:
            start = end - span
        elif end is None:
            end = start + span
    except OverflowError:  # within 90 days of the calendar's edge
        raise ValidationFailed(_("日期超出范围。"))
    if start > end:
        raise ValidationFailed(_("start_date 不能晚于 end_date。"))
    if end - start > span:
        raise ValidationFailed(
            _("start_date 与 end_date 的跨度不能超过 %(n)s 天。") % {"n": selectors.MAX_SPAN_DAYS}
        )
    return selectors.RequestFilter(
        service_codes=codes or None, start=start, end=end, statuses=frozenset(statuses) or None
    )


@endpoint("GET", "HEAD", "POST")
def requests(request: HttpRequest, *, fmt: str, test: bool) -> HttpResponse:
    if request.method == "POST":
        return _post_request(request, fmt=fmt, test=test)
    _check_jurisdiction(request)
    return render(fmt, "service_requests", selectors.requests_list(_get_filter(request)))


@endpoint("GET", "HEAD")
def request_detail(request: HttpRequest, service_request_id: str, *, fmt: str, test: bool) -> HttpResponse:
    _check_jurisdiction(request)
    found = selectors.request_get(service_request_id)
    if found is None:
        raise NotFound(_("service_request_id“%(id)s”不存在。") % {"id": service_request_id[:40]})
    return render(fmt, "service_requests", [found])


@endpoint("GET", "HEAD")
def token(request: HttpRequest, token: str, *, fmt: str, test: bool) -> HttpResponse:
    _check_jurisdiction(request)
    found = intake.open311_token_lookup(token)
    return render(
        fmt, "service_requests", [{"service_request_id": found.case.tracking_number, "token": found.token}]
    )


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "", *, test: bool = False) -> HttpResponse:
    """Any other path under /open311/v2/: 404 in the spec's shape (JSON when the path asks for it)."""
    fmt = "json" if rest.lower().endswith(".json") else "xml"
    return _error(fmt, 404, _("没有这个 Open311 资源，请查看 discovery.xml。"))
