"""GET /api/v1/barometer/topics and /api/v1/barometer/topics/{id}: staff token, the scope of the token's user,
404 outside it."""

from __future__ import annotations

import pytest
from django.test import Client

from minyi.accounts.models import ApiToken
from minyi.barometer import hot
from minyi.barometer.tests.test_hot import seed, topic_of
from minyi.barometer.tests.test_topic_views import assign, login
from minyi.cases.tests.factories import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org):
    made = seed()
    hot.run_topics(now=NOW)
    made["topic_a"] = topic_of(made["a"])
    made["topic_b"] = topic_of(made["b"])
    return made


def get(user, path: str, **params):
    _token, raw = ApiToken.issue(user)
    return Client().get(path, params, headers={"Authorization": f"Bearer {raw}"})


def test_the_list_ranks_topics_and_documents_heat(org, world):
    a, b = world["topic_a"], world["topic_b"]
    response = get(org.dispatcher, "/api/v1/barometer/topics")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    first, second = body["items"]
    assert (first["id"], first["rank"], second["id"], second["rank"]) == (a.pk, 1, b.pk, 2)
    assert first["label"] == a.label and first["size"] == 5 and first["trend"]["value"] == "new"
    assert first["trend"]["label"] == "新出现" and first["url"] == f"/staff/barometer/topics/{a.pk}/"
    assert first["followed"] is False and first["department"] is None
    assert body["heat_formula"]["weights"] == dict(hot.mining.HEAT_WEIGHTS)
    assert body["heat_formula"]["formula"].startswith("热度 = 10 × (")

    a.followers.add(org.dispatcher)
    body = get(org.dispatcher, "/api/v1/barometer/topics", show="followed").json()
    assert [i["id"] for i in body["items"]] == [a.pk] and body["items"][0]["followed"] is True
    assert get(org.dispatcher, "/api/v1/barometer/topics", show="gone").json()["count"] == 0
    bad = get(org.dispatcher, "/api/v1/barometer/topics", show="<script>")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert get(org.dispatcher, "/api/v1/barometer/topics", limit=0).status_code == 400


def test_one_topic(org, world):
    a = world["topic_a"]
    body = get(org.supervisor, f"/api/v1/barometer/topics/{a.pk}").json()
    assert body["id"] == a.pk and body["cases_total"] == 5 and body["cases_hidden"] == 0
    assert {c["id"] for c in body["cases"]} == {c.pk for c in world["a"]}
    assert body["cases"][0]["id"] == a.representative_case_id
    assert body["history"] == [
        {"day": "2026-03-02", "size": 5, "heat": round(a.heat, 1), "rank": 1, "trend": "new"}
    ]
    assert body["events"] == [] and body["followers"] == 0


def test_scope_of_the_tokens_user(org, world, client):
    a, b = world["topic_a"], world["topic_b"]
    assert get(org.head_a, "/api/v1/barometer/topics").json()["count"] == 0
    assert get(org.head_a, f"/api/v1/barometer/topics/{a.pk}").status_code == 404
    assert get(org.intake, "/api/v1/barometer/topics").status_code == 403
    assert client.get("/api/v1/barometer/topics").status_code == 401
    assert get(org.dispatcher, "/api/v1/barometer/topics/999999").status_code == 404

    assign(login(org.dispatcher), a, org.dept_a)  # assigned as one matter: the head sees it now
    body = get(org.head_a, "/api/v1/barometer/topics").json()
    assert [i["id"] for i in body["items"]] == [a.pk]
    assert body["items"][0]["department"] == {"id": org.dept_a.pk, "name": org.dept_a.name}
    detail = get(org.head_a, f"/api/v1/barometer/topics/{a.pk}").json()
    assert detail["cases"] == [] and detail["cases_hidden"] == 5  # the cases are not the department's (yet)
    assert [e["action"] for e in detail["events"]] == ["assign"]
    assert get(org.head_a, f"/api/v1/barometer/topics/{b.pk}").status_code == 404
    assert get(org.head_a, "/api/v1/barometer/topics", show="department").json()["count"] == 1
