"""The barometer's dashboard (minyi.barometer.dashboard, views_dashboard and /api/v1/barometer/dashboard) on the
hand-made set of minyi/barometer/tests/rollup_set.py (its docstring works the figures out): the numbers, the
year-earlier series, the gap view, scope, access, CSV, workbench links, bad and hostile filters, and that nothing
reads the cases table."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse
from datetime import date

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from minyi.accounts.models import ApiToken
from minyi.barometer import dashboard as dash
from minyi.barometer import rollups
from minyi.barometer.policies import Scope
from minyi.barometer.tests import rollup_set
from minyi.barometer.tests.rollup_set import LATER
from minyi.cases.tests.factories import build_org
from minyi.routing.models import Category

MARCH = {"period": "2026-03"}
URL = "/staff/barometer/"


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The hand-made set, built once for the module (and rolled back at its end), rolled up at LATER."""
    with django_db_blocker.unblock(), transaction.atomic():
        org = build_org()
        data = rollup_set.build(org)
        rollups.rollup_rebuild(now=LATER)
        yield {"org": org, "set": data}
        transaction.set_rollback(True)


@pytest.fixture
def leader(client, db, world):
    client.force_login(world["org"].leader)
    return client


def _march(scope: Scope | None = None) -> dict:
    filters = dash.parse_filters(MARCH, today=LATER.date())
    return dash.figures(filters, scope or Scope(all=True), today=LATER.date())


def _by_label(chart: dict) -> dict:
    return {row["label"]: row for row in chart["rows"]}


def _chart(client, name: str, params: dict | None = None, fmt: str = "json"):
    return client.get(f"{URL}chart/{name}.{fmt}", MARCH if params is None else params)


# ---------------------------------------------------------------------------------------------- figures


def test_the_totals_and_rates_of_march_are_those_worked_out_by_hand(db, world):
    figs = _march()
    totals = figs["totals"]
    # p1 p2 p3 r1 r2 s1 n1 (03-02) and n2 (03-03); p4 is merged, f1 is in February, y1 in 2025.
    assert totals["received"] == 8
    assert (totals["assigned"], totals["responded_on_time"]) == (6, 3)  # p1, r1, r2 within 24 h
    assert (totals["replied"], totals["replied_on_time"]) == (3, 2)  # p1, p2 (late), r1
    assert (totals["rated"], totals["satisfied"]) == (3, 2)  # p1, p2 (no), r1 (latest: basically)
    assert (totals["resolution_answered"], totals["resolved"]) == (3, 2)
    assert (totals["overdue"], totals["high_risk"], totals["supports"]) == (2, 2, 2)
    assert figs["rates"] == {
        "response_rate": pytest.approx(3 / 6),
        "resolution_rate": pytest.approx(2 / 3),
        "satisfaction_rate": pytest.approx(2 / 3),
        "on_time_rate": pytest.approx(2 / 3),
    }
    # The previous period (2026-01-29 to 02-28) holds f1 only: satisfied, on time.
    assert figs["before"] == {"received": 1, "rated": 1, "satisfied": 1, "replied": 1, "replied_on_time": 1}
    assert figs["earlier_received"] == 1  # y1, 2025-03-02


def test_the_breakdowns_of_march(db, world):
    charts = dash.charts(_march(), dash.parse_filters(MARCH, today=LATER.date()))
    categories = _by_label(charts["categories"])
    assert {k: v["received"] for k, v in categories.items()} == {"住房保障": 3, "道路交通": 3, "未分类": 2}
    assert categories["住房保障"]["livelihood"] and not categories["道路交通"]["livelihood"]
    assert categories["未分类"]["url"] is None
    regions = _by_label(charts["regions"])
    # s1's street lies in 江北区: it counts there.
    assert {k: v["received"] for k, v in regions.items()} == {"江北区": 4, "江南区": 2, "未标明区域": 2}
    assert regions["江北区"]["overdue"] == 2
    assert {row["code"]: row["received"] for row in charts["channels"]["rows"]} == {"web": 7, "phone": 1}
    assert {row["code"]: row["received"] for row in charts["kinds"]["rows"]} == {
        "complaint": 6,
        "help": 1,
        "suggestion": 1,
    }
    departments = charts["departments"]["rows"]
    assert [(row["code"], row["overdue"], row["received"]) for row in departments] == [("zjj-wy", 2, 3)]
    assert departments[0]["share"] == pytest.approx(2 / 3)


