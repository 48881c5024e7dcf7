"""The board's selectors (minyi.disclosure.board): only published cases, every filter, both orderings, keyset
pagination with ties, the capped count, the case's public history, and supports once per client.

Runs on SQLite and on PostgreSQL (DATABASE_URL=postgres://...): the word search takes the GIN index's
expression there and LIKE here, and both must give the same answers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext

from minyi.accounts.models import Region
from minyi.cases.models import CaseEvent
from minyi.cases.tests.factories import NOW, SHANGHAI, CategoryFactory, RegionFactory, act, create_case
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import NotFound, ValidationFailed
from minyi.disclosure import board
from minyi.disclosure.models import Publication, Support
from minyi.disclosure.tests.helpers import make_published, publish_for_test

S = CaseStatus


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def ids(page: board.BoardPage) -> list[int]:
    return [item.case_id for item in page.items]


def found(**params) -> set[int]:
    """The case ids on the board for these filters (all of them: the test sets are smaller than a page)."""
    page = board.board_page(board.board_query(params))
    assert page.next is None
    return set(ids(page))


@pytest.fixture
def world(org):
    """Four published cases spread over the trees, statuses and days, and two that are not public."""
    urban = CategoryFactory(name="城乡建设", code="urban")
    housing = CategoryFactory(name="住房保障", code="housing", parent=urban)
    street = RegionFactory(name="江北街道", code="jc-jb-1", parent=org.region, level=Region.Level.STREET)
    community = RegionFactory(name="幸福社区", code="jc-jb-1-1", parent=street, level=Region.Level.COMMUNITY)
    south = RegionFactory(name="江南区", code="jc-jn", parent=org.region.parent)
    a = make_published(
        title="电梯停运两周",
        content="3号楼电梯停运，老人出行困难。",
        category=housing,
        region=street,
        department=org.dept_a,
        published_at=local(2026, 3, 1, 0, 0),  # the first moment of 1 March, local time
    )
    b = make_published(
        title="工地夜间施工噪音",
        content="工地每晚施工到凌晨，噪音扰民。",
        category=org.category,
        region=south,
        department=org.dept_b,
        case_status=S.REPLIED,
        kind="help",
        published_at=local(2026, 3, 5, 12, 0),
    )
    c = make_published(
        title="小区电梯噪音大",
        content="电梯运行噪音很大，晚上睡不着。",
        category=urban,
        region=community,
        department=org.parent,
        case_status=S.UNDER_REVIEW,
        kind="suggestion",
        published_at=local(2026, 2, 28, 23, 59),
    )
    d = make_published(
        title="路灯不亮",
        content="5栋门前路灯坏了。",
        case_status=S.ASSIGNED,
        kind="question",
        published_at=local(2026, 3, 3, 8, 0),
    )
    held = make_published(title="电梯停运", state=Publication.State.HELD)
    withdrawn = make_published(title="电梯停运", state=Publication.State.WITHDRAWN, published_at=NOW)
    return {
        "a": a.pk,
        "b": b.pk,
        "c": c.pk,
        "d": d.pk,
        "held": held.pk,
        "withdrawn": withdrawn.pk,
        "community": community,
    }


# ---------------------------------------------------------------------------------------------- what is public


@pytest.mark.django_db
def test_only_published_rows_are_ever_read(world):
    w = world
    assert found() == {w["a"], w["b"], w["c"], w["d"]}
    assert board.board_count(board.board_query({})) == board.BoardCount(value=4, capped=False)
    assert (
        w["a"] in found(q="电梯")
        and w["held"] not in found(q="电梯")
        and w["withdrawn"] not in found(q="电梯")
    )
    for key in ("held", "withdrawn"):
        with pytest.raises(NotFound):
            board.board_case(w[key])
    assert not board.board_view_record(case_id=w["held"])
    with pytest.raises(NotFound):
        board.board_support_add(case_id=w["withdrawn"], voter="x" * 64)
    assert board.board_feed_items() and all(p.state == "published" for p in board.board_feed_items())


# ---------------------------------------------------------------------------------------------- filters


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "urban"}, {"a", "c"}),  # the category and its sub-categories
        ({"category": "housing"}, {"a"}),
        ({"category": "property"}, {"b"}),
        ({"region": "jc"}, {"a", "b", "c"}),  # the city: every district, street and community in it
        ({"region": "jc-jb"}, {"a", "c"}),
        ({"region": "jc-jb-1"}, {"a", "c"}),
        ({"region": "jc-jb-1-1"}, {"c"}),  # a community, below the filter menu's depth
        ({"region": "jc-jn"}, {"b"}),
        ({"department": "zjj"}, {"a", "c"}),  # the bureau and its sections
        ({"department": "zjj-wy"}, {"a"}),
        ({"department": "rsj"}, {"b"}),
        ({"status": "closed"}, {"a"}),
        ({"status": "replied"}, {"b"}),
        ({"status": "reviewing"}, {"c"}),
        ({"status": "handling"}, {"d"}),
        ({"date_from": "2026-03-01"}, {"a", "b", "d"}),  # local days: a is published at 00:00 on 1 March
        ({"date_to": "2026-02-28"}, {"c"}),  # c at 23:59 on 28 February
        ({"date_from": "2026-03-01", "date_to": "2026-03-01"}, {"a"}),
        ({"date_from": "2026-03-02", "date_to": "2026-03-04"}, {"d"}),
        ({"q": "电梯"}, {"a", "c"}),
        ({"q": "噪音"}, {"b", "c"}),
        ({"q": "电梯 噪音"}, {"c"}),  # every word must occur
        ({"q": "电梯噪音"}, {"c"}),  # the same words, segmented
        ({"q": "地铁"}, set()),
        ({"q": "电梯", "department": "zjj", "status": "closed", "date_from": "2026-03-01"}, {"a"}),
        ({"q": "  ", "category": ""}, {"a", "b", "c", "d"}),  # empty means any
    ],
)
def test_each_filter(world, params, expected):
    assert found(**params) == {world[key] for key in expected}


@pytest.mark.django_db
def test_words_with_search_syntax_are_only_words(world):
    # tsquery operators, quotes, LIKE wildcards and SQL: never syntax, never an error
    for q in ("电梯 & | ! ( ) : * ' \\ <->", "%", "_", "电梯' OR 1=1 --", "'电梯'", "电梯:*"):
        result = found(q=q)
        assert result <= {world["a"], world["b"], world["c"], world["d"]}
    assert found(q="电梯' OR 1=1 --") <= found(q="电梯")  # the quote is dropped, never SQL
    query = board.board_query({"q": "！！？？"})
    assert query.searched_nothing and found(q="！！？？") == found()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "nope"}, "category"),
        ({"category": "../../etc"}, "category"),
        ({"region": "x" * 61}, "region"),
        ({"department": "不存在"}, "department"),
        ({"status": "submitted"}, "status"),  # the public statuses only
        ({"order": "random"}, "order"),
        ({"date_from": "2026-3-1"}, "date_from"),
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_to": "01/03/2026"}, "date_to"),
        ({"date_to": "9999-12-31"}, "date_to"),  # would overflow the day after
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "date_to"),
        ({"q": "电" * 101}, "q"),
        ({"q": "电梯\x00"}, "q"),
        ({"q": "电梯\u202e"}, "q"),  # bidi override
        ({"q": "电\u200b梯"}, "q"),  # zero-width space
        ({"q": "\ufffd\ufffd"}, "q"),  # what GB18030 bytes become when decoded as UTF-8
        ({"region": "jc\x1b"}, "region"),
        ({"cursor": "x" * 1000}, "cursor"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(org, params, field):
    with pytest.raises(ValidationFailed) as refused:
        board.board_query(params)
    assert field in refused.value.fields
    assert refused.value.status_code == 400
    assert refused.value.message  # a sentence for people, in the user's language
    assert "\x00" not in refused.value.message and "\u202e" not in refused.value.message


@pytest.mark.django_db
def test_a_category_created_after_the_reference_cache_is_still_found(world):
    board.board_query({})  # fills the cache
    fresh = CategoryFactory(name="新分类", code="brand-new")
    query = board.board_query({"category": "brand-new"})
    assert query.category.pk == fresh.pk


# ---------------------------------------------------------------------------------------------- orderings


@pytest.mark.django_db
def test_orderings_newest_and_most_viewed_break_ties_by_case(db):
    same = local(2026, 3, 2, 10, 0)
    p1 = make_published(published_at=same, view_count=5)
    p2 = make_published(published_at=same, view_count=9)
    p3 = make_published(published_at=local(2026, 3, 2, 11, 0), view_count=5)
    p4 = make_published(published_at=local(2026, 3, 1, 9, 0), view_count=0)
    newest = board.board_page(board.board_query({}))
    assert ids(newest) == [p3.pk, p2.pk, p1.pk, p4.pk]
    views = board.board_page(board.board_query({"order": "views"}))
    assert ids(views) == [p2.pk, p3.pk, p1.pk, p4.pk]


# ---------------------------------------------------------------------------------------------- pagination


def _walk(params: dict, size: int) -> tuple[list[list[int]], list[list[int]]]:
    """All pages forwards through `next`, then backwards through `previous` from the last."""
    forward, page = [], board.board_page(board.board_query(params), size=size)
    forward.append(ids(page))
    while page.next:
        page = board.board_page(board.board_query({**params, "cursor": page.next}), size=size)
        forward.append(ids(page))
    backward = [ids(page)]
    while page.previous:
        page = board.board_page(board.board_query({**params, "cursor": page.previous}), size=size)
        backward.append(ids(page))
    return forward, backward


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["newest", "views"])
def test_cursor_pages_with_ties_have_no_duplicates_and_no_gaps(db, order):
    # 23 cases on three moments (and three view counts): most pages start and end inside a tie
    moments = [local(2026, 3, 2, 10, 0), local(2026, 3, 2, 9, 0, 0, 500), local(2026, 3, 1, 23, 0)]
    pubs = [make_published(published_at=moments[i % 3], view_count=(i * 7) % 3) for i in range(23)]
    key = (lambda p: (p.published_at, p.pk)) if order == "newest" else (lambda p: (p.view_count, p.pk))
    expected = [p.pk for p in sorted(pubs, key=key, reverse=True)]

    forward, backward = _walk({"order": order}, size=5)

    assert [len(p) for p in forward] == [5, 5, 5, 5, 3]
    assert [pk for page in forward for pk in page] == expected
    assert backward == list(reversed(forward))


@pytest.mark.django_db
def test_cursor_pages_keep_the_filters(world):
    for i in range(6):
        make_published(title=f"电梯故障{i}", published_at=local(2026, 3, 2, 10, i))
    forward, _back = _walk({"q": "电梯", "date_from": "2026-03-01"}, size=4)
    flat = [pk for page in forward for pk in page]
    assert len(flat) == len(set(flat)) == 7  # six new ones and "a" (c is on 28 February)
    assert world["a"] == flat[-1] and world["c"] not in flat


@pytest.mark.django_db
def test_the_first_page_has_no_previous_and_the_last_no_next(db):
    for i in range(3):
        make_published(published_at=local(2026, 3, 2, 10, i))
    first = board.board_page(board.board_query({}), size=2)
    assert first.previous is None and first.next
    last = board.board_page(board.board_query({"cursor": first.next}), size=2)
    assert last.next is None and last.previous
    again = board.board_page(board.board_query({"cursor": last.previous}), size=2)
    assert ids(again) == ids(first) and again.previous is None


@pytest.mark.django_db
def test_bad_cursors_are_refused(db):
    make_published(published_at=NOW)
    make_published(published_at=NOW)
    good = board.board_page(board.board_query({}), size=1).next
    signer = signing.Signer(salt="minyi.disclosure.board.cursor")
    forged = [
        "garbage",
        good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb"),  # tampered signature
        signing.Signer(salt="another").sign_object([1, "n", "a", 1, 1]),  # signed for something else
        signer.sign_object([1, "n", "a", "1", 1]),  # well signed, wrong types
        signer.sign_object([1, "n", "x", 1, 1]),
        signer.sign_object([1, "n", "a", -1, 1]),
        signer.sign_object([2, "n", "a", 1, 1]),
        signer.sign_object({"a": 1}),
        "ä" + good,
    ]
    for cursor in forged:
        with pytest.raises(ValidationFailed) as refused:
            board.board_query({"cursor": cursor})
        assert refused.value.code == "invalid_cursor"
    with pytest.raises(ValidationFailed):  # a "newest" cursor used for "views"
        board.board_query({"cursor": good, "order": "views"})


@pytest.mark.django_db
def test_the_count_is_exact_up_to_the_cap(db, monkeypatch):
    for _ in range(5):
        make_published(published_at=NOW)
    assert board.board_count(board.board_query({})) == board.BoardCount(value=5, capped=False)
    monkeypatch.setattr(board, "COUNT_CAP", 3)
    assert board.board_count(board.board_query({})) == board.BoardCount(value=3, capped=True)
    with CaptureQueriesContext(connection) as queries:
        board.board_count(board.board_query({}))
    counting = [q["sql"] for q in queries if "COUNT" in q["sql"].upper()]
    assert len(counting) == 1 and "LIMIT 4" in counting[0].upper()  # over a LIMIT subquery, never the table


@pytest.mark.django_db
def test_a_page_is_two_queries_once_the_reference_data_is_cached(world):
    board.board_page(board.board_query({"region": "jc-jb", "q": "电梯"}))  # fills the caches
    with CaptureQueriesContext(connection) as queries:
        query = board.board_query({"region": "jc-jb", "category": "urban", "q": "电梯", "status": "closed"})
        board.board_page(query)
    assert len(queries) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("window", [3, 8, 100])
def test_a_search_through_a_window_gives_the_same_rows_as_through_the_index(db, monkeypatch, window):
    # given: every third case mentions 电梯; a search that PostgreSQL would take for common words (SCAN)
    pubs = [
        make_published(
            title="电梯故障" if i % 3 == 0 else "路灯不亮",
            content="请处理。",
            published_at=local(2026, 3, 2, 8, i // 2),
        )
        for i in range(24)
    ]
    expected = [
        p.pk for p in sorted(pubs, key=lambda p: (p.published_at, p.pk), reverse=True) if "电梯" in p.title
    ]
    by_index, _back = _walk({"q": "电梯"}, size=3)
    scan = board.SearchPlan(page=board.SCAN, count=board.SCAN, page_window=window, count_window=window)
    monkeypatch.setattr(board, "search_plan", lambda tokens, size=board.PAGE_SIZE: scan)

    # when: pages and count through windows of the newest rows (too small ones fall back to the index)
    by_window, backward = _walk({"q": "电梯"}, size=3)

    # then: the same rows, in the same pages
    assert [pk for page in by_index for pk in page] == expected
    assert by_window == by_index and backward == list(reversed(by_window))
    assert board.board_count(board.board_query({"q": "电梯"}), plan=scan) == board.BoardCount(8, False)


@pytest.mark.django_db
def test_a_window_short_of_matches_falls_back_to_the_index(db, monkeypatch):
    pubs = [
        make_published(title="路灯不亮", content="请处理。", published_at=local(2026, 3, 2, 8, i))
        for i in range(6)
    ]
    # older than every window: the windows hold no match
    rare = make_published(title="电梯故障", content="请处理。", published_at=local(2026, 3, 1, 8, 0))
    scan = board.SearchPlan(page=board.SCAN, count=board.SCAN, page_window=4, count_window=4)
    monkeypatch.setattr(board, "search_plan", lambda tokens, size=board.PAGE_SIZE: scan)
    query = board.board_query({"q": "电梯"})
    with CaptureQueriesContext(connection) as queries:
        page = board.board_page(query)
    assert ids(page) == [rare.pk] and page.count == board.BoardCount(1, False)
    assert len(queries) == 4  # the window's page and count found too few: the index answered both
    assert len(pubs) == 6


@pytest.mark.django_db
def test_the_search_plan_follows_the_word_shares(db, monkeypatch):
    stats = board.WordStats(shares={"投诉": 0.7, "电梯": 0.05, "噪音": 0.0005}, rows=1_000_000)
    monkeypatch.setattr(board, "_word_stats", lambda: stats)
    monkeypatch.setattr(board.connection, "vendor", "postgresql")
    common, medium, rare = (
        board.search_plan(("投诉",)),
        board.search_plan(("电梯",)),
        board.search_plan(("噪音",)),
    )
    assert (common.page, common.count) == (board.SCAN, board.SCAN)
    assert (medium.page, medium.count) == (board.SCAN, board.INDEX)
    assert (rare.page, rare.count) == (board.INDEX, board.INDEX)
    assert board.search_plan(("投诉", "火箭")) == board.SearchPlan()  # an unknown word: the index, always
    assert common.page_window == 100 and medium.page_window == 840
    assert board.search_plan(()) == board.SearchPlan()


# ---------------------------------------------------------------------------------------------- one case


@pytest.mark.django_db
def test_the_case_shows_masked_texts_and_its_whole_public_history(org, case_in):
    # given: a case rated dissatisfied (with a reason naming the person), reopened to another department,
    # replied again and rated satisfied
    case = case_in(
        S.REPLIED,
        title="我叫王小明，电梯坏了",
        content="我叫王小明，电话13912345678，3号楼电梯停运。",
        contact={"name": "王小明", "phone": "13912345678", "email": "wxm@example.cn"},
    )
    t = NOW + timedelta(hours=5)
    citizen = board_citizen(case)
    case = act(
        case,
        "evaluate",
        citizen,
        note="我叫王小明，电话13912345678，根本没修",
        data={"rating": "dissatisfied", "resolved": False},
        now=t,
    )
    case = act(
        case,
        "reopen",
        org.supervisor,
        note="重新办理",
        data={"department": org.dept_b.pk},
        now=t + timedelta(hours=1),
    )
    case = act(case, "start", org.handler_b, now=t + timedelta(hours=2))
    case = act(
        case, "reply", org.handler_b, data={"text": "已更换主板，电梯恢复运行。"}, now=t + timedelta(hours=3)
    )
    case = act(
        case, "evaluate", citizen, data={"rating": "satisfied", "resolved": True}, now=t + timedelta(hours=4)
    )
    publish_for_test(case)

    # when
    shown = board.board_case(case.pk)

    # then
    rows = [(h.action, h.label, h.details) for h in shown.history]
    actions = [r[0] for r in rows]
    assert actions == [
        "submit", "accept", "assign", "start", "reply", "evaluate",
        "reopen", "start", "reply", "evaluate",
    ]  # fmt: skip
    assert rows[2][2] == ("承办部门：市住建局物业监管科",)
    assert rows[4][2] == ("答复单位：市住建局物业监管科",)
    assert rows[5][2] == ("评价：不满意，未解决",)
    assert rows[6][2] == ("承办部门：市人社局",)
    assert rows[9][2] == ("评价：满意，已解决",)
    assert shown.history[5].facts == {
        "rating": "dissatisfied",
        "rating_label": "不满意",
        "resolved": False,
        "resolved_label": "未解决",
    }
    assert [r.department for r in shown.replies] == ["市住建局物业监管科", "市人社局"]
    assert shown.item.status == "closed" and shown.item.department.name == "市人社局"
    everything = repr(shown)
    for secret in ("王小明", "13912345678", "wxm@example.cn", case.tracking_number, "根本没修", "重新办理",
                   "t_handler_b", "t_supervisor"):  # fmt: skip
        assert secret not in everything


def board_citizen(case):
    from minyi.cases import policies

    return policies.citizen_actor(case=case)


@pytest.mark.django_db
def test_an_imported_case_shows_the_times_its_import_recorded(org):
    case = create_case(title="历史件")
    CaseEvent.objects.create(
        case=case,
        action="import",
        to_status=S.CLOSED,
        data={
            "submitted_at": "2019-05-01T08:00:00+08:00",
            "replied_at": "2019-05-03T09:00:00+08:00",
            "closed_at": "not a time",
            "row": 17,
            "file": "12345-2019.xlsx",
        },
        is_public=True,
        created_at=NOW,
    )
    publish_for_test(case, published_at=NOW)
    history = board.board_case(case.pk).history
    imported = [(h.action, h.at) for h in history if h.at.year == 2019]
    assert imported == [("submit", local(2019, 5, 1, 8, 0)), ("reply", local(2019, 5, 3, 9, 0))]
    assert "12345-2019.xlsx" not in repr(history)


@pytest.mark.django_db
def test_public_text_drops_what_cannot_be_shown_or_put_in_xml(db):
    hostile = "a\x00b\x08\x0b\x0c\x1f\ufffe\uffff\ud800\u202e\u2066\u200b\r\nc<script>&"
    assert board.public_text(hostile) == "ab\nc<script>&"  # markup is the template's to escape
    # stored text: any control character but NUL, which PostgreSQL cannot hold (and intake removes)
    pub = make_published(title="\u202e标题\x07", content="内容\x1b", published_at=NOW)
    item = board.board_page(board.board_query({})).items[0]
    assert item.case_id == pub.pk and item.title == "标题" and item.excerpt == "内容"


# ---------------------------------------------------------------------------------------------- writes


@pytest.mark.django_db
def test_a_view_is_one_f_update(db):
    pub = make_published(published_at=NOW, view_count=41)
    with CaptureQueriesContext(connection) as queries:
        assert board.board_view_record(case_id=pub.pk)
    assert len(queries) == 1 and "UPDATE" in queries[0]["sql"].upper()
    pub.refresh_from_db()
    assert pub.view_count == 42


@pytest.mark.django_db
def test_supports_count_once_per_voter(db):
    pub = make_published(published_at=NOW)
    alice = board.support_voter(ip="203.0.113.5", user_agent="Firefox")
    bob = board.support_voter(ip="203.0.113.5", user_agent="Chrome")  # same address, another browser

    first = board.board_support_add(case_id=pub.pk, voter=alice)
    again = board.board_support_add(case_id=pub.pk, voter=alice)
    other = board.board_support_add(case_id=pub.pk, voter=bob)

    assert (first.added, first.support_count) == (True, 1)
    assert (again.added, again.support_count) == (False, 1)
    assert (other.added, other.support_count) == (True, 2)
    assert Support.objects.filter(publication=pub).count() == 2
    pub.refresh_from_db()
    assert pub.support_count == 2


def test_the_voter_is_a_keyed_hash_of_address_and_agent(settings):
    voter = board.support_voter(ip="203.0.113.5", user_agent="Firefox")
    assert len(voter) == 64 and int(voter, 16) >= 0
    assert "203.0.113.5" not in voter
    assert voter == board.support_voter(ip="203.0.113.5", user_agent="Firefox")
    assert voter != board.support_voter(ip="203.0.113.6", user_agent="Firefox")
    settings.SECRET_KEY = "another-secret-key-for-this-test"
    assert voter != board.support_voter(ip="203.0.113.5", user_agent="Firefox")


def test_public_statuses_cover_every_state_a_published_case_can_be_in():
    for value in (S.ASSIGNED, S.RETURNED, S.IN_PROGRESS, S.REPLIED, S.UNDER_REVIEW, S.CLOSED):
        key, label = board.public_status(value)
        assert key in board.PUBLIC_STATUSES and label
    assert board.public_status(S.MERGED) == ("merged", "已并案")


# ---------------------------------------------------------------------------------------------- PostgreSQL plans


def _plan(qs, *, bitmap_only: bool = False) -> str:
    with connection.cursor() as cursor:  # a handful of rows: make the planner show the index it can use
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL enable_indexscan = {'off' if bitmap_only else 'on'}")
    return qs.explain()


def _bulk_published(n: int, words: str) -> list[Publication]:
    """`n` published cases, written in bulk (the board reads only these rows)."""
    from minyi.cases.models import Case

    stamp = NOW.strftime("%H%M%S")
    cases = Case.objects.bulk_create(
        [
            Case(tracking_number=f"BULK{stamp}{i:06d}", title=words, content=words, created_at=NOW)
            for i in range(n)
        ]
    )
    return Publication.objects.bulk_create(
        [
            Publication(
                case=case,
                state=Publication.State.PUBLISHED,
                title=words,
                content=words,
                kind="complaint",
                case_status=S.CLOSED,
                received_at=NOW,
                published_at=NOW,
                search_text=f" {words} ",
            )
            for case in cases
        ]
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_search_uses_the_gin_index_of_migration_0002(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'pub_board_search'")
        (indexdef,) = cursor.fetchone()
    assert "to_tsvector('simple'::regconfig, search_text)" in indexdef
    _bulk_published(400, "路灯 不亮")
    match = make_published(title="电梯停运", published_at=NOW)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE disclosure_publication")
    qs = board.board_queryset(board.board_query({"q": "电梯 停运"}))
    assert "pub_board_search" in _plan(qs)
    assert found(q="电梯 停运") == {match.pk}


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_pages_are_index_range_scans(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    for i in range(3):
        make_published(published_at=NOW + timedelta(minutes=i), view_count=i)
    for order, index, column in (
        ("newest", "pub_board_newest", "published_at"),
        ("views", "pub_board_viewed", "view_count"),
    ):
        cursor = board.board_page(board.board_query({"order": order}), size=1).next
        query = board.board_query({"order": order, "cursor": cursor})
        key = board._ORDER_KEYS[order]
        qs = board._keyset(board.board_queryset(query), query.cursor).order_by(f"-{key}", "-pk")[:21]
        plan = _plan(qs)
        assert index in plan and "Sort" not in plan
        assert re.search(rf"Index Cond: .*{column} <=", plan)  # the scan starts at the cursor
