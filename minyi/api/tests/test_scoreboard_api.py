"""GET /api/v1/scoreboard and the trends: shape, figures of the hand-made set, errors in the API's shape."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from minyi.accounts.models import Department
from minyi.disclosure import scoreboard
from minyi.disclosure.tests.test_scoreboard import build_hand_made

TODAY = date(2026, 4, 15)
COUNTS = set(scoreboard.COUNTERS)
RATES = set(scoreboard.RATE_KEYS)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(scoreboard, "today_local", lambda: TODAY)


@pytest.fixture
def made(org):
    made = build_hand_made(org)
    scoreboard.rollup_rebuild()
    return made


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    return body["error"]


def test_the_scoreboard_shape_and_figures(client, made):
    response = client.get("/api/v1/scoreboard", {"period": "2026-03"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "period",
        "refreshed_at",
        "overall",
        "unattributed",
        "departments",
        "regions",
        "definitions",
    }
    assert body["period"] == {
        "from": "2026-03-01",
        "to": "2026-03-31",
        "key": "2026-03",
        "kind": "month",
        "label": "2026年3月",
    }
    assert body["refreshed_at"]
    assert set(body["overall"]) == {"counts", "rates"}
    assert body["overall"]["counts"]["received"] == 10
    assert body["unattributed"] == {"department": 2, "region": 2}
    assert [row["code"] for row in body["departments"]] == ["zjj-wy", "rsj", "cgw"]
    assert [row["rank"] for row in body["departments"]] == [1, 2, 3]
    b = body["departments"][1]
    assert set(b) == {"rank", "id", "code", "name", "active", "counts", "rates"}
    assert set(b["counts"]) == COUNTS and set(b["rates"]) == RATES
    assert b["id"] == made.dept_b.pk and b["name"] == "市人社局" and b["active"] is True
    assert b["rates"]["response_rate"] == 0.6667  # 2 of 3
    assert b["rates"]["satisfaction_rate"] == 0.5
    assert b["rates"]["avg_reply_days"] == 0.17  # 4 h
    a = body["departments"][0]
    assert a["rates"]["avg_reply_days"] == 0.56  # (4 + 28 + 8) h / 3
    assert a["rates"]["reopen_rate"] == 0.3333
    c = body["departments"][2]
    assert c["rates"]["response_rate"] == 0.0
    assert c["rates"]["satisfaction_rate"] is None and c["rates"]["avg_reply_days"] is None
    assert [row["id"] for row in body["regions"]] == [made.north.pk, made.south.pk]
    assert "active" in body["regions"][0]


def test_the_definitions_come_with_every_answer(client, made):
    definitions = client.get("/api/v1/scoreboard").json()["definitions"]
    assert set(definitions) >= RATES
    assert {"cohort", "ranking", "no_denominator"} <= set(definitions)
    assert definitions["response_rate"] == {
        "label": "响应率",
        "definition": definitions["response_rate"]["definition"],
        "numerator": "responded_on_time",
        "denominator": "assigned",
    }
    assert "24 小时" in definitions["response_rate"]["definition"]


def test_the_default_period_is_the_current_month(client, made):
    body = client.get("/api/v1/scoreboard").json()
    assert body["period"]["key"] == "2026-04"
    assert body["overall"]["counts"]["received"] == 1
    assert body["departments"] == [] and body["regions"] == []
    rates = body["overall"]["rates"]
    assert rates.pop("repeat_rate") == 0.0  # 0 of 1 received
    assert set(rates.values()) == {None}  # nothing assigned, replied or rated


def test_a_custom_range(client, made):
    body = client.get("/api/v1/scoreboard", {"from": "2026-03-31", "to": "2026-04-01"}).json()
    assert body["period"]["kind"] == "range" and body["period"]["key"] == "2026-03-31..2026-04-01"
    assert body["overall"]["counts"]["received"] == 2  # n2 and n3


def test_the_api_reads_rollups_only(client, made):
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/scoreboard", {"period": "2026-Q1"}).status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    assert len(queries) <= 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": "2026-13"}, "period"),
        ({"period": "<script>"}, "period"),
        ({"period": "2027-01"}, "period"),
        ({"period": "1999"}, "period"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "2024-01-01", "to": "2025-01-01"}, "to"),
        ({"from": "2026-03-01"}, "to"),
        ({"period": "2026", "from": "2026-01-01", "to": "2026-01-02"}, "period"),
        ({"period": "9" * 100_000}, "period"),
    ],
)
def test_a_bad_period_answers_400_in_the_error_shape(client, db, query, field):
    error = _error(client.get("/api/v1/scoreboard", query), 400, "invalid_period")
    assert "统计期" in error["message"] or "日期" in error["message"]
    assert field in error["fields"]
    assert "<script>" not in error["message"]


def test_errors_follow_the_language_of_the_request(client, db):
    response = client.get("/api/v1/scoreboard", {"period": "x"}, headers={"Accept-Language": "zh-hans"})
    assert "统计期格式不正确" in _error(response, 400, "invalid_period")["message"]


def test_the_department_trend(client, made):
    response = client.get(f"/api/v1/scoreboard/departments/{made.dept_b.pk}/trend")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"subject", "months", "definitions"}
    assert body["subject"] == {"kind": "department", "id": made.dept_b.pk, "code": "rsj", "name": "市人社局"}
    assert len(body["months"]) == 12
    assert body["months"][0]["month"] == "2025-05" and body["months"][-1]["month"] == "2026-04"
    march = body["months"][-2]
    assert (march["from"], march["to"]) == ("2026-03-01", "2026-03-31")
    assert set(march) == {"month", "from", "to", "counts", "rates"}
    assert march["rates"]["response_rate"] == 0.6667
    assert body["months"][0]["rates"]["response_rate"] is None


def test_the_region_trend(client, made):
    body = client.get(f"/api/v1/scoreboard/regions/{made.south.pk}/trend").json()
    assert body["subject"]["kind"] == "region" and body["subject"]["name"] == "江南区"
    assert body["months"][-2]["counts"]["received"] == 4


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/scoreboard/departments/999999/trend",
        "/api/v1/scoreboard/regions/999999/trend",
        "/api/v1/scoreboard/departments/0/trend",
        "/api/v1/scoreboard/departments/" + "9" * 30 + "/trend",
        "/api/v1/scoreboard/departments/-1/trend",
    ],
)
def test_unknown_trends_answer_404_in_the_error_shape(client, made, path):
    _error(client.get(path), 404, "not_found")


def test_a_malformed_id_is_a_validation_error(client, db):
    error = _error(client.get("/api/v1/scoreboard/departments/abc/trend"), 400, "validation_error")
    assert "department_id" in error["fields"]


def test_an_inactive_department_has_no_trend_but_stays_ranked(client, made):
    Department.objects.filter(pk=made.dept_c.pk).update(is_active=False)
    _error(client.get(f"/api/v1/scoreboard/departments/{made.dept_c.pk}/trend"), 404, "not_found")
    departments = client.get("/api/v1/scoreboard", {"period": "2026-03"}).json()["departments"]
    assert [row["active"] for row in departments if row["id"] == made.dept_c.pk] == [False]


def test_the_openapi_document_lists_the_scoreboard(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/scoreboard" in paths
    assert "/api/v1/scoreboard/departments/{department_id}/trend" in paths
    assert "/api/v1/scoreboard/regions/{region_id}/trend" in paths
    names = {p["name"] for p in paths["/api/v1/scoreboard"]["get"]["parameters"]}
    assert names == {"period", "from", "to"}
