"""GeoReport v2 documents in XML and JSON.

A document is built once as plain data in its JSON form (lists, dicts in the spec's field order, scalars) and
written in either format. The XML follows the spec's examples: an XML declaration, no namespace, a container
element per list whose children take the singular name (`services/service`, `service_requests/request`,
`errors/error`, `attributes/attribute`, `values/value`, `endpoints/endpoint`, `formats/format`), booleans as
`true`/`false`, and an empty element for a null. The JSON is the Spark convention's reading of that XML (the
spec's JSON examples): the root's list or object itself, containers as arrays, null for a missing value.

Every string goes through `clean_text` in both formats: characters that XML 1.0 cannot carry (C0 controls but
tab and newlines, lone surrogates, U+FFFE/U+FFFF) are dropped, so both formats carry the same text. In XML,
`&`, `<` and `>` are escaped in every text node (no attributes are written); in JSON markup is plain string
content. Both are compact: a page of 1,000 requests is about a megabyte either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import timezone

CONTENT_TYPES = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
FORMATS = tuple(CONTENT_TYPES)

#: The singular name of each container's children in XML.
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}

_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(value: str) -> str:
    return _XML_ILLEGAL.sub("", value)


def w3c_datetime(value: datetime | None, tz: tzinfo | None = None) -> str | None:
    """A W3C (ISO 8601) date-time with the site's offset and no fraction: 2026-03-02T09:00:00+08:00."""
    if value is None:
        return None
    return value.astimezone(tz or timezone.get_current_timezone()).replace(microsecond=0).isoformat()


def _plain(value: Any, tz: tzinfo) -> Any:
    """The document with every leaf as JSON would carry it (cleaned text, numbers, booleans, null)."""
    kind = type(value)
    if kind is str:
        return _XML_ILLEGAL.sub("", value)
    if value is None or kind is bool or kind is int or kind is float:
        return value
    if kind is dict:
        return {k: _plain(v, tz) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_plain(v, tz) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return w3c_datetime(value, tz)
    return _XML_ILLEGAL.sub("", str(value))  # lazy translations and the like


def plain(document: Any) -> Any:
    return _plain(document, timezone.get_current_timezone())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_write(parts: list[str], name: str, value: Any) -> None:
    """Element names are this module's constants and the spec's field names; text is escaped (after plain()
    dropped what XML cannot carry). No attributes are ever written."""
    kind = type(value)
    if kind is dict:
        parts.append(f"<{name}>")
        for key, child in value.items():
            _xml_write(parts, key, child)
        parts.append(f"</{name}>")
    elif kind is list:
        item = XML_ITEMS[name]
        parts.append(f"<{name}>")
        for child in value:
            _xml_write(parts, item, child)
        parts.append(f"</{name}>")
    elif value is None:
        parts.append(f"<{name}/>")
    else:
        text = (
            ("true" if value else "false") if kind is bool else repr(value) if kind is float else str(value)
        )
        parts.append(f"<{name}>{_escape(text)}</{name}>")


def to_xml(root: str, document: Any) -> str:
    """Compact (no indentation): a page of 1,000 requests is ~50,000 elements."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n']
    _xml_write(parts, root, plain(document))
    parts.append("\n")
    return "".join(parts)


def to_json(document: Any) -> str:
    # compact separators keep json's C encoder (indent= falls back to the pure-Python one)
    return json.dumps(plain(document), ensure_ascii=False, separators=(",", ":")) + "\n"


def render(fmt: str, root: str, document: Any, *, status: int = 200) -> HttpResponse:
    """`document` in `fmt` ("xml" or "json"); `root` names the XML root element (the JSON has none)."""
    body = to_xml(root, document) if fmt == "xml" else to_json(document)
    return HttpResponse(body.encode("utf-8"), status=status, content_type=CONTENT_TYPES[fmt])


def render_errors(
    fmt: str, status: int, descriptions: Sequence[str], *, code: int | None = None
) -> HttpResponse:
    """The spec's error body, [{"code": 400, "description": "..."}], with the HTTP status."""
    errors = [{"code": code or status, "description": str(d)} for d in descriptions]
    return render(fmt if fmt in CONTENT_TYPES else "xml", "errors", errors, status=status)
