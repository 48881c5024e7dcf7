"""POST /api/v1/appeals and GET /api/v1/appeals/{no}: submission, hostile input, tracking, rate limits.

Every refusal is checked to answer in the error shape and to store nothing.
"""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from minyi.cases.models import Case, CaseContact, CaseEvent
from minyi.intake.models import IdempotencyRecord

URL = "/api/v1/appeals"
GOOD = {"title": "路灯不亮", "content": "江北区滨江路 88 号门口的路灯已经坏了一个月。"}


def post(client: Client, body, *, raw: bytes | None = None, **headers):
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(URL, data=data, content_type="application/json", headers=headers)


def refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def client(db):
    return Client()


def test_submit_answers_201_with_a_receipt_and_stores_the_appeal(client, org):
    response = post(
        client,
        {
            **GOOD,
            "kind": "help",
            "priority": "urgent",
            "category": org.category.code,
            "region": org.region.pk,
            "address": "滨江路 88 号",
            "latitude": 29.56,
            "longitude": "106.55",
            "contact_name": "李四",
            "contact_phone": "13912345678",
            "contact_email": "lisi@example.cn",
        },
    )
    assert response.status_code == 201
    receipt = response.json()
    assert set(receipt) == {
        "tracking_number",
        "query_code",
        "status",
        "status_label",
        "submitted_at",
        "tracking_url",
    }
    assert receipt["status"] == "submitted"
    assert receipt["tracking_url"] == f"/api/v1/appeals/{receipt['tracking_number']}"
    case = Case.objects.get(tracking_number=receipt["tracking_number"])
    assert (case.channel, case.kind, case.priority) == ("api", "help", "urgent")
    assert (case.category, case.region) == (org.category, org.region)
    assert str(case.latitude) == "29.560000" and str(case.longitude) == "106.550000"
    assert CaseContact.objects.get(case=case).phone == "13912345678"
    assert receipt["query_code"] not in case.query_code_hash
    assert list(CaseEvent.objects.filter(case=case).values_list("action", flat=True)) == ["submit"]


def test_no_csrf_token_or_cookie_is_needed(db):
    client = Client(enforce_csrf_checks=True)
    response = post(client, GOOD)
    assert response.status_code == 201
    assert not response.cookies


def test_a_logged_in_session_is_not_used_by_the_api(client, org):
    client.force_login(org.supervisor)
    response = client.get("/api/v1/cases")
    assert refused(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": GOOD["content"]}, "title"),
        ({"title": GOOD["title"]}, "content"),
        ({"title": "   \t\n", "content": GOOD["content"]}, "title"),
        ({"title": "\u200b\u200d\u202e\u2066", "content": GOOD["content"]}, "title"),
        ({"title": GOOD["title"], "content": " \n \u3000 \t"}, "content"),
        ({"title": GOOD["title"], "content": "\u200b\ufeff"}, "content"),
        ({**GOOD, "content": "字" * 20_001}, "content"),
        ({**GOOD, "title": "题" * 201}, "title"),
        ({**GOOD, "kind": "bribery"}, "kind"),
        ({**GOOD, "priority": "whenever"}, "priority"),
        ({**GOOD, "category": "no-such-category"}, "category"),
        ({**GOOD, "category": 999999}, "category"),
        ({**GOOD, "region": "atlantis"}, "region"),
        ({**GOOD, "contact_email": "not-an-email"}, "contact_email"),
        ({**GOOD, "contact_phone": "<script>"}, "contact_phone"),
        ({**GOOD, "latitude": 91}, "latitude"),
        ({**GOOD, "title": 12345}, "title"),
        ({**GOOD, "is_anonymous": "perhaps"}, "is_anonymous"),
        ({**GOOD, "latitude": "north"}, "latitude"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_submissions_are_400_naming_the_field_and_store_nothing(client, org, body, field):
    error = refused(post(client, body), 400, "validation_error")
    assert field in error["fields"], error
    assert Case.objects.count() == 0


def test_content_of_exactly_the_limit_is_accepted(client, org):
    response = post(client, {**GOOD, "content": "字" * 20_000})
    assert response.status_code == 201
    assert len(Case.objects.get().content) == 20_000


@pytest.mark.parametrize("encoding", ["gb18030", "big5"])
def test_bodies_not_in_utf8_are_400_in_the_users_language(client, org, encoding):
    text = json.dumps(
        {"title": "路燈不亮", "content": "濱江路的路燈壞了一個月，晚上很危險。"}, ensure_ascii=False
    )
    raw = text.encode(encoding)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the premise: these bytes are not UTF-8

    error = refused(post(client, None, raw=raw), 400, "invalid_encoding")
    assert "UTF-8" in error["message"] and "编码" in error["message"]
    error_en = refused(post(client, None, raw=raw, **{"Accept-Language": "en"}), 400, "invalid_encoding")
    assert (
        error_en["message"]
        == "The submitted content is not valid UTF-8 text. Please check it and submit again."
    )
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "validation_error"),
        (b"{", "invalid_json"),
        (b"<xml/>", "invalid_json"),
        (b'{"title": NaN, "content": "x"}', "invalid_json"),
        (b'{"title": "x", "content": Infinity}', "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
        (b'{"title": "x", "content": "' + b"9" * 10 + b'", "latitude": ' + b"9" * 5000 + b"}", "invalid_json"),
        (b'{"title": "x", "content": "\\ud800 lone surrogate"}', "invalid_encoding"),
        (b'{"title": "x", "content": "ok", "contact_name": "\\udfff"}', "invalid_encoding"),
        (b"[]", "validation_error"),
        (b'"just a string"', "validation_error"),
        (b"null", "validation_error"),
    ],
    ids=["empty", "truncated", "xml", "nan", "infinity", "deep", "huge-number", "surrogate", "surrogate2",
         "list", "string", "null"],
)  # fmt: skip
def test_malformed_bodies_are_400(client, org, raw, code):
    refused(post(client, None, raw=raw), 400, code)
    assert Case.objects.count() == 0


