"""Public board (留言板) endpoints: the list of published cases with the board's filters and cursor, one
published case with its replies and public history, and supports (+1).

Everything here is public and masked (minyi.disclosure.board reads published cases only): no names,
contacts, attachments, staff or tracking numbers. A case is named by its id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

try:
    from ninja import Status
except ImportError:  # django-ninja before Status: a (status, body) tuple
    Status = None

from minyi.api.auth import ScopeRateLimit
from minyi.api.v1.schemas import Choice, ErrorOut
from minyi.core.exceptions import Conflict, DomainError
from minyi.core.ratelimit import client_ip
from minyi.disclosure import board

router = Router(tags=["board (public)"])

_ERRORS = {400: ErrorOut, 404: ErrorOut}


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


# ---------------------------------------------------------------------------------------------- schemas


class BoardListQuery(Schema):
    q: str | None = Field(None, description="words, at most 100 characters; every word must occur")
    category: str | None = Field(None, description="category code; its sub-categories are included")
    region: str | None = Field(None, description="region code; every place within it is included")
    department: str | None = Field(None, description="department code; its sub-departments are included")
    status: str | None = Field(
        None, description="handling (办理中), replied (已答复), reviewing (复查中), closed (已办结)"
    )
    date_from: str | None = Field(None, description="published on or after this local day, YYYY-MM-DD")
    date_to: str | None = Field(None, description="published on or before this local day, YYYY-MM-DD")
    order: str | None = Field(
        None, description="newest (default: published_at, newest first) or views (most viewed)"
    )
    cursor: str | None = Field(
        None, description="`next` or `previous` of an earlier answer with the same order"
    )


class BoardRefOut(Schema):
    code: str
    name: str


class BoardItemOut(Schema):
    id: int = Field(..., description="the case id, as in /board/{id}/ (tracking numbers are never public)")
    title: str = Field(..., description="masked")
    excerpt: str = Field(..., description="the start of the masked content")
    kind: Choice
    category: BoardRefOut | None
    region: BoardRefOut | None
    department: BoardRefOut | None = Field(..., description="the department responsible")
    status: Choice = Field(..., description="the public status: handling, replied, reviewing, closed")
    received_at: datetime
    replied_at: datetime | None
    published_at: datetime
    view_count: int
    support_count: int
    url: str = Field(..., description="the case's page on the board")


class BoardCountOut(Schema):
    value: int
    capped: bool = Field(
        ..., description=f"true: more than `value` (counted exactly up to {board.COUNT_CAP})"
    )


class BoardListOut(Schema):
    items: list[BoardItemOut]
    next: str | None = Field(..., description="cursor of the next page, or null on the last")
    previous: str | None = Field(..., description="cursor of the previous page, or null on the first")
    count: BoardCountOut


class BoardReplyOut(Schema):
    text: str = Field(..., description="masked")
    department: str | None
    sent_at: datetime | None


class BoardEventOut(Schema):
    action: str = Field(
        ...,
        description="submit, accept, assign, start, approve_extension, reply, evaluate, close, reopen, "
        "request_review, decide_review",
    )
    label: str
    at: datetime
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="department (assign, reopen, reply), rating/rating_label/resolved/resolved_label "
        "(evaluate; never the reason), decision/decision_label (decide_review), days (approve_extension), "
        "channel (submit), automatic (close after the evaluation window)",
    )


class BoardCaseOut(BoardItemOut):
    content: str = Field(..., description="masked")
    replies: list[BoardReplyOut]
    history: list[BoardEventOut] = Field(..., description="the public history, oldest first")


class SupportOut(Schema):
    id: int
    added: bool
    support_count: int


# ---------------------------------------------------------------------------------------------- presenting


def _ref(ref: board.Ref | None) -> dict[str, str] | None:
    return {"code": ref.code, "name": ref.name} if ref else None


def _item(item: board.BoardItem) -> dict[str, Any]:
    return {
        "id": item.case_id,
        "title": item.title,
        "excerpt": item.excerpt,
        "kind": {"value": item.kind, "label": item.kind_label},
        "category": _ref(item.category),
        "region": _ref(item.region),
        "department": _ref(item.department),
        "status": {"value": item.status, "label": item.status_label},
        "received_at": item.received_at,
        "replied_at": item.replied_at,
        "published_at": item.published_at,
        "view_count": item.view_count,
        "support_count": item.support_count,
        "url": reverse("disclosure:board_case", args=[item.case_id]),
    }


# ---------------------------------------------------------------------------------------------- endpoints


@router.get(
    "/board",
    response={200: BoardListOut, **_ERRORS},
    url_name="board_list",
    summary="List published cases (the public board)",
)
def board_list(request: HttpRequest, filters: Query[BoardListQuery]):
    """Published cases, 20 a page, newest first (or most viewed with `order=views`), with the board's filters.

    Pages are keyset pages: pass `next` (or `previous`) back as `cursor`, with the same filters and order. A
    cursor that was not made by this server, or for another order, answers 400 `invalid_cursor`. `count` is
    exact up to 1000; beyond that `capped` is true. Bad filters (unknown codes, malformed or reversed dates,
    words over 100 characters, control or invisible characters, text that is not UTF-8) answer 400 with the
    fields at fault.
    """
    query = board.board_query(filters.model_dump())
    page = board.board_page(query)
    return {
        "items": [_item(item) for item in page.items],
        "next": page.next,
        "previous": page.previous,
        "count": {"value": page.count.value, "capped": page.count.capped},
    }


@router.get(
    "/board/{case_id}",
    response={200: BoardCaseOut, **_ERRORS},
    url_name="board_case",
    summary="One published case with its replies and public history",
)
def board_case(request: HttpRequest, case_id: int):
    """The masked title, content and replies of a published case, and its public history: received, accepted,
    assigned to which department, replied, the person's rating (satisfaction and whether it was solved, never
    the reason), reopened, reviewed, closed. Anything not published answers 404. Views are not counted here
    (the web page counts them)."""
    case = board.board_case(case_id)
    return {
        **_item(case.item),
        "content": case.content,
        "replies": [{"text": r.text, "department": r.department, "sent_at": r.sent_at} for r in case.replies],
        "history": [
            {"action": h.action, "label": h.label, "at": h.at, "details": h.facts} for h in case.history
        ],
    }


@router.post(
    "/board/{case_id}/support",
    response={201: SupportOut, 409: ErrorOut, 415: ErrorOut, 429: ErrorOut, **_ERRORS},
    throttle=ScopeRateLimit("support"),
    url_name="board_support",
    summary="Support a published case (+1, 我也遇到)",
)
def board_support(request: HttpRequest, case_id: int):
    """Add one support to a published case, once per client (address and user agent, kept only as a keyed
    hash). 201 with the new count; 409 `already_supported` when this client supported it already (the count in
    `fields.support_count`); 429 when the address is over its rate limit; 404 when the case is not published.

    Send `Content-Type: application/json` (the body may be empty or `{}`): a page on another site cannot send
    that type with a plain form, so it cannot cast supports in its visitors' names.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            _("请以 Content-Type: application/json 提交。"),
            fields={"content_type": _("应为 application/json")},
        )
    voter = board.support_voter(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))
    result = board.board_support_add(case_id=case_id, voter=voter)
    if not result.added:
        raise Conflict(
            _("您已经附议过这件诉求，每台设备只计一次。"),
            code="already_supported",
            fields={"support_count": result.support_count},
        )
    body = {"id": case_id, "added": True, "support_count": result.support_count}
    return Status(201, body) if Status is not None else (201, body)
