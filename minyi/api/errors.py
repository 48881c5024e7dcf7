"""One error shape for every JSON answer under /api/v1 and /healthz:

    {"error": {"code": "...", "message": "...", "fields": {...}}}

`code` is a stable token for programs, `message` is for people (in the request's language, chosen by
LocaleMiddleware from Accept-Language), `fields` names the inputs at fault, or carries details such as
the actions a case allows now (`fields.allowed`).

Every exception that can leave an API view is mapped here: the domain's errors (minyi.core.exceptions)
by their status code, django-ninja's own (validation, authentication, throttling, unparseable bodies),
Django's (Http404, RequestDataTooBig, PermissionDenied), and anything else as a generic 500 that is
logged with its type and stack but never with the request's data.
"""

from __future__ import annotations

import functools
import json
import logging
import traceback
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from minyi.core.exceptions import DomainError

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger("minyi.api")


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class LockedOut(DomainError):
    status_code = 429
    code = "locked_out"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "fields": _jsonable(fields or {})}}


def _jsonable(value: Any) -> Any:
    """Lazy translation strings and other odd values become plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def json_error(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None, **headers: str
) -> HttpResponse:
    """The error shape as a plain Django response (for views outside ninja: /healthz, unknown API paths)."""
    response = HttpResponse(
        json.dumps(error_body(code, message, fields), ensure_ascii=False),
        status=status,
        content_type="application/json; charset=utf-8",
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def body_too_large_message() -> str:
    return _("请求体过大，不能超过 %(n)s KB。") % {"n": _max_body_kb()}


def _max_body_kb() -> int:
    from minyi.api.parser import max_body_bytes

    return max_body_bytes() // 1024


# ---------------------------------------------------------------------------------------------- validation


def _reason(error_type: str) -> str:
    """A pydantic error type as a short reason in the user's language."""
    if error_type == "missing":
        return _("必填")
    if error_type.startswith("string"):
        return _("应为文本")
    if error_type.startswith("bool"):
        return _("应为 true 或 false")
    if error_type.startswith("int"):
        return _("应为整数")
    if error_type.startswith(("float", "decimal", "finite")):
        return _("应为数字")
    if error_type in ("dict_type", "model_type", "model_attributes_type"):
        return _("应为 JSON 对象")
    if error_type.startswith(("greater_than", "less_than")):
        return _("超出范围")
    return _("格式不正确")


def _field_name(loc: tuple | list, param_names: frozenset[str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form", "file"):
        source, parts = parts[0], parts[1:]
    else:
        source = "body"
    if parts and parts[0] in param_names:
        parts = parts[1:]
    return ".".join(parts) or source


def validation_fields(errors: list[dict[str, Any]]) -> dict[str, str]:
    from minyi.api.v1.schemas import PARAM_NAMES

    fields: dict[str, str] = {}
    for error in errors:
        name = _field_name(error.get("loc", ()), PARAM_NAMES)
        fields.setdefault(name, _reason(str(error.get("type", ""))))
    return fields


def validation_response_data(errors: list[dict[str, Any]]) -> dict[str, Any]:
    fields = validation_fields(errors)
    if list(fields) == ["body"] and fields["body"] == _("必填"):
        message = _("请求体不能为空，请提交 JSON 对象。")
    else:
        name, reason = next(iter(fields.items()))
        message = _("请求数据格式不正确：%(field)s %(reason)s。") % {"field": name, "reason": reason}
    return error_body("validation_error", message, fields)


# ---------------------------------------------------------------------------------------------- handlers


def _domain(api: NinjaAPI, request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, error_body(exc.code, exc.message, exc.fields), status=exc.status_code)


def _ninja_validation(api: NinjaAPI, request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return api.create_response(request, validation_response_data(exc.errors), status=400)


def _http_error(api: NinjaAPI, request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    # ninja wraps whatever the body parser raised in HttpError(400, "Cannot parse request body"):
    # our parser raises DomainErrors with a proper message, so answer with those.
    if isinstance(cause, DomainError):
        return _domain(api, request, cause)
    if isinstance(cause, RequestDataTooBig):
        return _too_big(api, request, cause)
    if isinstance(exc, Throttled):
        response = api.create_response(
            request, error_body("rate_limited", _("请求过于频繁，请稍后再试。")), status=429
        )
        if exc.wait:
            response["Retry-After"] = str(max(1, int(exc.wait)))
        return response
    if isinstance(exc, AuthenticationError):
        response = api.create_response(
            request,
            error_body("unauthorized", _("需要有效的接口令牌（Authorization: Bearer …）。")),
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="minyi"'
        return response
    if isinstance(exc, AuthorizationError):
        return api.create_response(request, error_body("forbidden", _("无权访问。")), status=403)
    if exc.status_code == 400:
        return api.create_response(
            request, error_body("invalid_request", _("无法解析请求体，请提交 JSON 对象。")), status=400
        )
    return api.create_response(request, error_body("http_error", str(exc)), status=exc.status_code)


def _not_found(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, error_body("not_found", _("未找到。")), status=404)


def _too_big(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, error_body("payload_too_large", body_too_large_message()), status=413)


def _suspicious(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.warning("suspicious request refused: %s on %s", type(exc).__name__, request.path)
    return api.create_response(request, error_body("bad_request", _("请求无效。")), status=400)


def _permission_denied(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, error_body("forbidden", _("无权访问。")), status=403)


def log_unexpected(request: HttpRequest, exc: BaseException) -> None:
    """Type, path and stack only: never the exception's message or the request's data (personal data)."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, request.path, stack)


def _unexpected(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    log_unexpected(request, exc)
    return api.create_response(
        request, error_body("server_error", _("服务器内部错误，请稍后再试。")), status=500
    )


def install(api: NinjaAPI) -> None:
    """Replace django-ninja's default exception handlers with ours."""
    handlers = {
        DomainError: _domain,
        NinjaValidationError: _ninja_validation,
        HttpError: _http_error,
        Http404: _not_found,
        RequestDataTooBig: _too_big,
        SuspiciousOperation: _suspicious,
        PermissionDenied: _permission_denied,
        Exception: _unexpected,
    }
    for exc_class, handler in handlers.items():
        api.add_exception_handler(exc_class, functools.partial(handler, api))


# ---------------------------------------------------------------------------------------------- URL level


def json_errors_view(view):
    """Wrap a URL callback so that errors raised outside ninja's operations (unknown method, the API
    root, a body too large to read) still answer in the error shape."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return api_not_found(request)
        except RequestDataTooBig:
            return json_error(413, "payload_too_large", body_too_large_message())
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = response.get("Allow", "")
            return json_error(
                405,
                "method_not_allowed",
                _("不支持该请求方法。"),
                {"allowed_methods": [m.strip() for m in allowed.split(",") if m.strip()]},
                Allow=allowed,
            )
        return response

    return wrapped


def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return json_error(404, "not_found", _("未找到该接口。"))
