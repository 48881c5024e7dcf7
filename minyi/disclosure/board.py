"""The public board (留言板): reads of published cases, and the two small writes the public may make.

Only `Publication.state == "published"` rows are ever read here, and only their masked copies (title, content,
replies). Names, contacts, attachments, staff and tracking numbers never leave this module: the case page's
history is built from a whitelist of public events, with the responsible department's name, the person's
rating (满意/基本满意/不满意, 已解决/未解决) and nothing typed by a person (no notes, no reasons).

Reads, built for a million published cases:
- `board_query(params)` validates the filters (a search box's words, category, region, department, status,
  published dates, ordering, cursor) and raises ValidationFailed (HTTP 400) with a message per field.
  Category, region and department each include their sub-trees.
- `board_page(query)` is keyset (cursor) pagination over the partial indexes of Publication: "newest" orders
  by (published_at, case) and "views" by (view_count, case), both descending. The cursor is opaque and signed
  (`next` / `previous`). The count is exact only up to COUNT_CAP (a COUNT over a LIMIT subquery), so no
  request counts a million rows.
- Search: `minyi.disclosure.search.query_tokens`, ANDed, each a whole token of search_text
  (`LIKE '% token %'`). PostgreSQL also matches the expression of the GIN index of migration 0002
  (`to_tsvector('simple'::regconfig, search_text) @@ to_tsquery('simple', ...)`), and chooses between the GIN
  index (rare words) and an ordered, bounded scan (common words) from its own statistics: see `search_plan`.
- Reference data (categories, departments, the upper levels of regions) is read in one UNION query and cached
  for REFS_TTL seconds; an unknown code is looked up again in the database before it is refused.

Writes (not case changes: the case itself is never touched):
- `board_view_record` adds one view with an F() update.
- `board_support_add` stores one Support per client (a keyed hash of address and user agent, never the
  address) and adds to support_count with F() only when the row was inserted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, F, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.accounts.models import Department, Region
from minyi.cases.models import CaseEvent, Evaluation
from minyi.cases.workflow import CaseStatus, event_label
from minyi.core.choices import Channel, Kind
from minyi.core.exceptions import NotFound, ValidationFailed
from minyi.disclosure.models import Publication, PublishedReply, Support
from minyi.disclosure.search import MAX_QUERY_CHARS, query_tokens
from minyi.routing.models import Category
from minyi.text.normalize import strip_invisible

PAGE_SIZE = 20
#: The count is exact up to here; above it the board says "1000+".
COUNT_CAP = 1000
FEED_SIZE = 50
EXCERPT_CHARS = 120
#: Seconds the reference data (categories, departments, upper regions) stays cached.
REFS_TTL = 120
#: Regions down to this depth (0 city, 1 district, 2 street) are offered in the filter form and cached.
REGION_MENU_DEPTH = 2
MAX_CODE_CHARS = 60
MAX_CURSOR_CHARS = 300
MAX_PARAM_CHARS = 300
#: Years a date filter may name (anything else cannot be a publication date).
MIN_YEAR, MAX_YEAR = 2000, 2100
#: Case ids a session remembers as viewed (a view is counted once per session and case).
MAX_VIEWED_IN_SESSION = 300

PUBLISHED = Publication.State.PUBLISHED
S = CaseStatus

ORDER_NEWEST, ORDER_VIEWS = "newest", "views"
ORDERS = {ORDER_NEWEST: gettext_lazy("最新公开"), ORDER_VIEWS: gettext_lazy("浏览最多")}
_ORDER_KEYS = {ORDER_NEWEST: "published_at", ORDER_VIEWS: "view_count"}

#: Public statuses: key -> (label, case statuses). A published case has been replied to at least once, so
#: it is being handled again (reopened, or redone after a review), replied, under review, or closed.
PUBLIC_STATUSES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "handling": (gettext_lazy("办理中"), (S.ASSIGNED, S.RETURNED, S.IN_PROGRESS, S.ACCEPTED, S.SUBMITTED)),
    "replied": (gettext_lazy("已答复"), (S.REPLIED,)),
    "reviewing": (gettext_lazy("复查中"), (S.UNDER_REVIEW,)),
    "closed": (gettext_lazy("已办结"), (S.CLOSED,)),
}
_STATUS_KEY = {value: key for key, (_label, values) in PUBLIC_STATUSES.items() for value in values}
#: The badge colour of each public status (the classes of static/css/minyi.css).
_STATUS_BADGE = {
    "handling": "in_progress",
    "replied": "replied",
    "reviewing": "under_review",
    "closed": "closed",
}

_CODE_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURSOR_SALT = "minyi.disclosure.board.cursor"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REFS_KEY = "minyi:board:refs:v1"
_SUBTREE_KEY = "minyi:board:region-subtree:v1:{code}"


def public_status(case_status: str) -> tuple[str, str]:
    """(key, label) of the public status shown for a publication's case_status."""
    key = _STATUS_KEY.get(case_status)
    if key is not None:
        return key, str(PUBLIC_STATUSES[key][0])
    label = CaseStatus(case_status).label if case_status in CaseStatus.values else case_status
    return case_status, str(label)


