"""The early warnings' staff pages and API: scope (404 out of it, 403 without a barometer), the list's filters,
counts and order, the detail (reasons in Chinese, chart data, only the appeals one may see, events), the actions
(403 with a message when not allowed, 400 without a note, 409 in the wrong state), hostile notes, and the CSV."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse

from minyi.accounts.models import ApiToken
from minyi.barometer import warnings
from minyi.barometer.models import Alert, AlertEvent
from minyi.barometer.tests.test_warnings import BURST_DAYS, NOW, TODAY, add_cases, burst, every, run
from minyi.intake.models import Triage
from minyi.routing.models import Place

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.MINYI_RATE_LIMIT_ENABLED = False


@pytest.fixture
def world(org):
    """A place alert (orange, department A, with one appeal of department B among its cases) and a risk alert
    (orange, department B)."""
    place = Place.objects.create(name="幸福里小区", kind=Place.Kind.ESTATE, region=org.region)
    add_cases(every(4), place=place, department=org.dept_a)
    a_cases = add_cases(burst(4), place=place, department=org.dept_a, title='=HYPERLINK("http://x")噪音')
    b_case = add_cases({TODAY: 1}, place=place, department=org.dept_b, title="乙部门的件")[0]
    risk_case = add_cases(
        {TODAY - timedelta(days=1): 1}, department=org.dept_b, risk=(70, Triage.RiskLevel.HIGH, ["self_harm"])
    )[0]
    run()
    place_alert = Alert.objects.get(source="place")
    risk_alert = Alert.objects.get(source="risk")
    return {
        "org": org,
        "place": place_alert,
        "risk": risk_alert,
        "a_cases": a_cases,
        "b_case": b_case,
        "risk_case": risk_case,
    }


def url(name, alert=None, **kw):
    if alert is not None:
        kw["alert_id"] = alert.pk
    return reverse(f"barometer:{name}", kwargs=kw)


# ---------------------------------------------------------------------------------------------- access


def test_anonymous_goes_to_login_and_a_citizen_gets_404(client, world):
    response = client.get(url("alerts"))
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(world["org"].citizen)
    assert client.get(url("alerts")).status_code == 404
    assert client.get(url("alert", world["place"])).status_code == 404


def test_staff_without_a_barometer_get_403_with_a_message(client, world):
    client.force_login(world["org"].intake)
    response = client.get(url("alerts"))
    assert response.status_code == 403
    assert "晴雨表" in response.content.decode()


def test_the_list_shows_counts_red_first_and_filters(client, world):
    org = world["org"]
    Alert.objects.filter(pk=world["risk"].pk).update(level="red")
    client.force_login(org.supervisor)
    response = client.get(url("alerts"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "幸福里小区" in page and world["risk"].label in page
    levels = {row["value"]: row["count"] for row in response.context["levels"]}
    assert levels == {"red": 1, "orange": 1, "yellow": 0}
    assert [row["alert"].pk for row in response.context["rows"]] == [world["risk"].pk, world["place"].pk]
    response = client.get(url("alerts"), {"level": "orange"})
    assert [row["alert"].pk for row in response.context["rows"]] == [world["place"].pk]
    response = client.get(url("alerts"), {"source": "risk"})
    assert [row["alert"].pk for row in response.context["rows"]] == [world["risk"].pk]
    response = client.get(url("alerts"), {"state": "closed"})
    assert response.context["rows"] == []


@pytest.mark.parametrize(
    "params", [{"level": "<script>"}, {"state": "x' OR 1=1 --"}, {"source": "\u202e\u200b"}, {"page": "-1"}]
)
def test_bad_filters_are_a_4xx_with_a_message_never_a_500(client, world, params):
    client.force_login(world["org"].supervisor)
    response = client.get(url("alerts"), params)
    assert response.status_code in (200, 400)
    assert "<script>" not in response.content.decode()
    if "page" not in params:
        assert response.status_code == 400
        assert "筛选条件有误" in response.content.decode()


def test_department_staff_see_only_their_alerts(client, world):
    org = world["org"]
    client.force_login(org.handler_a)
    response = client.get(url("alerts"))
    assert [row["alert"].pk for row in response.context["rows"]] == [world["place"].pk]
    assert client.get(url("alert", world["risk"])).status_code == 404
    assert client.get(url("alert_cases", world["risk"])).status_code == 404
    assert client.post(url("alert_action", world["risk"], action="acknowledge")).status_code == 404


def test_the_detail_shows_level_reasons_chart_cases_in_scope_and_events(client, world):
    org = world["org"]
    alert = world["place"]
    client.force_login(org.handler_a)
    response = client.get(url("alert", alert))
    assert response.status_code == 200
    page = response.content.decode()
    assert "warning-orange" in page and "橙色预警" in page
    assert "基线" in page and "13 件" in page
    # the chart's data (json_script) and its table fallback
    assert 'id="warning-chart-data"' in page and "js/barometer-alerts.js" in page
    chart = response.context["chart"]
    assert chart["start"] == BURST_DAYS[0].isoformat() and chart["end"] == TODAY.isoformat()
    first = chart["days"].index(BURST_DAYS[0].isoformat())
    assert sum(chart["counts"][first : first + 3]) == 13
    assert chart["surge"][first : first + 3] == [True] * 3 and not chart["surge"][first - 1]
    assert 0 < chart["baseline"][first] < chart["threshold"][first]
    # the cases: department A's, not department B's (hidden, counted)
    shown = {row["case"].pk for row in response.context["cases"]}
    assert shown == {c.pk for c in world["a_cases"]}
    assert response.context["cases_hidden"] == 1 and "乙部门的件" not in page
    # the events and the actions the handler may take
    assert "发出预警" in page and "已通知" in page
    assert [a["action"] for a in response.context["actions"]] == ["acknowledge", "close"]
    assert "<script>" not in page.replace('<script src="', "").replace('<script type="application/json"', "")


def test_a_leader_sees_the_alert_but_may_not_act_on_it(client, world):
    org = world["org"]
    alert = world["place"]
    client.force_login(org.leader)
    response = client.get(url("alert", alert))
    assert response.status_code == 200 and response.context["actions"] == []
    response = client.post(url("alert_action", alert, action="acknowledge"), {"note": "好"})
    assert response.status_code == 403
    assert "督办员" in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == "open"


def test_actions_acknowledge_close_reopen_through_the_pages(client, world):
    org = world["org"]
    alert = world["place"]
    client.force_login(org.head_a)
    response = client.post(url("alert_action", alert, action="acknowledge"), {"note": ""})
    assert response.status_code == 302 and response["Location"] == url("alert", alert)
    alert.refresh_from_db()
    assert alert.state == "acknowledged"
    # acknowledging twice: 409 with the reason
    response = client.post(url("alert_action", alert, action="acknowledge"), {"note": ""})
    assert response.status_code == 409 and "已签收" in response.content.decode()
    # closing without a note: 400, nothing changes
    response = client.post(url("alert_action", alert, action="close"), {"note": "  "})
    assert response.status_code == 400 and "请填写处置说明" in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == "acknowledged"
    # a hostile note is kept as text and shown escaped
    note = '<script>alert("x")</script>\u202e已处置'
    response = client.post(url("alert_action", alert, action="close"), {"note": note})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == "closed" and alert.close_note == note
    page = client.get(url("alert", alert)).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert '<script>alert("x")' not in page
    # only a supervisor reopens
    response = client.post(url("alert_action", alert, action="reopen"), {"note": "仍未解决"})
    assert response.status_code == 403
    client.force_login(org.supervisor)
    response = client.post(url("alert_action", alert, action="reopen"), {"note": "仍未解决"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == "open"
    actions = list(AlertEvent.objects.filter(alert=alert).values_list("action", flat=True))
    assert actions[-3:] == ["acknowledged", "closed", "reopened"]


@pytest.mark.parametrize("body", [{"note": "a\x00b"}, {"note": "长" * (warnings.MAX_NOTE_CHARS + 1)}])
def test_bad_notes_on_the_page_are_400(client, world, body):
    client.force_login(world["org"].supervisor)
    response = client.post(url("alert_action", world["place"], action="close"), body)
    assert response.status_code == 400
    world["place"].refresh_from_db()
    assert world["place"].state == "open"


def test_gb18030_bytes_in_a_note_are_not_a_500(client, world):
    client.force_login(world["org"].supervisor)
    body = b"note=" + "已处置".encode("gb18030")
    response = client.post(
        url("alert_action", world["place"], action="close"),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (302, 400)


def test_unknown_actions_are_404_and_get_is_405(client, world):
    client.force_login(world["org"].supervisor)
    assert client.post(url("alert_action", world["place"], action="delete"), {"note": "x"}).status_code == 404
    assert client.get(url("alert_action", world["place"], action="close")).status_code == 405
    assert (
        client.get(url("alert", world["place"]).replace(str(world["place"].pk), "999999")).status_code == 404
    )


def test_the_csv_has_the_cases_one_may_see_guarded_against_formulas(client, world):
    org = world["org"]
    client.force_login(org.supervisor)
    response = client.get(url("alert_cases", world["place"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("受理编号,提交时间,标题")
    assert len(lines) == 1 + 13
    assert "乙部门的件" in text
    assert ",=HYPERLINK" not in text  # a formula is never a formula in a spreadsheet
    client.force_login(org.handler_a)
    text = b"".join(client.get(url("alert_cases", world["place"])).streaming_content).decode("utf-8-sig")
    assert len(text.strip().splitlines()) == 1 + 12 and "乙部门的件" not in text


# ---------------------------------------------------------------------------------------------- API


class Api:
    def __init__(self, client) -> None:
        self.client = client
        self.tokens: dict[int, str] = {}

    def headers(self, user):
        if user.pk not in self.tokens:
            self.tokens[user.pk] = ApiToken.issue(user)[1]
        return {"Authorization": f"Bearer {self.tokens[user.pk]}"}

    def get(self, user, path, **params):
        return self.client.get(path, params, headers=self.headers(user))

    def post(self, user, path, body):
        return self.client.post(
            path, data=json.dumps(body), content_type="application/json", headers=self.headers(user)
        )


@pytest.fixture
def api(client):
    return Api(client)


API = "/api/v1/barometer/alerts"
NOW_PLUS_HOUR = NOW + timedelta(hours=1)


def test_api_list_and_detail(api, world):
    org = world["org"]
    response = api.get(org.supervisor, API)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["counts"] == {"red": 0, "orange": 2, "yellow": 0}
    assert {item["source"]["value"] for item in body["items"]} == {"place", "risk"}
    response = api.get(org.supervisor, API, level="orange", source="place")
    assert [item["id"] for item in response.json()["items"]] == [world["place"].pk]
    detail = api.get(org.handler_a, f"{API}/{world['place'].pk}").json()
    assert detail["level"]["value"] == "orange" and detail["level"]["label"] == "橙色"
    assert detail["reasons"][0]["code"] == "surge" and "基线" in detail["reasons"][0]["text"]
    assert len(detail["cases"]) == 12 and detail["cases_hidden"] == 1
    assert [e["action"] for e in detail["events"]][:2] == ["raised", "notified"]
    assert detail["allowed_actions"] == ["acknowledge", "close"]


def test_api_scope_and_errors(api, client, world):
    org = world["org"]
    assert client.get(API).status_code == 401
    response = api.get(org.handler_a, f"{API}/{world['risk'].pk}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = api.get(org.intake, API)
    assert response.status_code == 403 and response.json()["error"]["message"]
    response = api.get(org.supervisor, API, level="purple")
    assert response.status_code == 400 and response.json()["error"]["fields"]


def test_api_acknowledge_and_close(api, world):
    org = world["org"]
    alert = world["place"]
    response = api.post(org.leader, f"{API}/{alert.pk}/acknowledge", {"note": ""})
    assert response.status_code == 403
    response = api.post(org.handler_a, f"{API}/{alert.pk}/acknowledge", {"note": "收到"})
    assert response.status_code == 200 and response.json()["state"]["value"] == "acknowledged"
    response = api.post(org.handler_a, f"{API}/{alert.pk}/close", {"note": ""})
    assert response.status_code == 400 and response.json()["error"]["fields"]["note"]
    response = api.post(org.handler_a, f"{API}/{alert.pk}/close", {"note": "<b>已处置</b>"})
    assert response.status_code == 200 and response.json()["state"]["value"] == "closed"
    assert response.json()["close_note"] == "<b>已处置</b>"
    response = api.post(org.handler_a, f"{API}/{alert.pk}/close", {"note": "again"})
    assert response.status_code == 409
    response = api.post(org.supervisor, f"{API}/{alert.pk}/reopen", {"note": "重开"})
    assert response.status_code == 200 and response.json()["state"]["value"] == "open"
    response = api.post(org.handler_a, f"{API}/{world['risk'].pk}/close", {"note": "x"})
    assert response.status_code == 404


def test_the_list_and_the_api_list_take_the_same_queries_for_more_alerts(client, api, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org = world["org"]
    client.force_login(org.handler_b)

    def count(fetch) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert fetch().status_code == 200
        return len(queries)

    api.headers(org.handler_b)  # the token is issued before counting
    page_before = count(lambda: client.get(url("alerts")))
    api_before = count(lambda: api.get(org.handler_b, API))
    add_cases({TODAY: 4}, department=org.dept_b, risk=(75, Triage.RiskLevel.HIGH, ["threat"]))
    run(now=NOW_PLUS_HOUR)
    assert Alert.objects.filter(source="risk").count() == 5
    assert count(lambda: client.get(url("alerts"))) == page_before
    assert count(lambda: api.get(org.handler_b, API)) == api_before
