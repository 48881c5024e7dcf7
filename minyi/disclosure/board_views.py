"""The public board (留言板): the list with its filters, a case page, and supports (+1, 我也遇到).

Every read goes through minyi.disclosure.board, which reads published cases only. Bad filters answer 400 with
the reason in the user's language (the list partial when htmx asked for it); a case that is not published
answers 404. A view is counted once per session and case; a support once per client and case (a keyed hash
of address and user agent), rate-limited per address.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minyi.cases.views import is_htmx, render_rate_limited
from minyi.core.exceptions import NotFound, RateLimited, ValidationFailed
from minyi.core.ratelimit import check_request_rate, client_ip
from minyi.disclosure import board

LIST_TARGET = "board-list"
SUPPORT_TARGET = "support-box"
SUPPORTED_KEY = "minyi.board.supported"
#: The filters as they are shown back in the form: at most this many characters of what was sent.
ECHO_CHARS = 100


# ---------------------------------------------------------------------------------------------- the list


def _feeds(query: board.BoardQuery | None) -> list[dict[str, str]]:
    feeds = [
        {"url": reverse("disclosure:board_feed"), "title": _("留言板：最新公开"), "label": _("订阅全部")}
    ]
    if query is not None and query.category is not None:
        feeds.append(
            {
                "url": reverse("disclosure:board_feed_category", args=[query.category.code]),
                "title": _("留言板：%(name)s") % {"name": query.category.name},
                "label": _("订阅“%(name)s”") % {"name": query.category.name},
            }
        )
    if query is not None and query.region is not None:
        feeds.append(
            {
                "url": reverse("disclosure:board_feed_region", args=[query.region.code]),
                "title": _("留言板：%(name)s") % {"name": query.region.name},
                "label": _("订阅“%(name)s”") % {"name": query.region.name},
            }
        )
    return feeds


def _echo(request: HttpRequest) -> dict[str, str]:
    """What was sent, made safe to show again in the form after a refusal."""
    return {
        name: board.public_text(str(request.GET.get(name, "")))[:ECHO_CHARS].replace("\ufffd", "")
        for name in board.FILTER_NAMES
    }


def _menus(refs: board.Refs, query: board.BoardQuery | None) -> dict[str, list[tuple[str, str]]]:
    menus = board.menu_choices(refs)
    # A region below the menu's depth (a community, say) chosen through a link is still shown as chosen.
    if (
        query is not None
        and query.region is not None
        and all(c != query.region.code for c, _l in menus["region"])
    ):
        menus["region"] = [(query.region.code, query.region.name), *menus["region"]]
    return menus


def _options(menus: dict[str, list[tuple[str, str]]], values: dict[str, str]) -> dict[str, str]:
    """The <option>s of each menu, the chosen one selected (built here: a city's places are hundreds of options,
    several times faster than a template loop)."""
    chosen = {**values, "order": values.get("order") or board.ORDER_NEWEST}
    return {
        name: format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (code, mark_safe(" selected") if code == chosen.get(name) else "", label)
                for code, label in items
            ),
        )
        for name, items in menus.items()
    }


def _page_url(query: board.BoardQuery, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return f"{reverse('disclosure:board')}?{urlencode({**query.params(), 'cursor': cursor})}"


def _first_url(query: board.BoardQuery) -> str:
    params = query.params()
    return f"{reverse('disclosure:board')}?{urlencode(params)}" if params else reverse("disclosure:board")


@require_GET
def board_list(request: HttpRequest) -> HttpResponse:
    refs = board.board_refs()
    context: dict[str, Any] = {"values": _echo(request)}
    status = 200
    query = None
    try:
        query = board.board_query(request.GET, refs=refs)
    except ValidationFailed as exc:
        context["error"] = exc
        status = 400
    if query is not None:
        page = board.board_page(query)
        context.update(
            {
                "query": query,
                "page": page,
                "next_url": _page_url(query, page.next),
                "previous_url": _page_url(query, page.previous),
                "first_url": _first_url(query) if query.cursor else None,
                "values": {name: query.params().get(name, "") for name in board.FILTER_NAMES},
            }
        )
        refs = query.refs or refs
    context["options"] = _options(_menus(refs, query), context["values"])
    context["feeds"] = _feeds(query)
    template = "disclosure/board_results.html" if is_htmx(request, LIST_TARGET) else "disclosure/board.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# ---------------------------------------------------------------------------------------------- one case


def _supported(request: HttpRequest, case_id: int) -> bool:
    seen = request.session.get(SUPPORTED_KEY, [])
    return isinstance(seen, list) and case_id in seen


def _remember_support(request: HttpRequest, case_id: int) -> None:
    seen = request.session.get(SUPPORTED_KEY, [])
    seen = seen if isinstance(seen, list) else []
    if case_id not in seen:
        request.session[SUPPORTED_KEY] = [*seen, case_id][-board.MAX_VIEWED_IN_SESSION :]


def _case_or_404(case_id: int) -> board.BoardCase:
    try:
        return board.board_case(case_id)
    except NotFound:
        raise Http404(_("没有找到这件公开的诉求。"))


def _case_context(request: HttpRequest, case: board.BoardCase, **support: Any) -> dict[str, Any]:
    return {
        "case": case,
        "item": case.item,
        "case_id": case.item.case_id,
        "support_count": case.item.support_count,
        "supported": _supported(request, case.item.case_id),
        **support,
    }


@require_GET
def board_case(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case_or_404(case_id)
    if not board.viewed_in_session(request.session, case_id) and board.board_view_record(case_id=case_id):
        case = replace(case, item=replace(case.item, view_count=case.item.view_count + 1))
    return render(request, "disclosure/board_case.html", _case_context(request, case))


# ---------------------------------------------------------------------------------------------- supports


def _support_response(
    request: HttpRequest, case_id: int, *, count: int, state: str, status: int
) -> HttpResponse:
    message = {
        "added": _("感谢您的附议。"),
        "already": _("您已经附议过这件诉求，每台设备只计一次。"),
        "limited": _("操作过于频繁，请稍后再试。"),
    }[state]
    context = {
        "case_id": case_id,
        "support_count": count,
        "supported": state in ("added", "already"),
        "support_state": state,
        "support_message": message,
    }
    return render(request, "disclosure/board_support.html", context, status=status)


@require_POST
def board_support(request: HttpRequest, case_id: int) -> HttpResponse:
    htmx = is_htmx(request, SUPPORT_TARGET)
    try:
        check_request_rate(request, "support")
    except RateLimited as exc:
        if htmx:
            case = _case_or_404(case_id)
            return _support_response(
                request, case_id, count=case.item.support_count, state="limited", status=429
            )
        return render_rate_limited(request, exc, scope="support")
    voter = board.support_voter(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))
    try:
        result = board.board_support_add(case_id=case_id, voter=voter)
    except NotFound:
        raise Http404(_("没有找到这件公开的诉求。"))
    _remember_support(request, case_id)
    state, status = ("added", 200) if result.added else ("already", 409)
    if htmx:
        return _support_response(request, case_id, count=result.support_count, state=state, status=status)
    if result.added:
        messages.success(request, _("感谢您的附议。"))
        return redirect("disclosure:board_case", case_id=case_id)
    case = _case_or_404(case_id)
    context = _case_context(
        request,
        case,
        support_state=state,
        support_message=_("您已经附议过这件诉求，每台设备只计一次。"),
    )
    return render(request, "disclosure/board_case.html", context, status=status)