def test_the_volume_series_has_the_same_days_a_year_earlier(db, world):
    figs = _march()
    assert figs["granularity"] == "day"
    series = {item["start"]: item for item in figs["series"]}
    assert len(series) == 31
    assert (series[date(2026, 3, 2)]["received"], series[date(2026, 3, 2)]["earlier"]) == (7, 1)
    assert series[date(2026, 3, 2)]["earlier_start"] == date(2025, 3, 2)
    assert (series[date(2026, 3, 3)]["received"], series[date(2026, 3, 3)]["earlier"]) == (1, 0)
    assert sum(item["received"] for item in figs["series"]) == 8


def test_a_year_is_drawn_per_month_and_a_quarter_per_week(db, world):
    year = dash.figures(dash.parse_filters({"period": "2025"}, today=LATER.date()), Scope(all=True))
    assert year["granularity"] == "month" and len(year["series"]) == 12
    assert year["series"][2]["received"] == 1  # y1 in March 2025
    quarter = dash.figures(dash.parse_filters({"period": "2026-Q1"}, today=LATER.date()), Scope(all=True))
    assert quarter["granularity"] == "week"
    assert sum(item["received"] for item in quarter["series"]) == 9  # March's 8 and f1


def test_the_rates_trend_covers_twelve_months_ending_with_the_period(db, world):
    trend = _march()["trend"]
    assert [month["month"] for month in trend][0::11] == ["2025-04", "2026-03"]
    assert trend[-1]["rates"]["satisfaction_rate"] == pytest.approx(2 / 3)
    assert trend[-2]["rates"]["satisfaction_rate"] == 1.0  # February: f1
    assert trend[0]["rates"]["satisfaction_rate"] is None  # nothing rated in April 2025


def test_the_gap_view_flags_housing_whose_volume_rose_while_satisfaction_and_on_time_fell(db, world):
    charts = dash.charts(_march(), dash.parse_filters(MARCH, today=LATER.date()))
    gaps = _by_label(charts["gaps"])
    housing = gaps["住房保障"]
    # 3 against 1 (f1); satisfaction 1/2 against 1/1, on time 1/2 against 1/1
    assert (housing["received"], housing["previous"], housing["volume_change"]) == (3, 1, 2.0)
    assert (housing["satisfaction_change"], housing["on_time_change"]) == (-50.0, -50.0)
    assert housing["gap"] and housing["livelihood"]
    assert not gaps["道路交通"]["gap"]  # nothing before to compare with
    assert charts["gaps"]["rows"][0]["label"] == "住房保障"  # gaps first


def test_a_category_filter_shows_its_children_and_a_region_filter_its_own(db, world):
    s = world["set"]
    filters = dash.parse_filters({**MARCH, "category": str(s.housing.pk)}, today=LATER.date())
    figs = dash.figures(filters, Scope(all=True))
    assert figs["totals"]["received"] == 3
    assert [(row["name"], row["counts"]["received"]) for row in figs["categories"]] == [("物业管理", 3)]
    filters = dash.parse_filters({**MARCH, "region": "jc-jb"}, today=LATER.date())  # a code works too
    figs = dash.figures(filters, Scope(all=True))
    assert figs["totals"]["received"] == 4  # p1 p2 p3 and s1 (its street)
    labels = {dash._node_label(row, "region"): row["counts"]["received"] for row in figs["regions"]}
    assert labels == {"江北区（本级）": 3, "滨江街道": 1}
    figs = dash.figures(
        dash.parse_filters({**MARCH, "channel": "phone"}, today=LATER.date()), Scope(all=True)
    )
    assert figs["totals"]["received"] == 1


def test_the_figures_read_only_rollups_with_a_few_queries_and_are_cached(db, world):
    filters = dash.parse_filters(MARCH, today=LATER.date())
    with CaptureQueriesContext(connection) as queries:
        dash.figures(filters, Scope(all=True), today=LATER.date())
    assert len(queries) <= 9  # three trees (cached apart) and six over the rollups
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        dash.figures(filters, Scope(all=True), today=LATER.date())
    assert len(queries) == 0
    rollups.new_generation()  # a refresh changed something: computed again
    with CaptureQueriesContext(connection) as queries:
        dash.figures(filters, Scope(all=True), today=LATER.date())
    assert 0 < len(queries) <= 6