def status_badge(key: str) -> str:
    return _STATUS_BADGE.get(key, key)


def public_text(text: str | None) -> str:
    """Text as the public may be shown it, in a page or a feed: control, format (bidi, zero-width) and
    surrogate characters and non-characters removed, which also makes it valid XML 1.0. Markup is left to
    the template or feed generator to escape."""
    return strip_invisible(text or "")


# ---------------------------------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class Ref:
    """A category, department or region as the board needs it."""

    pk: int
    code: str
    name: str
    path: str
    active: bool = True

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


@dataclass(frozen=True)
class Refs:
    categories: tuple[Ref, ...]
    departments: tuple[Ref, ...]
    regions: tuple[Ref, ...]  # down to REGION_MENU_DEPTH

    def find(self, kind: str, code: str) -> Ref | None:
        return next((r for r in getattr(self, kind) if r.code == code), None)

    def subtree_ids(self, kind: str, ref: Ref) -> tuple[int, ...]:
        return tuple(r.pk for r in getattr(self, kind) if r.path.startswith(ref.path))


def _load_refs() -> Refs:
    """Categories, departments and the upper regions in one query."""
    fields = ("pk", "code", "name", "path")
    rows = (
        Category.objects.order_by()
        .annotate(kind=Value("c"), on=F("is_active"))
        .values_list("kind", *fields, "on")
        .union(
            Department.objects.order_by()
            .annotate(kind=Value("d"), on=F("is_active"))
            .values_list("kind", *fields, "on"),
            Region.objects.order_by()
            .filter(depth__lte=REGION_MENU_DEPTH)
            .annotate(kind=Value("r"), on=Value(True, output_field=BooleanField()))
            .values_list("kind", *fields, "on"),
            all=True,
        )
    )
    found: dict[str, list[Ref]] = {"c": [], "d": [], "r": []}
    for kind, pk, code, name, path, active in rows:
        found[kind].append(Ref(pk=pk, code=code, name=name, path=path, active=bool(active)))
    tree = {kind: tuple(sorted(items, key=lambda r: r.path)) for kind, items in found.items()}
    return Refs(categories=tree["c"], departments=tree["d"], regions=tree["r"])


def board_refs(*, fresh: bool = False) -> Refs:
    """The reference data of the board (cached for REFS_TTL seconds; `fresh` reads and re-caches it)."""
    refs = None if fresh else cache.get(_REFS_KEY)
    if refs is None:
        refs = _load_refs()
        cache.set(_REFS_KEY, refs, REFS_TTL)
    return refs


def _find_ref(kind: str, code: str, refs: Refs) -> tuple[Ref | None, Refs]:
    ref = refs.find(kind, code)
    if ref is None:  # new since the cache was filled, or unknown: ask the database once
        refs = board_refs(fresh=True)
        ref = refs.find(kind, code)
    return ref, refs


def _region_subtree(code: str, refs: Refs) -> tuple[Ref, tuple[int, ...]] | None:
    """The region with `code` and the ids of its whole sub-tree (every level), cached per code."""
    key = _SUBTREE_KEY.format(code=code)
    hit = cache.get(key)
    if hit is not None:
        return hit
    ref = refs.find("regions", code)
    if ref is None:
        row = Region.objects.filter(code=code).values_list("pk", "code", "name", "path").first()
        if row is None:
            return None
        ref = Ref(*row)
    ids = tuple(Region.objects.filter(path__startswith=ref.path).values_list("pk", flat=True))
    result = (ref, ids or (ref.pk,))
    cache.set(key, result, REFS_TTL)
    return result


def menu_choices(refs: Refs) -> dict[str, list[tuple[str, str]]]:
    """(code, indented name) for the filter form's menus, in tree order; inactive entries are left out."""

    def rows(items: Iterable[Ref]) -> list[tuple[str, str]]:
        items = list(items)
        top = min((r.depth for r in items), default=0)
        return [(r.code, f"{'　' * (r.depth - top)}{r.name}") for r in items if r.active]

    return {
        "category": rows(refs.categories),
        "region": rows(refs.regions),
        "department": rows(refs.departments),
        "status": [(key, str(label)) for key, (label, _values) in PUBLIC_STATUSES.items()],
        "order": [(key, str(label)) for key, label in ORDERS.items()],
    }


# ---------------------------------------------------------------------------------------------- cursor


@dataclass(frozen=True)
class Cursor:
    order: str
    direction: str  # "a": the page after (value, case_id); "b": the page before it
    value: int  # published_at in microseconds since the epoch, or view_count
    case_id: int

    def encode(self) -> str:
        code = "n" if self.order == ORDER_NEWEST else "v"
        return signing.Signer(salt=_CURSOR_SALT).sign_object(
            [1, code, self.direction, self.value, self.case_id]
        )


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


_MAX_MICROS = _micros(datetime(MAX_YEAR + 100, 1, 1, tzinfo=UTC))


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        _("翻页参数无效或已过期，请从第一页重新浏览。"), code="invalid_cursor", fields={"cursor": _("无效")}
    )