def test_a_utf8_byte_order_mark_is_tolerated(client, org):
    raw = b"\xef\xbb\xbf" + json.dumps(GOOD, ensure_ascii=False).encode()
    assert post(client, None, raw=raw).status_code == 201


def test_script_markup_and_sql_are_stored_and_returned_exactly_as_written(client, org):
    title = "<script>alert('x')</script> & \"quotes\""
    content = "<img src=x onerror=alert(1)>'; DROP TABLE cases_case; -- {{ 7*7 }} ${7*7} 😀 \\u0000"
    response = post(client, {"title": title, "content": content})
    assert response.status_code == 201
    assert response["X-Content-Type-Options"] == "nosniff"
    receipt = response.json()
    case = Case.objects.get()
    assert (case.title, case.content) == (title, content)

    view = client.get(f"{URL}/{receipt['tracking_number']}", {"query_code": receipt["query_code"]})
    assert view.status_code == 200
    assert view["Content-Type"].startswith("application/json")
    assert (view.json()["title"], view.json()["content"]) == (title, content)


def test_invisible_characters_are_stripped_from_titles_but_content_is_kept(client, org):
    title = "路\u200b灯\u202e不\u2066亮\x07\x1b[31m"
    content = "第一段\u200b\n第二段\u202e"
    assert post(client, {"title": title, "content": content}).status_code == 201
    case = Case.objects.get()
    assert case.title == "路灯不亮[31m"
    assert case.content == content


def test_nul_characters_are_dropped(client, org):
    assert post(client, {"title": "路灯\u0000不亮", "content": "坏了\u0000一个月"}).status_code == 201
    case = Case.objects.get()
    assert (case.title, case.content) == ("路灯不亮", "坏了一个月")


def test_a_body_over_the_limit_is_413(client, org, settings):
    # Below Django's own DATA_UPLOAD_MAX_MEMORY_SIZE (2 MB), above the API's 1 MB.
    raw = json.dumps({"title": "大", "content": "x" * (1024 * 1024 + 10)}).encode()
    error = refused(post(client, None, raw=raw), 413, "payload_too_large")
    assert "KB" in error["message"]
    # Above Django's limit: Django refuses to read it at all, and we still answer in our shape.
    raw = json.dumps({"title": "大", "content": "x" * (3 * 1024 * 1024)}).encode()
    refused(post(client, None, raw=raw), 413, "payload_too_large")
    assert Case.objects.count() == 0


def test_anonymous_submissions_keep_no_contact(client, org):
    response = post(client, {**GOOD, "is_anonymous": True, "contact_phone": "13912345678"})
    assert response.status_code == 201
    case = Case.objects.get()
    assert case.is_anonymous and not CaseContact.objects.filter(case=case).exists()


# ---------------------------------------------------------------------------------------------- tracking


def test_tracking_shows_the_public_view(client, org):
    receipt = post(client, GOOD).json()
    response = client.get(f"{URL}/{receipt['tracking_number']}", {"query_code": receipt["query_code"]})
    assert response.status_code == 200
    view = response.json()
    assert view["tracking_number"] == receipt["tracking_number"]
    assert view["status"] == {"value": "submitted", "label": "待受理"}
    assert (view["title"], view["content"]) == (GOOD["title"], GOOD["content"])
    assert [e["action"] for e in view["history"]] == ["submit"]
    assert view["replies"] == [] and view["evaluation"] == {
        "state": "none",
        "rating": None,
        "rating_label": None,
        "due_at": None,
    }
    assert view["actions"] == ["add_info"]
    # The query code also works from a header, and in lower case or with spaces.
    code = receipt["query_code"]
    spaced = f"{code[:4].lower()} {code[4:8]} {code[8:]}"
    header = client.get(f"{URL}/{receipt['tracking_number'].lower()}", headers={"X-Query-Code": spaced})
    assert header.status_code == 200 and header.json() == view


