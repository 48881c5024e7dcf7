"""How the API reads and writes JSON.

Reading is strict, and every refusal says why in the user's language:
- a body over MINYI_API_MAX_BODY_BYTES (1 MiB by default) -> 413;
- bytes that are not UTF-8 (a GB18030 or Big5 encoded body, say) -> 400 `invalid_encoding`:
  RFC 8259 requires UTF-8, and guessing an encoding would store mojibake;
- text that is not JSON, NaN/Infinity, nesting too deep, numbers too long -> 400 `invalid_json`;
- strings with lone surrogates (``"\\ud800"``), which are not text and cannot be stored -> 400 `invalid_encoding`.
A UTF-8 byte-order mark is tolerated.

Writing keeps Chinese readable (no \\uXXXX escapes).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.parser import Parser
from ninja.renderers import JSONRenderer

from minyi.core.exceptions import ValidationFailed

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def max_body_bytes() -> int:
    return int(getattr(settings, "MINYI_API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def check_body_size(request: HttpRequest) -> None:
    from minyi.api.errors import PayloadTooLarge, body_too_large_message

    if _content_length(request) > max_body_bytes():
        raise PayloadTooLarge(body_too_large_message(), fields={"body": _("过大")})


def _invalid_encoding() -> ValidationFailed:
    # The same sentence as the web form's (minyi.intake), so both channels say it alike.
    return ValidationFailed(
        _("提交的内容不是有效的 UTF-8 编码文本，请检查后重新提交。"),
        code="invalid_encoding",
        fields={"body": _("编码无效")},
    )


def _invalid_json() -> ValidationFailed:
    return ValidationFailed(
        _("请求体不是有效的 JSON。"), code="invalid_json", fields={"body": _("格式不正确")}
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _invalid_encoding() from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json_bytes(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid_encoding() from None
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _invalid_json() from None
    _check_strings(data)
    return data


class StrictJSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        check_body_size(request)
        data = parse_json_bytes(request.body)
        request.minyi_json = data  # the body as sent, for the Idempotency-Key fingerprint
        return data


class ReadableJSONRenderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}
