"""The public scoreboard pages: /scoreboard/ (ranking), /scoreboard/department/<id>/ and /scoreboard/region/<id>/
(monthly trends). The figures are those of the hand-made set in test_scoreboard.py."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from minyi.accounts.models import Department
from minyi.disclosure import scoreboard
from minyi.disclosure.tests.test_scoreboard import build_hand_made

TODAY = date(2026, 4, 15)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    """The pages' clock: mid-April 2026, so that the hand-made March is in every trend."""
    monkeypatch.setattr(scoreboard, "today_local", lambda: TODAY)


@pytest.fixture
def board(org):
    made = build_hand_made(org)
    scoreboard.rollup_rebuild()
    return made


def _row_html(body: str, name: str) -> str:
    """The first table row that names `name`."""
    rows = [row for row in re.findall(r"<tr>.*?</tr>", body, re.S) if name in row]
    assert rows, name
    return rows[0]


def _cell(row: str, key: str) -> str:
    match = re.search(r'data-rate="' + key + r'">([^<]*)<span class="score-detail">([^<]*)</span>', row)
    assert match, key
    return f"{match.group(1)} {match.group(2)}"


def test_the_ranking_page_shows_every_rate_with_its_fraction(client, board):
    response = client.get("/scoreboard/", {"period": "2026-03"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "2026年3月" in body
    b = _row_html(body, "市人社局")
    assert _cell(b, "response_rate") == "66.7% 2/3"
    assert _cell(b, "satisfaction_rate") == "50.0% 1/2"
    assert _cell(b, "avg_reply_days") == "0.2 2件"
    a = _row_html(body, "市住建局物业监管科")
    assert _cell(a, "response_rate") == "50.0% 2/4"
    assert _cell(a, "on_time_rate") == "66.7% 2/3"
    assert _cell(a, "reopen_rate") == "33.3% 1/3"
    assert _cell(a, "repeat_rate") == "25.0% 1/4"
    c = _row_html(body, "市城管委")
    assert _cell(c, "response_rate") == "0.0% 0/1"
    assert _cell(c, "satisfaction_rate") == "— 0/0"
    assert _cell(c, "avg_reply_days") == "— 0件"
    # ranked A, B, C in the department table, with links to the trends
    departments = body[body.index('id="department-ranking"') : body.index('id="region-ranking"')]
    assert (
        departments.index("市住建局物业监管科")
        < departments.index("市人社局")
        < departments.index("市城管委")
    )
    assert f'href="/scoreboard/department/{board.dept_b.pk}/"' in body
    assert f'href="/scoreboard/region/{board.south.pk}/"' in body
    assert "合计（全部诉求）" in body
    assert "另有 2 件诉求尚未交办承办部门" in body


def test_the_page_defines_every_rate_and_links_each_column_to_its_definition(client, board):
    body = client.get("/scoreboard/").content.decode()
    for item in scoreboard.definitions():
        assert f'<dt id="def-{item["key"]}">{item["label"]}</dt>' in body
        assert item["definition"] in body
    for key in scoreboard.RATE_KEYS:
        assert f'href="#def-{key}"' in body
    assert "<details open>" in body


def test_the_default_period_is_the_current_month(client, board):
    body = client.get("/scoreboard/").content.decode()
    assert "2026年4月" in body
    assert 'value="2026-04"' in body
    assert "统计期 2026-04-01 至 2026-04-30" in body
    assert "该统计期内没有诉求。" in body  # n3 came in April, with no department and no region
    assert 'id="overall-received">1<' in body


def test_the_page_reads_rollups_only_in_a_few_queries(client, board):
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/scoreboard/", {"period": "2026-03"}).status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    assert len(queries) <= 5
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/scoreboard/", {"from": "2026-03-01", "to": "2026-03-31"}).status_code == 200
    assert len(queries) == 0  # cached for the same days


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "2026-13"}, "统计期格式不正确"),
        ({"period": "2027"}, "统计期不能从未来的日期开始。"),
        ({"period": "1999"}, "统计期不能早于 2000-01-01。"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "起始日期不能晚于结束日期。"),
        ({"from": "2024-01-01", "to": "2025-06-01"}, "统计期最长为 366 天。"),
        ({"from": "2026-03-01"}, "请同时填写起始日期和结束日期。"),
        ({"period": "2026-03", "from": "2026-03-01", "to": "2026-03-02"}, "请只选择一种统计期"),
    ],
)
def test_a_bad_period_answers_400_with_the_form_and_a_message(client, db, query, message):
    response = client.get("/scoreboard/", query)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'role="alert"' in body and 'name="period"' in body
    assert 'id="department-ranking"' not in body
    assert 'id="def-response_rate"' in body