def decode_cursor(raw: str, *, order: str) -> Cursor:
    """The cursor a page link carries; ValidationFailed when it was not made by us or not for `order`."""
    if len(raw) > MAX_CURSOR_CHARS or not raw.isascii():
        raise _bad_cursor()
    try:
        data = signing.Signer(salt=_CURSOR_SALT).unsign_object(raw)
    except (signing.BadSignature, ValueError, TypeError):  # binascii, zlib, json and unicode errors too
        raise _bad_cursor() from None
    ints = (
        isinstance(data, list) and len(data) == 5 and all(type(x) is int for x in (data[0], data[3], data[4]))
    )
    if not ints or data[0] != 1 or data[1] not in ("n", "v") or data[2] not in ("a", "b"):
        raise _bad_cursor()
    cursor_order = ORDER_NEWEST if data[1] == "n" else ORDER_VIEWS
    value, case_id = data[3], data[4]
    if cursor_order != order or not (0 <= value <= _MAX_MICROS) or not (0 < case_id < 2**63):
        raise _bad_cursor()
    return Cursor(order=cursor_order, direction=data[2], value=value, case_id=case_id)


# ---------------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class BoardQuery:
    """Validated filters of the board. `params()` gives them back as a query string's values."""

    q: str = ""
    tokens: tuple[str, ...] = ()
    category: Ref | None = None
    category_ids: tuple[int, ...] = ()
    region: Ref | None = None
    region_ids: tuple[int, ...] = ()
    department: Ref | None = None
    department_ids: tuple[int, ...] = ()
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    order: str = ORDER_NEWEST
    cursor: Cursor | None = None
    refs: Refs | None = field(default=None, repr=False, compare=False)

    def params(self) -> dict[str, str]:
        values = {
            "q": self.q,
            "category": self.category.code if self.category else "",
            "region": self.region.code if self.region else "",
            "department": self.department.code if self.department else "",
            "status": self.status,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "order": self.order if self.order != ORDER_NEWEST else "",
        }
        return {k: v for k, v in values.items() if v}

    @property
    def searched_nothing(self) -> bool:
        """Words were given, but none is searchable (punctuation only, say): the board shows everything."""
        return bool(self.q) and not self.tokens


#: Kind is not a filter: no index leads with it, and a kind with no published case would read the whole board.
FILTER_NAMES = ("q", "category", "region", "department", "status", "date_from", "date_to", "order")


def _labels() -> dict[str, str]:
    return {
        "q": _("关键词"),
        "category": _("分类"),
        "region": _("区域"),
        "department": _("承办部门"),
        "status": _("办理状态"),
        "date_from": _("起始日期"),
        "date_to": _("截止日期"),
        "order": _("排序方式"),
        "cursor": _("翻页参数"),
    }


def _hostile(value: str, label: str) -> str | None:
    """Why a parameter's text is refused, or None."""
    if "\ufffd" in value:
        # Django decodes a query string with errors="replace": the bytes were not UTF-8 (GB18030, say).
        return _("%(label)s包含无法识别的字符，请使用 UTF-8 编码。") % {"label": label}
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        return _("%(label)s包含控制字符或不可见字符。") % {"label": label}
    return None


def _date(value: str, label: str, errors: dict[str, str], name: str) -> date | None:
    if not _DATE_RE.match(value):
        errors[name] = _("%(label)s的格式应为 YYYY-MM-DD。") % {"label": label}
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors[name] = _("%(label)s不是有效的日期。") % {"label": label}
        return None
    if not (MIN_YEAR <= day.year <= MAX_YEAR):
        errors[name] = _("%(label)s超出范围。") % {"label": label}
        return None
    return day


