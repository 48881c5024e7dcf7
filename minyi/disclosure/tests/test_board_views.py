"""The board's pages: the list (filters, htmx, pages, bad input), a case page (what it shows and never shows,
views), and supports (CSRF, once per client, rate limit)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from minyi.cases import policies
from minyi.cases.tests.factories import NOW, SHANGHAI, act
from minyi.cases.workflow import CaseStatus
from minyi.disclosure.models import Publication, Support
from minyi.disclosure.tests.helpers import make_published, publish_for_test

S = CaseStatus
BOARD = reverse("disclosure:board")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def case_url(pk: int) -> str:
    return reverse("disclosure:board_case", args=[pk])


def support_url(pk: int) -> str:
    return reverse("disclosure:board_support", args=[pk])


def html_of(response) -> str:
    return response.content.decode()


def listed(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="board-item-(\d+)"', html_of(response))]


def links(response, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', html_of(response))
    return unescape(found.group(1)) if found else None


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.MINYI_RATE_LIMIT_ENABLED = False


@pytest.fixture
def handled(org, case_in):
    """A real case through its life (rated satisfied and solved), with personal data in its texts, published."""
    case = case_in(
        S.REPLIED,
        title="电梯停运，我叫赵大海",
        content="我叫赵大海，电话13700001111，身份证号110101199003071233，3号楼电梯停运两周。",
        contact={"name": "赵大海", "phone": "13700001111", "email": "zhao@example.cn"},
        category=org.category,
        region=org.region,
    )
    case = act(
        case,
        "evaluate",
        policies.citizen_actor(case=case),
        note="赵大海：修得很快",
        data={"rating": "satisfied", "resolved": True},
        now=NOW + timedelta(hours=6),
    )
    publish_for_test(case)
    return case


# ---------------------------------------------------------------------------------------------- the list


@pytest.mark.django_db
def test_the_board_lists_published_cases_with_their_feeds(org, handled):
    held = make_published(title="不公开的诉求", state=Publication.State.HELD)
    response = Client().get(BOARD)
    assert response.status_code == 200
    html = html_of(response)
    assert listed(response) == [handled.pk]
    assert held.pk not in listed(response) and "不公开的诉求" not in html
    assert '<link rel="alternate" type="application/atom+xml"' in html
    assert reverse("disclosure:board_feed") in html
    assert 'id="board-count">共 1 件<' in html
    assert "物业管理" in html and "江北区" in html and "市住建局物业监管科" in html
    for secret in ("赵大海", "13700001111", "110101199003071233", handled.tracking_number):
        assert secret not in html
    # the strict CSP: no inline styles or scripts
    assert "style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)


@pytest.mark.django_db
def test_a_chosen_category_or_region_links_its_own_feed(org, handled):
    html = html_of(Client().get(BOARD, {"category": "property", "region": "jc-jb"}))
    assert reverse("disclosure:board_feed_category", args=["property"]) in html
    assert reverse("disclosure:board_feed_region", args=["jc-jb"]) in html
    # the form shows what was chosen
    assert '<option value="property" selected>物业管理</option>' in html
    assert '<option value="jc-jb" selected>　江北区</option>' in html
    assert '<option value="newest" selected>' in html


@pytest.mark.django_db
def test_htmx_gets_only_the_list(org, handled):
    response = Client().get(BOARD, {"q": "电梯"}, headers={"HX-Request": "true", "HX-Target": "board-list"})
    assert response.status_code == 200
    html = html_of(response)
    assert "<html" not in html and "board-filters" not in html
    assert listed(response) == [handled.pk]
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_pages_follow_next_and_previous_links_without_repeats(db):
    same = local(2026, 3, 2, 10, 0)
    pubs = [make_published(published_at=same if i % 2 else local(2026, 3, 1, 9, i)) for i in range(25)]
    client = Client()

    first = client.get(BOARD)
    assert len(listed(first)) == 20 and links(first, "prev") is None
    second = client.get(links(first, "next"))
    assert second.status_code == 200 and len(listed(second)) == 5 and links(second, "next") is None
    assert sorted(listed(first) + listed(second)) == sorted(p.pk for p in pubs)
    back = client.get(links(second, "prev"))
    assert listed(back) == listed(first)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("category=nope", "没有这个分类"),
        ("region=nowhere", "没有这个区域"),
        ("department=nobody", "没有这个承办部门"),
        ("status=open", "办理状态只能是"),
        ("date_from=2026-02-30", "起始日期不是有效的日期"),
        ("date_to=yesterday", "截止日期的格式应为"),
        ("date_from=2026-03-05&date_to=2026-03-01", "起始日期不能晚于截止日期"),
        ("q=" + "长" * 101, "搜索词不能超过 100 个字"),
        ("q=%E7%94%B5%E6%A2%AF%00", "控制字符"),  # 电梯 and NUL
        ("q=%E2%80%AE%E7%94%B5%E6%A2%AF", "控制字符"),  # a bidi override before 电梯
        ("q=%B5%E7%CC%DD", "UTF-8"),  # 电梯 in GB18030
        ("cursor=not-a-cursor", "翻页参数无效"),
        ("order=random", "排序方式只能是"),
    ],
)
def test_bad_filters_answer_400_with_a_chinese_message(org, handled, query, message):
    response = Client().get(f"{BOARD}?{query}")
    assert response.status_code == 400
    html = html_of(response)
    assert message in html
    assert 'role="alert"' in html and "board-filters" in html  # the form is there to correct it
    assert "\x00" not in html and "\u202e" not in html


@pytest.mark.django_db
def test_bad_filters_through_htmx_swap_the_error_into_the_list(org, handled):
    response = Client().get(
        BOARD, {"date_from": "2026-13-01"}, headers={"HX-Request": "true", "HX-Target": "board-list"}
    )
    assert response.status_code == 400
    assert "<html" not in html_of(response) and "起始日期不是有效的日期" in html_of(response)


@pytest.mark.django_db
def test_markup_in_published_text_is_shown_as_text(db):
    make_published(
        title="<script>alert(1)</script>", content="<img src=x onerror=alert(1)>", published_at=NOW
    )
    html = html_of(Client().get(BOARD))
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_a_board_request_takes_at_most_five_queries(org, handled, django_assert_max_num_queries):
    for i in range(30):
        make_published(title=f"电梯故障{i}", category=org.category, region=org.region, department=org.dept_a,
                       published_at=local(2026, 3, 2, 8, i))  # fmt: skip
    client = Client()
    client.get(case_url(handled.pk))  # the visitor now has a session (read on every page)
    page = client.get(BOARD, {"q": "电梯"})
    params = {
        "q": "电梯",
        "category": "property",
        "region": "jc",
        "department": "zjj",
        "status": "closed",
        "date_from": "2026-03-01",
        "date_to": "2026-03-31",
        "cursor": parse_qs(urlsplit(links(page, "next")).query)["cursor"][0],
    }
    # cold reference data: categories, departments and regions, and the region's sub-tree, are read too (the word
    # statistics that PostgreSQL reads once per ten minutes were read by the search above)
    cache.delete_many(["minyi:board:refs:v1", "minyi:board:region-subtree:v1:jc"])
    with django_assert_max_num_queries(5):
        response = client.get(BOARD, params)
    assert response.status_code == 200 and listed(response)
    with django_assert_max_num_queries(3):  # warm: the page, the count and the session
        client.get(BOARD, {"order": "views"})


# ---------------------------------------------------------------------------------------------- a case page


@pytest.mark.django_db
def test_the_case_page_shows_the_public_history_and_no_personal_data(org, handled):
    response = Client().get(case_url(handled.pk))
    assert response.status_code == 200
    html = html_of(response)
    history = html[html.index('id="board-history"') :]
    for step in (
        "收到诉求",
        "受理",
        "交办",
        "承办部门：市住建局物业监管科",
        "开始办理",
        "答复",
        "评价：满意，已解决",
    ):
        assert step in history
    assert "经核查，已督促物业公司完成维修。" in html  # the reply
    assert "3号楼电梯停运两周" in html
    assert "物业管理" in html and "江北区" in html and "已办结" in html and "投诉" in html
    for secret in (
        "赵大海",
        "13700001111",
        "110101199003071233",
        "zhao@example.cn",
        handled.tracking_number,
        "修得很快",  # the person's words with the rating
        "t_handler_a",
        "t_intake",
        "t_dispatcher",
        "承办人",  # staff roles
    ):
        assert secret not in html


@pytest.mark.django_db
def test_anything_not_published_is_404(org, handled):
    held = make_published(state=Publication.State.HELD)
    withdrawn = make_published(state=Publication.State.WITHDRAWN, published_at=NOW)
    client = Client()
    for pk in (held.pk, withdrawn.pk, 987654, 2**70):
        assert client.get(f"/board/{pk}/").status_code == 404
        assert client.post(f"/board/{pk}/support/").status_code == 404
    assert client.get("/board/abc/").status_code == 404


@pytest.mark.django_db
def test_a_view_counts_once_per_session(org, handled):
    first, second = Client(), Client()
    first.get(case_url(handled.pk))
    response = first.get(case_url(handled.pk))
    assert 'id="board-views">浏览 1<' in html_of(response)
    second.get(case_url(handled.pk))
    assert Publication.objects.get(pk=handled.pk).view_count == 2


# ---------------------------------------------------------------------------------------------- supports


def csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="TestBrowser/1.0")
    client.get(BOARD)
    return client, client.cookies["csrftoken"].value


@pytest.mark.django_db
def test_a_support_needs_the_csrf_token(org, handled):
    client = Client(enforce_csrf_checks=True)
    assert client.post(support_url(handled.pk)).status_code == 403
    assert Support.objects.count() == 0


@pytest.mark.django_db
def test_a_support_counts_once_per_client(org, handled):
    client, token = csrf_client()
    page = client.get(case_url(handled.pk))
    assert support_url(handled.pk) in html_of(page) and "csrfmiddlewaretoken" in html_of(page)

    added = client.post(support_url(handled.pk), {"csrfmiddlewaretoken": token})
    assert added.status_code == 302 and added["Location"] == case_url(handled.pk)
    again = client.post(support_url(handled.pk), {"csrfmiddlewaretoken": token})
    assert again.status_code == 409 and "您已经附议过" in html_of(again)

    # another browser on the same address is another client; a cookie-less repeat from the first is not
    other = Client(HTTP_USER_AGENT="OtherBrowser/2.0")
    assert other.post(support_url(handled.pk)).status_code == 302
    assert Client(HTTP_USER_AGENT="TestBrowser/1.0").post(support_url(handled.pk)).status_code == 409

    assert Publication.objects.get(pk=handled.pk).support_count == 2
    assert Support.objects.filter(publication_id=handled.pk).count() == 2
    page = client.get(case_url(handled.pk))
    assert 'id="support-count">2<' in html_of(page) and "您已附议" in html_of(page)


@pytest.mark.django_db
def test_an_htmx_support_swaps_the_box(org, handled):
    client = Client()
    headers = {"HX-Request": "true", "HX-Target": "support-box"}
    added = client.post(support_url(handled.pk), headers=headers)
    assert added.status_code == 200
    assert "<html" not in html_of(added) and 'id="support-count">1<' in html_of(added)
    again = Client().post(support_url(handled.pk), headers=headers)
    assert again.status_code == 409 and 'id="support-count">1<' in html_of(again)


@pytest.mark.django_db
def test_supports_are_rate_limited(org, handled, settings):
    settings.MINYI_RATE_LIMIT_ENABLED = True
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "support": "2/h"}
    others = [make_published(published_at=NOW) for _ in range(2)]
    client = Client()
    assert client.post(support_url(handled.pk)).status_code == 302
    assert client.post(support_url(others[0].pk)).status_code == 302
    limited = client.post(support_url(others[1].pk))
    assert limited.status_code == 429 and "请求过于频繁" in html_of(limited)
    assert limited["Retry-After"] == "3600"
    htmx = client.post(support_url(others[1].pk), headers={"HX-Request": "true", "HX-Target": "support-box"})
    assert htmx.status_code == 429 and "操作过于频繁" in html_of(htmx)
    assert Publication.objects.get(pk=others[1].pk).support_count == 0


@pytest.mark.django_db
def test_support_is_post_only(org, handled):
    assert Client().get(support_url(handled.pk)).status_code == 405