def test_wrong_code_and_unknown_number_answer_the_same_404(client, org):
    receipt = post(client, GOOD).json()
    wrong = client.get(f"{URL}/{receipt['tracking_number']}", {"query_code": "ABCDEFGHJKLM"})
    unknown = client.get(f"{URL}/MY1999010100001", {"query_code": receipt["query_code"]})
    missing = client.get(f"{URL}/{receipt['tracking_number']}")
    hostile = client.get(f"{URL}/%3Cscript%3E'%20OR%201=1--", {"query_code": "' OR '1'='1"})
    for response in (wrong, unknown, missing, hostile):
        refused(response, 404, "not_found")
    assert wrong.content == unknown.content == missing.content == hostile.content


def test_messages_follow_accept_language(client, org):
    en = client.get(f"{URL}/MY1999010100001", {"query_code": "X"}, headers={"Accept-Language": "en"})
    zh = client.get(f"{URL}/MY1999010100001", {"query_code": "X"}, headers={"Accept-Language": "zh-hans"})
    assert en.json()["error"]["message"] == "Wrong tracking number or query code."
    assert zh.json()["error"]["message"] == "受理编号或查询码不正确。"
    assert en["Content-Language"] == "en"


# ---------------------------------------------------------------------------------------------- rate limits


@pytest.fixture
def limited(settings):
    settings.MINYI_RATE_LIMIT_ENABLED = True
    settings.MINYI_RATE_LIMITS = {"submit": "3/m", "track": "3/m", "auth": "3/m"}
    cache.clear()


def test_submissions_are_rate_limited_per_address(client, org, limited):
    for _ in range(3):
        assert post(client, GOOD).status_code == 201
    response = post(client, GOOD)
    refused(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Case.objects.count() == 3
    # Even a request that would be refused for other reasons counts, and the limit comes first.
    refused(post(client, None, raw=b"\xff\xfe"), 429, "rate_limited")
    # Another address has its own allowance.
    other = client.post(URL, data=json.dumps(GOOD), content_type="application/json", REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 201


def test_tracking_and_citizen_actions_are_rate_limited(client, org, limited):
    receipt = post(client, GOOD).json()
    number, code = receipt["tracking_number"], receipt["query_code"]
    for _ in range(2):
        assert client.get(f"{URL}/{number}", {"query_code": "WRONG"}).status_code == 404
    assert client.get(f"{URL}/{number}", {"query_code": code}).status_code == 200
    refused(client.get(f"{URL}/{number}", {"query_code": code}), 429, "rate_limited")
    action = client.post(
        f"{URL}/{number}/actions/add_info",
        data=json.dumps({"query_code": code, "data": {"text": "补充"}}),
        content_type="application/json",
    )
    refused(action, 429, "rate_limited")
    assert CaseEvent.objects.filter(action="add_info").count() == 0


def test_idempotency_records_are_not_left_by_refusals(client, org):
    refused(
        post(client, {"title": "", "content": ""}, **{"Idempotency-Key": "k-refused"}),
        400,
        "validation_error",
    )
    assert not IdempotencyRecord.objects.exists()


# ---------------------------------------------------------------------------------------------- publication opt-out


@pytest.mark.django_db
def test_publish_false_asks_that_the_appeal_not_be_published(client):
    response = post(client, {**GOOD, "publish": False})
    assert response.status_code == 201, response.content.decode()
    assert Case.objects.get(tracking_number=response.json()["tracking_number"]).publication_consent is False


@pytest.mark.django_db
def test_publish_defaults_to_true(client):
    response = post(client, GOOD)
    assert response.status_code == 201
    assert Case.objects.get(tracking_number=response.json()["tracking_number"]).publication_consent is True


@pytest.mark.django_db
def test_publish_must_be_a_boolean(client):
    refused(post(client, {**GOOD, "publish": "perhaps"}), 400, "validation_error")
    refused(post(client, {**GOOD, "publish": {"no": 1}}), 400, "validation_error")
    assert Case.objects.count() == 0


def test_publish_is_documented(client):
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["AppealIn"]
    field = schema["properties"]["publish"]
    assert field["default"] is True and "public board" in field["description"]


@pytest.mark.django_db
def test_an_appeal_sent_with_publish_false_stays_off_the_board(api, django_capture_on_commit_callbacks):
    from minyi.disclosure.models import Publication

    appeal = api.submit(publish=False)
    api.act("intake", appeal.id, "accept")
    api.act("dispatcher", appeal.id, "assign", data={"department": api.org.dept_a.pk})
    api.act("handler", appeal.id, "start")
    with django_capture_on_commit_callbacks(execute=True):
        api.act("handler", appeal.id, "reply", data={"text": "已修复。"})
    pub = Publication.objects.get(pk=appeal.id)
    assert (pub.state, pub.hold_reason) == (Publication.State.HELD, Publication.Hold.NO_CONSENT)