@pytest.mark.parametrize(
    "value",
    [
        '<script>alert("x")</script>',
        "2026-03' OR '1'='1",
        "2026\u200b-03",
        "\u202e2026-03",
        "x" * 5000,
        "2026-03\x07",
    ],
)
def test_hostile_periods_are_refused_and_echoed_escaped(client, db, value):
    response = client.get("/scoreboard/", {"period": value})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<script>alert" not in body
    echoed = re.search(r'name="period" value="([^"]*)"', body)[1]
    assert len(echoed) <= 60 and "<" not in echoed  # escaped, and cut to the parameter limit (40)


def test_gb18030_bytes_in_the_query_string_are_refused_cleanly(client, db):
    raw = "2026年".encode("gb18030")
    query = "period=" + "".join(f"%{b:02X}" for b in raw)
    response = client.get("/scoreboard/", QUERY_STRING=query)
    assert response.status_code == 400
    assert "统计期格式不正确" in response.content.decode()


def test_only_get_is_allowed(client, db):
    assert client.post("/scoreboard/").status_code == 405


def test_the_pages_have_no_inline_script_or_style(client, board):
    for path in [
        "/scoreboard/",
        f"/scoreboard/department/{board.dept_a.pk}/",
        f"/scoreboard/region/{board.north.pk}/",
    ]:
        body = client.get(path).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", body):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert "style=" not in body and "<style" not in body
        assert "/static/css/scoreboard.css" in body


def test_the_department_trend_has_a_chart_and_the_same_figures_in_a_table(client, board):
    response = client.get(f"/scoreboard/department/{board.dept_b.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r'<script src="/static/vendor/echarts/echarts.min.js" defer></script>', body)
    assert re.search(r'<script src="/static/js/scoreboard.js" defer></script>', body)
    data = json.loads(
        re.search(r'<script id="score-trend-data" type="application/json">(.*?)</script>', body, re.S)[1]
    )
    assert len(data["months"]) == 12
    assert (data["months"][0], data["months"][-2], data["months"][-1]) == ("2025-05", "2026-03", "2026-04")
    series = {item["key"]: item["values"] for item in data["series"]}
    assert set(series) == {
        "response_rate",
        "resolution_rate",
        "satisfaction_rate",
        "on_time_rate",
        "reopen_rate",
        "repeat_rate",
    }
    assert series["response_rate"][-2] == 66.7
    assert series["satisfaction_rate"][-2] == 50.0
    assert series["response_rate"][-1] is None  # nothing in April: a gap, not 0
    table = body[body.index('id="trend-table"') :]
    assert table.count("<tr>") == 13  # header + 12 months
    row = re.search(
        r"<tr>\s*<th scope=\"row\"><a href=\"/scoreboard/\?period=2026-03\">.*?</tr>", table, re.S
    )[0]
    assert _cell(row, "response_rate") == "66.7% 2/3"
    assert "2026年3月" in row
    assert 'id="def-satisfaction_rate"' in body


def test_the_region_trend_page(client, board):
    response = client.get(f"/scoreboard/region/{board.south.pk}/")
    assert response.status_code == 200
    assert "江南区" in response.content.decode()


def test_unknown_or_inactive_trends_are_not_found(client, board):
    Department.objects.filter(pk=board.dept_c.pk).update(is_active=False)
    assert client.get(f"/scoreboard/department/{board.dept_c.pk}/").status_code == 404
    assert client.get("/scoreboard/department/999999/").status_code == 404
    assert client.get("/scoreboard/region/999999/").status_code == 404
    assert client.get("/scoreboard/department/" + "9" * 30 + "/").status_code == 404
    assert client.get("/scoreboard/department/abc/").status_code == 404


def test_an_inactive_department_is_listed_without_a_link(client, board):
    Department.objects.filter(pk=board.dept_c.pk).update(is_active=False)
    body = client.get("/scoreboard/", {"period": "2026-03"}).content.decode()
    assert "已停用" in body
    assert f'href="/scoreboard/department/{board.dept_c.pk}/"' not in body


def test_the_trend_page_reads_rollups_only(client, board):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/scoreboard/department/{board.dept_a.pk}/").status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    assert len(queries) <= 3