def board_query(params: Mapping[str, Any], *, refs: Refs | None = None) -> BoardQuery:
    """Validate the board's filters (a QueryDict or a dict; missing or empty values mean "any").

    Raises ValidationFailed with one message per field at fault (`fields`), in the user's language.
    """
    refs = refs or board_refs()
    labels = _labels()
    raw: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in (*FILTER_NAMES, "cursor"):
        value = params.get(name)
        value = "" if value is None else str(value).strip()
        if name == "q" and len(value) > MAX_QUERY_CHARS:
            errors[name] = _("搜索词不能超过 %(n)s 个字。") % {"n": MAX_QUERY_CHARS}
            continue
        if len(value) > MAX_PARAM_CHARS:
            errors[name] = _("%(label)s过长。") % {"label": labels[name]}
            continue
        why = _hostile(value, labels[name])
        if why:
            errors[name] = why
            continue
        raw[name] = value

    found: dict[str, Any] = {}
    q = raw.get("q", "")
    if q:
        found["q"] = q
        found["tokens"] = tuple(query_tokens(q))

    for name, kind in (("category", "categories"), ("department", "departments")):
        code = raw.get(name, "")
        if not code:
            continue
        ref = None
        if len(code) <= MAX_CODE_CHARS and _CODE_RE.match(code):
            ref, refs = _find_ref(kind, code, refs)
        if ref is None:
            errors[name] = _("没有这个%(label)s：%(code)s") % {"label": labels[name], "code": code[:40]}
            continue
        found[name] = ref
        found[f"{name}_ids"] = refs.subtree_ids(kind, ref)

    code = raw.get("region", "")
    if code:
        subtree = (
            _region_subtree(code, refs) if len(code) <= MAX_CODE_CHARS and _CODE_RE.match(code) else None
        )
        if subtree is None:
            errors["region"] = _("没有这个%(label)s：%(code)s") % {
                "label": labels["region"],
                "code": code[:40],
            }
        else:
            found["region"], found["region_ids"] = subtree

    status = raw.get("status", "")
    if status and status not in PUBLIC_STATUSES:
        errors["status"] = _("办理状态只能是：%(values)s。") % {
            "values": "、".join(str(label) for label, _v in PUBLIC_STATUSES.values())
        }
    elif status:
        found["status"] = status

    date_from = (
        _date(raw["date_from"], labels["date_from"], errors, "date_from") if raw.get("date_from") else None
    )
    date_to = _date(raw["date_to"], labels["date_to"], errors, "date_to") if raw.get("date_to") else None
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = _("起始日期不能晚于截止日期。")
    found["date_from"], found["date_to"] = date_from, date_to

    order = raw.get("order", "") or ORDER_NEWEST
    if order not in ORDERS:
        errors["order"] = _("排序方式只能是：%(values)s。") % {
            "values": "、".join(str(v) for v in ORDERS.values())
        }
        order = ORDER_NEWEST
    found["order"] = order

    if errors:
        message = "；".join(dict.fromkeys(m.rstrip("。") for m in errors.values()))
        raise ValidationFailed(_("筛选条件有误：%(detail)s。") % {"detail": message}, fields=errors)
    if raw.get("cursor"):
        found["cursor"] = decode_cursor(raw["cursor"], order=order)
    return BoardQuery(refs=refs, **found)


# ---------------------------------------------------------------------------------------------- the list


def _tsquery(tokens: Iterable[str]) -> str:
    """Tokens as a tsquery of quoted lexemes joined by &: no token can add an operator."""
    return " & ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in tokens)


# How PostgreSQL finds the matches of a word search. Its planner cannot tell a common word from a rare one here:
# it ignores the statistics of a partial index's expression and assumes every word is in 0.5% of the rows. Left
# alone, a page of a word found in no case then reads the whole "newest" index computing to_tsvector on every row
# (ten seconds at a million rows), and a count of a word found in most cases reads every match from the GIN index.
# So the board estimates the words' share itself, from those same statistics (pg_stats of pub_board_search), and
# writes a query that leaves the planner one way (it asks pg_stats once per _SHARES_TTL seconds):
# - INDEX (rare words, and whenever the statistics say nothing): the GIN index finds every match and the matches
#   are sorted; the ordering is written so that no index provides it. The cost grows with the matches.
# - SCAN (common words): the newest (or most viewed) rows that pass the other filters are read in order, at most
#   `window` of them, and the words are checked on each (written so that the GIN index cannot serve them). The
#   cost grows with 1 / share. When the window holds too few matches (the estimate was wrong), the INDEX query
#   answers instead: the result is exact either way.
# Costs measured at a million cases (PostgreSQL 15), in microseconds; each choice is the cheaper for the estimate.
_POSTING = 0.2  # one match read from the GIN index
_ROW_FETCHED = 13  # one match fetched and sorted (INDEX page)
_ROW_COUNTED = 8  # one match fetched to be counted (INDEX count)
_ROW_CHECKED = 6  # one row of the window fetched and its words checked with LIKE (SCAN)
INDEX, SCAN = "index", "scan"
SEARCH_INDEX = "pub_board_search"
MAX_WINDOW = 20_000
_SHARES_KEY = "minyi:board:word-shares:v1"
_SHARES_TTL = 600


@dataclass(frozen=True)
class WordStats:
    shares: dict[str, float]  # lexeme -> share of published cases holding it (the most common lexemes only)
    rows: float  # published cases, as PostgreSQL last counted them


def _word_stats() -> WordStats:
    """PostgreSQL's statistics of the search index (empty until the table was analysed), cached _SHARES_TTL s."""
    stats = cache.get(_SHARES_KEY)
    if stats is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
                "FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema() "
                "AND s.tablename = c.relname AND s.attname = 'to_tsvector' "
                "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
                [SEARCH_INDEX],
            )
            row = cursor.fetchone()
        elems, freqs, rows = row if row else (None, None, 0)
        stats = WordStats(
            shares=dict(zip(elems or [], freqs or [], strict=False)), rows=max(float(rows), 0.0)
        )
        cache.set(_SHARES_KEY, stats, _SHARES_TTL)
    return stats


@dataclass(frozen=True)
class SearchPlan:
    page: str = INDEX
    count: str = INDEX
    page_window: int = 0
    count_window: int = 0