def test_an_empty_period_gives_an_empty_state_not_an_error(leader):
    response = leader.get(URL, {"period": "2024-01"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="baro-empty"' in body and "暂无数据" in body
    assert _chart(leader, "categories", {"period": "2024-01"}).json()["empty"] is True


# ---------------------------------------------------------------------------------------------- pages


def test_the_page_shows_the_figures_and_every_chart_with_its_table(leader):
    with CaptureQueriesContext(connection) as queries:
        response = leader.get(URL, MARCH)
    assert response.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    body = response.content.decode()
    for name in dash.CHARTS:
        assert f'id="table-{name}"' in body, name
        assert f'data-chart="{name}"' in body, name
    assert 'id="barometer-data"' in body and "<script>" not in body and 'style="' not in body
    assert re.search(
        r'id="card-received">\s*<div class="stat-label">诉求量</div>\s*<div class="stat-value">8<', body
    )
    assert "住房保障" in body and "★" in body
    data = json.loads(
        re.search(r'<script id="barometer-data" type="application/json">(.*?)</script>', body, re.S)[1]
    )
    assert data["categories"]["series"][0]["values"] == [3, 3, 2]
    assert data["gaps"]["gap"][0] is True


def test_the_default_period_is_the_thirty_days_ending_today(client, db, world):
    with time_machine.travel(LATER, tick=False):
        client.force_login(world["org"].leader)
        response = client.get(URL)
        assert response.status_code == 200
        chart = _chart(client, "volume", {}).json()
    assert chart["period"] == {"from": "2026-02-02", "to": "2026-03-03", "key": "2026-02-02..2026-03-03"}
    assert sum(row["received"] for row in chart["rows"]) == 9  # f1 (02-10) and March's 8
    assert 'value="2026-02-02"' in response.content.decode()


def test_each_chart_answers_json_and_csv_under_the_same_filters(leader):
    chart = _chart(leader, "regions").json()
    assert chart["name"] == "regions" and chart["period"]["key"] == "2026-03"
    assert [row["label"] for row in chart["rows"]] == ["江北区", "江南区", "未标明区域"]
    response = _chart(leader, "regions", fmt="csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["区域", "编码", "诉求量", "占比（%）", "超期", "满意率（%）"]
    assert rows[1] == ["江北区", "jc-jb", "4", "50.0", "2", "50.0"]  # p1 satisfied, p2 not
    assert rows[3] == ["未标明区域", "", "2", "25.0", "0", ""]
    assert _chart(leader, "nonsense").status_code == 404
    assert leader.get(f"{URL}chart/volume.xml", MARCH).status_code == 404


def test_a_category_name_that_looks_like_a_formula_is_neutralised_in_the_csv(leader, world):
    Category.objects.filter(pk=world["set"].roads.pk).update(name='=HYPERLINK("http://evil.example","x")')
    response = _chart(leader, "categories", fmt="csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    names = [row[0] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil.example","x")' in names
    assert not any(name.startswith("=") for name in names)


def _listed(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    return set(re.findall(r">(TEST\d{10})</a>", response.content.decode()))


def _numbers(world, *names: str) -> set[str]:
    return {world["set"].cases[name].tracking_number for name in names}


def test_the_links_of_a_chart_list_exactly_the_cases_behind_it(leader, world):
    charts = {
        name: _chart(leader, name).json() for name in ("categories", "regions", "channels", "kinds", "volume")
    }
    roads = _by_label(charts["categories"])["道路交通"]["url"]
    assert _listed(leader, roads) == _numbers(world, "r1", "r2", "s1")
    south = _by_label(charts["regions"])["江南区"]["url"]
    assert _listed(leader, south) == _numbers(world, "r1", "r2")
    phone = _by_label(charts["channels"])["来电"]["url"]
    assert _listed(leader, phone) == _numbers(world, "s1")
    help_ = _by_label(charts["kinds"])["求助"]["url"]
    assert _listed(leader, help_) == _numbers(world, "p3")
    march_3 = _by_label(charts["volume"])["03-03"]["url"]
    assert _listed(leader, march_3) == _numbers(world, "n2")
    # under a region filter, a category slice keeps the region's sub-tree (tree=1)
    filtered = _chart(leader, "categories", {**MARCH, "region": str(world["set"].north.pk)}).json()
    url = _by_label(filtered)["道路交通"]["url"]
    assert "tree=1" in url
    assert _listed(leader, url) == _numbers(world, "s1")


# ---------------------------------------------------------------------------------------------- scope and access


def test_a_department_head_sees_only_their_own_department(client, db, world):
    org = world["org"]
    client.force_login(org.head_a)
    response = client.get(URL, MARCH)
    assert response.status_code == 200
    body = response.content.decode()
    assert org.dept_b.name not in body and "市城管委" not in body
    assert "江南区" not in body.split('id="barometer-data"')[1]
    figs = _march(Scope(all=False, department_ids=frozenset({org.dept_a.pk})))
    assert figs["totals"]["received"] == 3  # p1, p2, p3
    regions = _chart(client, "regions").json()
    assert [row["label"] for row in regions["rows"]] == ["江北区"]
    assert [row["code"] for row in _chart(client, "departments").json()["rows"]] == ["zjj-wy"]
    # the parent bureau's handler sees the section below it
    client.force_login(org.handler_parent)
    assert sum(row["received"] for row in _chart(client, "kinds").json()["rows"]) == 3


def test_who_may_open_the_dashboard(client, db, world):
    org = world["org"]
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(f"{URL}chart/volume.json").status_code == 302
    client.force_login(org.intake)  # staff, but no barometer
    response = client.get(URL)
    assert response.status_code == 403
    assert "晴雨表" in response.content.decode()
    assert client.get(f"{URL}chart/volume.csv").status_code == 403
    client.force_login(org.citizen)
    assert client.get(URL).status_code == 404
    for user in (org.dispatcher, org.supervisor, org.admin, org.handler_b):
        client.force_login(user)
        assert client.get(URL, MARCH).status_code == 200, user


# ---------------------------------------------------------------------------------------------- bad input

BAD = [
    ({"period": "2026-13"}, "统计期"),
    ({"period": "2099-01"}, "未来"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "起始日期"),
    ({"from": "2024-01-01", "to": "2025-12-31"}, "366"),
    ({"from": "2026-03-01"}, "结束日期"),
    ({"period": "2026-03", "from": "2026-03-01", "to": "2026-03-02"}, "只选择一种"),
    ({"category": "999999"}, "分类"),
    ({"category": "-1"}, "分类"),
    ({"category": "99999999999999999999999"}, "分类"),
    ({"region": "nowhere"}, "区域"),
    ({"channel": "fax"}, "渠道"),
    ({"category": "<script>alert(1)</script>"}, "分类"),
    ({"region": "1 OR 1=1; DROP TABLE cases_case"}, "区域"),
    ({"period": "2026-03\u200b"}, "统计期"),
    ({"period": "\u202e2026-03"}, "统计期"),
    ({"category": "1\x00"}, "分类"),
    ({"channel": "x" * 5000}, "过长"),
]


@pytest.mark.parametrize(("params", "words"), BAD)
def test_bad_filters_answer_400_with_a_message_never_500(leader, params, words):
    response = leader.get(URL, params)
    assert response.status_code == 400
    body = response.content.decode()
    assert words in body
    assert "<script>alert" not in body
    assert 'id="baro-error"' in body
    answer = _chart(leader, "volume", params)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_filter"
    assert words in answer.json()["error"]["message"]
    csv_answer = _chart(leader, "volume", params, fmt="csv")
    assert csv_answer.status_code == 400 and words in csv_answer.content.decode()


def test_gb18030_bytes_in_the_query_string_are_refused_politely(leader):
    raw = urllib.parse.quote_from_bytes("住房".encode("gb18030"))
    response = leader.get(f"{URL}?category={raw}&period=2026-03")
    assert response.status_code == 400
    response = leader.get(f"{URL}?period={raw}")
    assert response.status_code == 400


# ---------------------------------------------------------------------------------------------- API


def _bearer(user) -> dict:
    _token, raw = ApiToken.issue(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_the_api_answers_every_chart_for_the_tokens_scope(client, db, world):
    org = world["org"]
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/barometer/dashboard", MARCH, **_bearer(org.leader))
    assert response.status_code == 200, response.content
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    body = response.json()
    assert body["totals"]["received"] == 8
    assert set(body["charts"]) == set(dash.CHARTS)
    assert body["scope"] == {"all": True, "department_ids": []}
    assert body["period"]["key"] == "2026-03"
    cards = {card["key"]: card for card in body["cards"]}
    assert cards["satisfaction_rate"]["rate"] == pytest.approx(2 / 3)
    head = client.get("/api/v1/barometer/dashboard", MARCH, **_bearer(org.head_a)).json()
    assert head["totals"]["received"] == 3
    assert org.dept_b.name not in json.dumps(head, ensure_ascii=False)


def test_the_api_refuses_bad_filters_accounts_without_the_barometer_and_missing_tokens(client, db, world):
    org = world["org"]
    response = client.get("/api/v1/barometer/dashboard", {"category": "nope"}, **_bearer(org.leader))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_filter"
    assert client.get("/api/v1/barometer/dashboard", **_bearer(org.intake)).status_code == 403
    assert client.get("/api/v1/barometer/dashboard").status_code == 401
