"""/api/v1/board: the public board as JSON: filters and cursor, one case with replies and public history,
supports (once per client, rate-limited), errors in the API's shape, and the OpenAPI document."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.test import Client

from minyi.cases import policies
from minyi.cases.tests.factories import NOW, SHANGHAI, act
from minyi.cases.workflow import CaseStatus
from minyi.disclosure.models import Publication, Support
from minyi.disclosure.tests.helpers import make_published, publish_for_test

S = CaseStatus
LIST = "/api/v1/board"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def error_of(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content.decode()
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def support(client: Client, pk: int, **headers):
    return client.post(f"{LIST}/{pk}/support", data="{}", content_type="application/json", headers=headers)


@pytest.fixture
def handled(org, case_in):
    case = case_in(
        S.REPLIED,
        title="噪音扰民",
        content="我叫钱多多，电话13600002222，楼下商铺每晚噪音扰民。",
        contact={"name": "钱多多", "phone": "13600002222", "email": "qian@example.cn"},
        category=org.category,
        region=org.region,
    )
    case = act(
        case,
        "evaluate",
        policies.citizen_actor(case=case),
        note="钱多多说：还是很吵",
        data={"rating": "dissatisfied", "resolved": False},
        now=NOW + timedelta(hours=6),
    )
    publish_for_test(case)
    return case


@pytest.mark.django_db
def test_the_list_has_items_a_cursor_and_a_capped_count(org, handled):
    older = [make_published(title=f"电梯{i}", published_at=local(2026, 3, 1, 9, i)) for i in range(21)]
    body = Client().get(LIST).json()
    assert set(body) == {"items", "next", "previous", "count"}
    assert body["count"] == {"value": 22, "capped": False}
    assert len(body["items"]) == 20 and body["previous"] is None and body["next"]
    first = body["items"][0]
    assert first["id"] == handled.pk
    assert first["status"] == {"value": "replied", "label": "已答复"}
    assert first["kind"] == {"value": "complaint", "label": "投诉"}
    assert first["category"] == {"code": "property", "name": "物业管理"}
    assert first["department"] == {"code": "zjj-wy", "name": "市住建局物业监管科"}
    assert first["url"] == f"/board/{handled.pk}/"
    assert (
        "13600002222" not in str(body)
        and "钱多多" not in str(body)
        and handled.tracking_number not in str(body)
    )

    rest = Client().get(LIST, {"cursor": body["next"]}).json()
    assert rest["next"] is None and rest["previous"]
    seen = [i["id"] for i in body["items"]] + [i["id"] for i in rest["items"]]
    assert sorted(seen) == sorted([handled.pk, *(p.pk for p in older)])
    back = Client().get(LIST, {"cursor": rest["previous"]}).json()
    assert [i["id"] for i in back["items"]] == [i["id"] for i in body["items"]]


@pytest.mark.django_db
def test_the_list_filters(org, handled):
    make_published(title="路灯不亮", kind="help", published_at=local(2026, 2, 1, 9, 0))
    client = Client()
    assert [i["id"] for i in client.get(LIST, {"q": "噪音"}).json()["items"]] == [handled.pk]
    assert [
        i["id"] for i in client.get(LIST, {"category": "property", "status": "replied"}).json()["items"]
    ] == [handled.pk]
    assert client.get(LIST, {"date_to": "2026-02-28"}).json()["count"]["value"] == 1
    assert client.get(LIST, {"region": "jc", "department": "zjj"}).json()["count"]["value"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "nope"}, "category"),
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
        ({"q": "字" * 101}, "q"),
        ({"q": "电梯\u202e"}, "q"),
        ({"q": "\x07"}, "q"),
        ({"order": "oldest"}, "order"),
        ({"cursor": "forged"}, "cursor"),
    ],
)
def test_bad_filters_answer_400_in_the_error_shape(org, params, field):
    error = error_of(Client().get(LIST, params), 400)
    assert field in error["fields"] and error["message"]


@pytest.mark.django_db
def test_gb18030_bytes_in_the_query_string_answer_400(org):
    error = error_of(Client().get(LIST, QUERY_STRING="q=%B5%E7%CC%DD"), 400)
    assert "UTF-8" in error["message"]


@pytest.mark.django_db
def test_a_bad_cursor_says_so(org):
    error = error_of(Client().get(LIST, {"cursor": "eyJhIjoxfQ:forged"}), 400, "invalid_cursor")
    assert error["fields"] == {"cursor": "无效"}


@pytest.mark.django_db
def test_one_case_with_replies_and_public_history(org, handled):
    body = Client().get(f"{LIST}/{handled.pk}").json()
    assert body["id"] == handled.pk and body["title"] == "噪音扰民"
    assert "楼下商铺每晚噪音扰民" in body["content"] and "13600002222" not in body["content"]
    assert body["replies"] == [
        {
            "text": "经核查，已督促物业公司完成维修。",
            "department": "市住建局物业监管科",
            "sent_at": body["replies"][0]["sent_at"],
        }
    ]
    history = {h["action"]: h for h in body["history"]}
    assert list(history) == ["submit", "accept", "assign", "start", "reply", "evaluate"]
    assert history["assign"]["details"] == {"department": "市住建局物业监管科"}
    assert history["evaluate"]["details"] == {
        "rating": "dissatisfied",
        "rating_label": "不满意",
        "resolved": False,
        "resolved_label": "未解决",
    }
    text = str(body)
    for secret in (
        "钱多多",
        "13600002222",
        "qian@example.cn",
        "还是很吵",
        handled.tracking_number,
        "t_handler_a",
    ):
        assert secret not in text


@pytest.mark.django_db
def test_anything_not_published_is_404(org):
    held = make_published(state=Publication.State.HELD)
    client = Client()
    for pk in (held.pk, 424242, 2**70):
        error_of(client.get(f"{LIST}/{pk}"), 404, "not_found")
        error_of(support(client, pk), 404, "not_found")
    error_of(client.get(f"{LIST}/abc"), 400)


@pytest.mark.django_db
def test_a_support_counts_once_per_client(org, handled):
    client = Client(HTTP_USER_AGENT="App/1.0")
    added = support(client, handled.pk)
    assert added.status_code == 201
    assert added.json() == {"id": handled.pk, "added": True, "support_count": 1}
    again = error_of(support(client, handled.pk), 409, "already_supported")
    assert again["fields"] == {"support_count": 1}
    assert support(Client(HTTP_USER_AGENT="App/2.0"), handled.pk).json()["support_count"] == 2
    assert Support.objects.filter(publication_id=handled.pk).count() == 2


@pytest.mark.django_db
def test_a_support_must_be_json_so_no_foreign_form_can_send_one(org, handled):
    client = Client()
    response = client.post(f"{LIST}/{handled.pk}/support", data={"x": "1"})  # a plain form post
    error_of(response, 415, "unsupported_media_type")
    response = client.post(f"{LIST}/{handled.pk}/support", data="x", content_type="text/plain")
    error_of(response, 415, "unsupported_media_type")
    assert Support.objects.count() == 0


@pytest.mark.django_db
def test_supports_are_rate_limited_in_the_error_shape(org, handled, settings):
    settings.MINYI_RATE_LIMIT_ENABLED = True
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "support": "1/h"}
    other = make_published(published_at=NOW)
    client = Client()
    assert support(client, handled.pk).status_code == 201
    response = support(client, other.pk)
    error_of(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert Publication.objects.get(pk=other.pk).support_count == 0


@pytest.mark.django_db
def test_the_board_is_in_the_openapi_document(db):
    doc = Client().get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    assert paths["/api/v1/board"]["get"]["summary"] == "List published cases (the public board)"
    assert paths["/api/v1/board/{case_id}"]["get"]["summary"]
    post = paths["/api/v1/board/{case_id}/support"]["post"]
    assert post["summary"] and {"201", "404", "409", "415", "429"} <= set(post["responses"])
    names = {p["name"] for p in paths["/api/v1/board"]["get"]["parameters"]}
    assert names == {
        "q",
        "category",
        "region",
        "department",
        "status",
        "date_from",
        "date_to",
        "order",
        "cursor",
    }
    assert "security" not in paths["/api/v1/board"]["get"]  # public