def search_plan(tokens: tuple[str, ...], *, size: int = PAGE_SIZE) -> SearchPlan:
    """How PostgreSQL should search `tokens` (see above). A token the statistics do not know is rarer than every
    lexeme they list: its share counts as 0, which always chooses INDEX."""
    if not tokens or connection.vendor != "postgresql":
        return SearchPlan()
    stats = _word_stats()
    # The words together are at most as common as the rarest of them.
    share = min(stats.shares.get(token, 0.0) for token in tokens)
    n = stats.rows
    if share <= 0 or n <= 0:
        return SearchPlan()
    # Expected microseconds of each way (see the costs above); the window holds twice the rows expected to
    # fill the page (or the count), so that a page is rarely short of matches.
    page_window = min(MAX_WINDOW, max(100, int(2 * (size + 1) / share)))
    count_window = min(MAX_WINDOW, max(1500, int(2 * (COUNT_CAP + 1) / share)))
    page_scan, page_index = page_window * _ROW_CHECKED, share * n * _ROW_FETCHED
    count_scan = (COUNT_CAP + 1) / share * _ROW_CHECKED
    count_index = share * n * _POSTING + min(share * n, COUNT_CAP + 1) * _ROW_COUNTED
    return SearchPlan(
        page=SCAN if page_scan < page_index else INDEX,
        count=SCAN if count_scan < count_index else INDEX,
        page_window=page_window,
        count_window=count_window,
    )


def _search(qs: QuerySet[Publication], tokens: tuple[str, ...], plan: str = INDEX) -> QuerySet[Publication]:
    """Every token as a whole token of search_text (`LIKE '% token %'`, as on SQLite). On PostgreSQL the INDEX
    plan adds the tsquery of the GIN index, which finds the candidates; the SCAN plan (common words, the newest
    rows first) needs only the LIKE."""
    if not tokens:
        return qs
    for token in tokens:
        qs = qs.filter(search_text__contains=f" {token} ")
    if connection.vendor != "postgresql":
        return qs
    if plan == SCAN:
        # The bounded scan of the newest rows checks the whole-token LIKE alone: to_tsvector costs ~150 µs a
        # row, and on a common word it made the capped count 3-4x slower (benchmarks/public_million.py).
        return qs
    column = f'"{Publication._meta.db_table}"."search_text"'
    # exactly the expression of the GIN index pub_board_search (migration 0002), or it is not used
    document = f"to_tsvector('simple'::regconfig, {column})"
    match = RawSQL(f"{document} @@ to_tsquery('simple', %s)", [_tsquery(tokens)], output_field=BooleanField())
    return qs.filter(match)


def _in(name: str, ids: tuple[int, ...]) -> Q:
    return Q(**{name: ids[0]}) if len(ids) == 1 else Q(**{f"{name}__in": ids})


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def board_queryset(query: BoardQuery) -> QuerySet[Publication]:
    """Published cases matching the filters (no cursor, no ordering)."""
    qs = Publication.objects.filter(state=PUBLISHED)
    if query.category_ids:
        qs = qs.filter(_in("category_id", query.category_ids))
    if query.region_ids:
        qs = qs.filter(_in("region_id", query.region_ids))
    if query.department_ids:
        qs = qs.filter(_in("department_id", query.department_ids))
    if query.status:
        qs = qs.filter(_in("case_status", PUBLIC_STATUSES[query.status][1]))
    if query.date_from:
        qs = qs.filter(published_at__gte=_local_midnight(query.date_from))
    if query.date_to:
        qs = qs.filter(published_at__lt=_local_midnight(query.date_to + timedelta(days=1)))
    return _search(qs, query.tokens)


@dataclass(frozen=True)
class BoardItem:
    case_id: int
    title: str
    excerpt: str
    kind: str
    kind_label: str
    category: Ref | None
    region: Ref | None
    department: Ref | None
    status: str
    status_label: str
    status_badge: str
    published_at: datetime
    received_at: datetime
    replied_at: datetime | None
    view_count: int
    support_count: int


@dataclass(frozen=True)
class BoardCount:
    value: int
    capped: bool


@dataclass(frozen=True)
class BoardPage:
    items: list[BoardItem]
    next: str | None
    previous: str | None
    count: BoardCount


def _ref(obj) -> Ref | None:
    if obj is None:
        return None
    return Ref(pk=obj.pk, code=obj.code, name=public_text(obj.name), path="")


def _excerpt(text: str) -> str:
    text = " ".join(public_text(text).split())
    return text if len(text) <= EXCERPT_CHARS else f"{text[:EXCERPT_CHARS]}…"


def board_item(pub: Publication, *, excerpt: str | None = None) -> BoardItem:
    key, label = public_status(pub.case_status)
    return BoardItem(
        case_id=pub.pk,
        title=public_text(pub.title),
        excerpt=_excerpt(excerpt if excerpt is not None else pub.content),
        kind=pub.kind,
        kind_label=str(Kind(pub.kind).label) if pub.kind in Kind.values else pub.kind,
        category=_ref(pub.category),
        region=_ref(pub.region),
        department=_ref(pub.department),
        status=key,
        status_label=label,
        status_badge=status_badge(key),
        published_at=pub.published_at,
        received_at=pub.received_at,
        replied_at=pub.replied_at,
        view_count=pub.view_count,
        support_count=pub.support_count,
    )


_LIST_FIELDS = (
    "case",
    "title",
    "kind",
    "case_status",
    "received_at",
    "replied_at",
    "published_at",
    "view_count",
    "support_count",
    "category__code",
    "category__name",
    "region__code",
    "region__name",
    "department__code",
    "department__name",
)


def _keyset(qs: QuerySet[Publication], cursor: Cursor) -> QuerySet[Publication]:
    """Rows after (or before) the cursor's position. The bound on the ordering column alone comes first, so
    that the database starts the index scan there instead of at the top."""
    key = _ORDER_KEYS[cursor.order]
    value: Any = _from_micros(cursor.value) if cursor.order == ORDER_NEWEST else cursor.value
    if cursor.direction == "a":
        return qs.filter(**{f"{key}__lte": value}).filter(
            Q(**{f"{key}__lt": value}) | Q(**{key: value, "pk__lt": cursor.case_id})
        )
    return qs.filter(**{f"{key}__gte": value}).filter(
        Q(**{f"{key}__gt": value}) | Q(**{key: value, "pk__gt": cursor.case_id})
    )


def _cursor_at(item: BoardItem, order: str, direction: str) -> str:
    value = _micros(item.published_at) if order == ORDER_NEWEST else item.view_count
    return Cursor(order=order, direction=direction, value=value, case_id=item.case_id).encode()


def _window(query: BoardQuery, cursor: Cursor | None, size: int) -> QuerySet[Publication]:
    """The primary keys of the first `size` rows in the page's order that pass every filter but the words."""
    key = _ORDER_KEYS[query.order]
    qs = board_queryset(replace(query, tokens=()))
    if cursor is not None:
        qs = _keyset(qs, cursor)
    backwards = cursor is not None and cursor.direction == "b"
    ordering = (key, "pk") if backwards else (f"-{key}", "-pk")
    return qs.order_by(*ordering).values("pk")[:size]


def _words_in_window(query: BoardQuery, window: QuerySet[Publication]) -> QuerySet[Publication]:
    return _search(Publication.objects.filter(pk__in=window), query.tokens, SCAN)


def board_count(query: BoardQuery, *, plan: SearchPlan | None = None) -> BoardCount:
    """How many published cases match, exactly up to COUNT_CAP: one COUNT over a LIMIT subquery (and, for common
    words whose window held too few matches, a second one)."""
    plan = plan or search_plan(query.tokens)
    n = None
    if plan.count == SCAN:
        n = _words_in_window(query, _window(query, None, plan.count_window))[: COUNT_CAP + 1].count()
        n = n if n > COUNT_CAP else None  # fewer in the window: count them all through the index
    if n is None:
        n = board_queryset(query)[: COUNT_CAP + 1].count()
    return BoardCount(value=min(n, COUNT_CAP), capped=n > COUNT_CAP)


def _page_rows(qs: QuerySet[Publication], ordering: tuple[Any, ...], limit: int) -> list[Publication]:
    qs = (
        qs.select_related("category", "region", "department")
        .only(*_LIST_FIELDS)
        .annotate(excerpt_text=Substr("content", 1, EXCERPT_CHARS + 40))
        .order_by(*ordering)
    )
    return list(qs[:limit])


def board_page(query: BoardQuery, *, size: int = PAGE_SIZE, with_count: bool = True) -> BoardPage:
    """One page of the board: two queries (the page, the capped count), three when a common word's estimate
    was wrong."""
    key = _ORDER_KEYS[query.order]
    cursor = query.cursor
    backwards = cursor is not None and cursor.direction == "b"
    plan = search_plan(query.tokens, size=size)
    ordering: tuple[Any, ...] = (key, "pk") if backwards else (f"-{key}", "-pk")
    rows = None
    if plan.page == SCAN:
        rows = _page_rows(
            _words_in_window(query, _window(query, cursor, plan.page_window)), ordering, size + 1
        )
        rows = rows if len(rows) > size else None  # too few in the window: ask the index
    if rows is None:
        qs = board_queryset(query)
        if cursor is not None:
            qs = _keyset(qs, cursor)
        if query.tokens and connection.vendor == "postgresql":
            # An ordering that no index provides: the planner takes the GIN index and sorts the matches.
            sort = F(key) + Value(timedelta(0)) if key == "published_at" else F(key) + 0
            ordering = (sort.asc(), "pk") if backwards else (sort.desc(), "-pk")
        rows = _page_rows(qs, ordering, size + 1)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    items = [board_item(pub, excerpt=pub.excerpt_text) for pub in rows]
    next_cursor = previous_cursor = None
    if items:
        if backwards:
            next_cursor = _cursor_at(items[-1], query.order, "a")
            previous_cursor = _cursor_at(items[0], query.order, "b") if more else None
        else:
            next_cursor = _cursor_at(items[-1], query.order, "a") if more else None
            previous_cursor = _cursor_at(items[0], query.order, "b") if cursor is not None else None
    count = board_count(query, plan=plan) if with_count else BoardCount(value=len(items), capped=False)
    return BoardPage(items=items, next=next_cursor, previous=previous_cursor, count=count)


def board_feed_items(*, category: Ref | None = None, region: Ref | None = None) -> list[Publication]:
    """The newest FEED_SIZE published cases (of a category or a region and their sub-trees)."""
    refs = board_refs()
    query = BoardQuery(refs=refs)
    if category is not None:
        query = replace(query, category=category, category_ids=refs.subtree_ids("categories", category))
    if region is not None:
        subtree = _region_subtree(region.code, refs)
        query = replace(query, region=region, region_ids=subtree[1] if subtree else (region.pk,))
    qs = board_queryset(query).select_related("category", "region", "department")
    return list(qs.defer("search_text").order_by("-published_at", "-pk")[:FEED_SIZE])


def feed_ref(kind: str, code: str) -> Ref | None:
    """The category or region a feed is about, by code (None: unknown)."""
    if len(code) > MAX_CODE_CHARS or not _CODE_RE.match(code):
        return None
    if kind == "regions":
        subtree = _region_subtree(code, board_refs())
        return subtree[0] if subtree else None
    ref, _refs = _find_ref(kind, code, board_refs())
    return ref


# ---------------------------------------------------------------------------------------------- one case


#: Events of the public history, and how each is labelled. Anything else (merges, which name other cases'
#: numbers; added information, which is the person's own text; internal steps) is left out.
_HISTORY_ACTIONS = (
    "submit",
    "accept",
    "assign",
    "start",
    "approve_extension",
    "reply",
    "approve_reply",
    "evaluate",
    "close",
    "reopen",
    "request_review",
    "decide_review",
    "import",
)
_HISTORY_LABELS = {
    "submit": gettext_lazy("收到诉求"),
    "reply": gettext_lazy("答复"),
    "approve_reply": gettext_lazy("答复"),
}
DECISION_LABELS = {"upheld": gettext_lazy("维持原答复"), "redo": gettext_lazy("重新办理")}


@dataclass(frozen=True)
class HistoryRow:
    action: str
    label: str
    at: datetime
    to_status: str = ""
    to_status_label: str = ""
    status_changed: bool = False
    #: Structured facts of the event (the API's `details`): department, rating, decision, ...
    facts: dict[str, Any] = field(default_factory=dict)
    #: The same facts as sentences, for the page.
    details: tuple[str, ...] = ()
    #: Never filled: notes are free text (names, numbers). The page shares the staff timeline's template.
    note: str = ""
    public: bool = True


@dataclass(frozen=True)
class PublicReply:
    text: str
    department: str | None
    sent_at: datetime | None
    state: str = "sent"  # what templates/partials/replies.html reads, with created_at

    @property
    def created_at(self) -> datetime | None:
        return self.sent_at


@dataclass(frozen=True)
class BoardCase:
    item: BoardItem
    content: str
    replies: list[PublicReply]
    history: list[HistoryRow]


def _status_label(value: str) -> str:
    return str(CaseStatus(value).label) if value in CaseStatus.values else ""


def _department_name(value: Any, refs: Refs) -> str | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    ref = next((r for r in refs.departments if r.pk == pk), None)
    return public_text(ref.name) if ref else None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None


def _import_rows(event: CaseEvent) -> list[HistoryRow]:
    """An imported case's history, from the times its import event recorded."""
    data = event.data if isinstance(event.data, dict) else {}
    rows = []
    for key, action in (("submitted_at", "submit"), ("replied_at", "reply"), ("closed_at", "close")):
        moment = _moment(data.get(key))
        if moment is not None:
            rows.append(
                HistoryRow(
                    action=action, label=str(_HISTORY_LABELS.get(action) or event_label(action)), at=moment
                )
            )
    return rows


def _history_row(event: CaseEvent, refs: Refs, reply_departments: dict[int, str | None]) -> HistoryRow:
    data = event.data if isinstance(event.data, dict) else {}
    action = event.action
    details: dict[str, Any] = {}
    lines: list[str] = []
    if action == "submit" and data.get("channel") in Channel.values:
        details["channel"] = data["channel"]
        lines.append(_("渠道：%(channel)s") % {"channel": Channel(data["channel"]).label})
    if action in ("assign", "reopen", "decide_review"):
        name = _department_name(data.get("department"), refs)
        if name:
            details["department"] = name
            lines.append(_("承办部门：%(name)s") % {"name": name})
    if action in ("reply", "approve_reply"):
        name = reply_departments.get(data.get("reply_id")) if isinstance(data.get("reply_id"), int) else None
        if name:
            details["department"] = name
            lines.append(_("答复单位：%(name)s") % {"name": name})
    if action == "approve_extension" and type(data.get("days")) is int:
        details["days"] = data["days"]
        lines.append(_("延期 %(n)s 天") % {"n": data["days"]})
    if action == "evaluate" and data.get("rating") in Evaluation.Rating.values:
        # The rating and whether the matter was solved; never the reason (the person's own words).
        rating = Evaluation.Rating(data["rating"])
        details["rating"] = rating.value
        details["rating_label"] = str(rating.label)
        text = str(rating.label)
        if data.get("resolved") in (True, False):
            details["resolved"] = data["resolved"]
            details["resolved_label"] = str(_("已解决") if data["resolved"] else _("未解决"))
            text = f"{text}，{details['resolved_label']}"
        lines.append(_("评价：%(text)s") % {"text": text})
    if action == "close" and data.get("reason") == "evaluation_window_passed":
        details["automatic"] = True
        lines.append(_("评价期限届满，未作评价，自动办结"))
    if action == "decide_review" and data.get("decision") in DECISION_LABELS:
        details["decision"] = data["decision"]
        details["decision_label"] = str(DECISION_LABELS[data["decision"]])
        lines.insert(0, _("复查决定：%(d)s") % {"d": details["decision_label"]})
    label = _HISTORY_LABELS.get(action) or event_label(action)
    return HistoryRow(
        action="reply" if action == "approve_reply" else action,
        label=str(label),
        at=event.created_at,
        to_status=event.to_status,
        to_status_label=_status_label(event.to_status),
        status_changed=bool(event.to_status) and event.from_status != event.to_status,
        facts=details,
        details=tuple(lines),
    )


#: Case ids are 64-bit signed integers in every database: anything else cannot name a case.
MAX_CASE_ID = 2**63 - 1


def _published(case_id: int) -> QuerySet[Publication]:
    if not (0 < case_id <= MAX_CASE_ID):
        return Publication.objects.none()
    return Publication.objects.filter(pk=case_id, state=PUBLISHED)


def board_case(case_id: int) -> BoardCase:
    """A published case as the public reads it: masked texts, replies and public history (three queries).

    Raises NotFound for anything not published."""
    pub = (
        _published(case_id)
        .select_related("category", "region", "department")
        .defer("search_text", "note", "hold_reason", "edited_by", "edited_at")
        .first()
    )
    if pub is None:
        raise NotFound(_("没有找到这件公开的诉求。"))
    refs = board_refs()
    replies = list(
        PublishedReply.objects.filter(publication_id=pub.pk)
        .select_related("department")
        .only("reply_id", "text", "sent_at", "department__name")
        .order_by("sent_at", "id")
    )
    reply_departments = {
        r.reply_id: public_text(r.department.name) if r.department else None for r in replies
    }
    events = (
        CaseEvent.objects.filter(case_id=pub.pk, is_public=True, action__in=_HISTORY_ACTIONS)
        .only("action", "from_status", "to_status", "data", "created_at")
        .order_by("created_at", "id")
    )
    history: list[HistoryRow] = []
    for event in events:
        if event.action == "import":
            history.extend(_import_rows(event))
        else:
            history.append(_history_row(event, refs, reply_departments))
    history.sort(key=lambda row: row.at)
    return BoardCase(
        item=board_item(pub),
        content=public_text(pub.content),
        replies=[
            PublicReply(text=public_text(r.text), department=reply_departments[r.reply_id], sent_at=r.sent_at)
            for r in replies
        ],
        history=history,
    )


# ---------------------------------------------------------------------------------------------- writes


def board_view_record(*, case_id: int) -> bool:
    """One more view of a published case (an F() update; updated_at is left alone). False if not published."""
    return bool(_published(case_id).update(view_count=F("view_count") + 1))


def viewed_in_session(session, case_id: int, *, key: str = "minyi.board.viewed") -> bool:
    """Whether the session has seen the case already; remembers it if not (the most recent ones are kept)."""
    seen = session.get(key, [])
    if not isinstance(seen, list):
        seen = []
    if case_id in seen:
        return True
    session[key] = [*seen, case_id][-MAX_VIEWED_IN_SESSION:]
    return False


def support_voter(*, ip: str, user_agent: str) -> str:
    """The keyed hash that stands for one client: HMAC-SHA256(SECRET_KEY, address + user agent), hex. The address
    itself is never stored."""
    message = f"{ip}\n{user_agent[:512]}".encode("utf-8", "replace")
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SupportResult:
    added: bool
    support_count: int


def board_support_add(*, case_id: int, voter: str, now: datetime | None = None) -> SupportResult:
    """Add one support (+1, 我也遇到) to a published case, once per voter.

    Raises NotFound when the case is not published. `added` is False when this voter had supported it already
    (the unique constraint refused the row); support_count then stays as it was."""
    if not _published(case_id).exists():
        raise NotFound(_("没有找到这件公开的诉求。"))
    added = True
    try:
        with transaction.atomic():
            Support.objects.create(publication_id=case_id, voter=voter, created_at=now or timezone.now())
            Publication.objects.filter(pk=case_id).update(support_count=F("support_count") + 1)
    except IntegrityError:
        added = False
    count = Publication.objects.filter(pk=case_id).values_list("support_count", flat=True).first() or 0
    return SupportResult(added=added, support_count=count)


def board_latest(*, size: int = 5) -> list[BoardItem]:
    """The newest published cases, for the portal (one indexed query, cached briefly like the portal counts)."""
    key = f"minyi:board:latest:{size}"
    items = cache.get(key)
    if items is None:
        pubs = (
            Publication.objects.filter(state=PUBLISHED)
            .select_related("category", "region", "department")
            .defer("search_text")
            .order_by("-published_at", "-pk")[:size]
        )
        items = [board_item(pub) for pub in pubs]
        cache.set(key, items, 60)
    return items
