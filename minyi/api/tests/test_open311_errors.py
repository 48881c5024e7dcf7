"""Open311 errors: the spec's body ([{"code", "description"}] / <errors><error>…) with its HTTP status (400, 403,
404; 405, 413, 429 where HTTP has a better word), in the format asked for; and hostile input and text."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from minyi.api.tests.test_open311_methods import (  # noqa: F401 - fixtures
    BASE,
    ERROR_FIELDS,
    app_client,
    app_key,
    check_pair,
    open311_case,
    post_form,
    publish,
    recent,
    services,
)
from minyi.cases.models import Case
from minyi.intake.models import Open311Request

pytestmark = pytest.mark.django_db


@pytest.fixture
def http():
    return Client()


def assert_error(response, status: int, fmt: str = "json", *, contains: str = "") -> str:
    """The response is the spec's error body for `status`, in `fmt`; returns the description."""
    assert response.status_code == status, response.content.decode()
    if fmt == "xml":
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        assert response.content.decode().startswith('<?xml version="1.0" encoding="utf-8"?>')
        root = ET.fromstring(response.content)
        assert root.tag == "errors"
        (error,) = list(root)
        assert error.tag == "error" and [c.tag for c in error] == ERROR_FIELDS
        assert error.find("code").text == str(status)
        description = error.find("description").text
    else:
        assert response["Content-Type"] == "application/json; charset=utf-8"
        (error,) = json.loads(response.content)
        assert list(error) == ERROR_FIELDS and error["code"] == status
        description = error["description"]
    assert description and contains in description
    return description


def both(call) -> None:
    """Run `call(fmt)` for both formats."""
    for fmt in ("xml", "json"):
        call(fmt)


@pytest.fixture
def good(services, app_key):  # noqa: F811 - fixtures imported above
    return {
        "api_key": app_key,
        "service_code": "elevator",
        "lat": "30.58",
        "long": "114.27",
        "description": "电梯坏了",
    }


# ---------------------------------------------------------------------------------------------- POST


def test_missing_and_wrong_api_key_are_403(http, good):
    without = {k: v for k, v in good.items() if k != "api_key"}
    both(lambda f: assert_error(post_form(http, f"{BASE}/requests.{f}", without), 403, f, contains="api_key"))
    wrong = {**good, "api_key": good["api_key"][:-1] + ("x" if good["api_key"][-1] != "x" else "y")}
    both(lambda f: assert_error(post_form(http, f"{BASE}/requests.{f}", wrong), 403, f, contains="api_key"))
    both(
        lambda f: assert_error(
            post_form(http, f"{BASE}/requests.{f}", {**good, "api_key": "k" * 5000}), 403, f
        )
    )
    assert not Case.objects.exists()


def test_a_disabled_client_is_refused(http, good):
    from minyi.intake.models import Open311Client

    Open311Client.objects.update(is_active=False)
    assert_error(post_form(http, f"{BASE}/requests.json", good), 403)


def test_the_key_may_come_in_the_query_string(http, good):
    key = good.pop("api_key")
    response = post_form(http, f"{BASE}/requests.json?api_key={key}", good)
    assert response.status_code == 200, response.content.decode()


def test_unknown_or_missing_service_code(http, good):
    both(
        lambda f: assert_error(
            post_form(http, f"{BASE}/requests.{f}", {**good, "service_code": "no-such"}),
            404,
            f,
            contains="no-such",
        )
    )
    both(
        lambda f: assert_error(post_form(http, f"{BASE}/requests.{f}", {**good, "service_code": ""}), 400, f)
    )
    # an inactive category is not a service
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "service_code": "retired"}), 404)
    both(lambda f: assert_error(http.get(f"{BASE}/services/no-such.{f}"), 404, f, contains="no-such"))


def test_a_location_is_required(http, good):
    bare = {k: v for k, v in good.items() if k not in ("lat", "long")}
    both(
        lambda f: assert_error(
            post_form(http, f"{BASE}/requests.{f}", bare), 400, f, contains="address_string"
        )
    )
    # blank values count as absent (the spec's "Optional Arguments")
    blank = {**bare, "lat": "", "long": " ", "address_string": "", "address_id": ""}
    assert_error(post_form(http, f"{BASE}/requests.json", blank), 400)


@pytest.mark.parametrize(
    ("lat", "long"),
    [
        ("abc", "114.2"),
        ("30.5", "东经114"),
        ("91", "114.2"),
        ("30.5", "-180.5"),
        ("NaN", "114"),
        ("30", "Infinity"),
        ("1e400", "114"),
        ("30.5", ""),  # lat without long
        ("", "114.2"),
        ("30.5; DROP TABLE cases_case", "114"),
    ],
)
def test_bad_coordinates_are_400(http, good, lat, long):
    response = post_form(http, f"{BASE}/requests.json", {**good, "lat": lat, "long": long})
    assert_error(response, 400)
    assert not Case.objects.exists()


def test_address_string_or_address_id_locate_too(http, good, org):
    bare = {k: v for k, v in good.items() if k not in ("lat", "long")}
    assert post_form(http, f"{BASE}/requests.json", {**bare, "address_string": "和平小区"}).status_code == 200
    response = post_form(http, f"{BASE}/requests.json", {**bare, "address_id": org.region.code})
    assert response.status_code == 200
    case = Case.objects.get(tracking_number=response.json()[0]["service_request_id"])
    assert case.region == org.region
    assert_error(
        post_form(http, f"{BASE}/requests.json", {**bare, "address_id": "nowhere"}),
        400,
        contains="address_id",
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.cn/a.jpg",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "not a url",
        "https://example.cn/" + "a" * 1000,
    ],
)
def test_media_url_must_be_http_or_https(http, good, url):
    assert_error(
        post_form(http, f"{BASE}/requests.json", {**good, "media_url": url}), 400, contains="media_url"
    )


def test_media_url_is_stored_and_never_fetched(http, good, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the media URL must not be fetched")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    response = post_form(
        http, f"{BASE}/requests.json", {**good, "media_url": "https://img.example.cn/a.jpg?x=1&y=2"}
    )
    assert response.status_code == 200, response.content.decode()
    assert Open311Request.objects.get().media_url == "https://img.example.cn/a.jpg?x=1&y=2"


def test_attribute_arrays_and_refused_values(http, good):
    ok = post_form(
        http,
        f"{BASE}/requests.json",
        [
            *good.items(),
            ("attribute[kind]", "suggestion"),
            ("attribute[anonymous]", "true"),
            ("attribute[extra][]", "1"),
        ],
    )
    assert ok.status_code == 200, ok.content.decode()
    case = Case.objects.get(tracking_number=ok.json()[0]["service_request_id"])
    assert case.kind == "suggestion" and case.is_anonymous
    # a single-value list given two values; a value not in the list; the petition kind
    two = [*good.items(), ("attribute[kind][]", "help"), ("attribute[kind][]", "question")]
    assert_error(post_form(http, f"{BASE}/requests.json", two), 400, contains="attribute[kind]")
    assert_error(post_form(http, f"{BASE}/requests.xml", {**good, "attribute[kind]": "petition"}), 400, "xml")
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "attribute[anonymous]": "maybe"}), 400)
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "attribute[title]": "长" * 300}), 400)


def test_gb18030_bytes_in_a_utf8_form_are_400(http, good):
    body = (
        urlencode({**good, "description": "x"}).encode("ascii") + b"&description2=" + "电梯".encode("gb18030")
    )
    response = http.post(f"{BASE}/requests.json", body, content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, contains="UTF-8")
    escaped = urlencode({**good, "description": "电梯坏了"}, encoding="gb18030")
    response = http.post(f"{BASE}/requests.xml", escaped, content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, "xml", contains="UTF-8")
    # declaring another charset does not help: the spec assumes UTF-8
    response = http.post(
        f"{BASE}/requests.json", escaped, content_type="application/x-www-form-urlencoded; charset=gb18030"
    )
    assert_error(response, 400)
    assert not Case.objects.exists()


def test_raw_utf8_in_the_form_is_read(http, good):
    body = "&".join(f"{k}={v}" for k, v in {**good, "description": "电梯坏了"}.items()).encode("utf-8")
    response = http.post(f"{BASE}/requests.json", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content.decode()
    assert Case.objects.get().content == "电梯坏了"


def test_a_json_body_is_refused(http, good):
    response = http.post(f"{BASE}/requests.json", json.dumps(good), content_type="application/json")
    assert_error(response, 400, contains="x-www-form-urlencoded")


def test_oversized_fields_are_400(http, good, settings):
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "description": "长" * 20001}), 400)
    assert_error(
        post_form(http, f"{BASE}/requests.json", {**good, "device_id": "d" * 101}), 400, contains="device_id"
    )
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "phone": "call me maybe"}), 400)
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "email": "not-an-email"}), 400)
    assert not Case.objects.exists()


def test_too_large_or_too_many_fields(http, good, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "description": "长" * 400}), 413)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    many = [*good.items(), *((f"attribute[a{i}]", "x") for i in range(20))]
    assert_error(post_form(http, f"{BASE}/requests.xml", many), 400, "xml")
    assert not Case.objects.exists()


def test_wrong_jurisdiction_is_404(http, good, settings):
    settings.MINYI_OPEN311_JURISDICTION = "jiangcheng.gov.cn"
    assert_error(post_form(http, f"{BASE}/requests.json", {**good, "jurisdiction_id": "other.gov"}), 404)
    assert_error(
        http.get(f"{BASE}/services.xml", {"jurisdiction_id": "other.gov"}), 404, "xml", contains="other.gov"
    )
    assert_error(http.get(f"{BASE}/requests.json", {"jurisdiction_id": "other.gov"}), 404)
    assert http.get(f"{BASE}/services.json", {"jurisdiction_id": "JiangCheng.gov.cn"}).status_code == 200
    assert http.get(f"{BASE}/services.json").status_code == 200  # one jurisdiction: it may be left out
    assert (
        post_form(http, f"{BASE}/requests.json", {**good, "jurisdiction_id": "jiangcheng.gov.cn"}).status_code
        == 200
    )


# ---------------------------------------------------------------------------------------------- GET


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "yesterday"},
        {"start_date": "2026-13-01T00:00:00Z"},
        {"end_date": "2026-02-30"},
        {"start_date": "2026-01-01T25:00:00Z"},
        {"start_date": "2026-01-01T00:00:00+08:00<script>"},
        {"start_date": "9999-12-31T23:59:59-12:00"},
        {"start_date": "9999-12-01T00:00:00Z"},  # its 90 days run past the calendar
        {"end_date": "0001-01-02T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00+99:00"},
        {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},  # start after end
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"},  # 91 days
        {"start_date": "2025-01-01", "end_date": "2025-12-31"},
        {"status": "pending"},
    ],
)
def test_bad_dates_spans_and_statuses_are_400(http, params):
    both(lambda f: assert_error(http.get(f"{BASE}/requests.{f}", params), 400, f))


def test_exactly_90_days_is_allowed(http):
    response = http.get(
        f"{BASE}/requests.json", {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-01T00:00:00Z"}
    )
    assert response.status_code == 200


def test_ten_thousand_ids_are_refused_before_any_query(http, django_assert_num_queries):
    ids = ",".join(f"MY2026030200{i:05d}"[:15] for i in range(10_000))
    with django_assert_num_queries(0):
        response = http.get(f"{BASE}/requests.json", {"service_request_id": ids})
    assert_error(response, 400, contains="500")
    assert_error(http.get(f"{BASE}/requests.xml", {"service_request_id": ids}), 400, "xml")


def test_500_ids_are_one_query(http, org, app_client, django_assert_max_num_queries):  # noqa: F811 - fixtures imported above
    case = open311_case(app_client)
    ids = [f"MY20260302{i:05d}" for i in range(499)] + [case.tracking_number]
    with django_assert_max_num_queries(2):
        response = http.get(f"{BASE}/requests.json", {"service_request_id": ",".join(ids)})
    assert [r["service_request_id"] for r in response.json()] == [case.tracking_number]


def test_unknown_request_and_token_are_404(http):
    both(
        lambda f: assert_error(
            http.get(f"{BASE}/requests/MY2026030299999.{f}"), 404, f, contains="MY2026030299999"
        )
    )
    both(lambda f: assert_error(http.get(f"{BASE}/tokens/{'0' * 32}.{f}"), 404, f))
    both(lambda f: assert_error(http.get(f"{BASE}/tokens/{'0' * 500}.{f}"), 404, f))
    both(lambda f: assert_error(http.get(f"{BASE}/requests/{'x' * 500}.{f}"), 404, f))


@pytest.mark.parametrize(
    "path",
    ["services.html", "services.XML", "services", "discovery.yaml", "requests.php", "services/elevator.txt"],
)
def test_unknown_format_is_404(http, services, path):  # noqa: F811 - fixtures imported above
    assert_error(http.get(f"{BASE}/{path}"), 404, "xml")


def test_unknown_paths_are_404_in_the_shape(http):
    assert_error(http.get(f"{BASE}/nothing/here.json"), 404, "json")
    assert_error(http.get(f"{BASE}/nothing"), 404, "xml")
    assert_error(Client(enforce_csrf_checks=True).post(f"{BASE}/nothing.json"), 404, "json")


def test_wrong_method_is_405(http):
    response = http.post(f"{BASE}/services.json")
    assert_error(response, 405)
    assert response["Allow"] == "GET, HEAD"
    assert_error(http.delete(f"{BASE}/requests.xml"), 405, "xml")


def test_post_needs_no_csrf_token(good):
    client = Client(enforce_csrf_checks=True)
    assert post_form(client, f"{BASE}/requests.json", good).status_code == 200


def test_rate_limit_is_429_in_the_shape(http, settings, good):
    settings.MINYI_RATE_LIMIT_ENABLED = True
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "open311": "2/m"}
    assert http.get(f"{BASE}/services.json").status_code == 200
    assert http.get(f"{BASE}/services.xml").status_code == 200
    response = http.get(f"{BASE}/services.xml")
    assert_error(response, 429, "xml")
    assert response["Retry-After"] == "60"
    assert_error(post_form(http, f"{BASE}/requests.json", good), 429)
    assert not Case.objects.exists()


def test_gb18030_in_the_query_string_is_400(http):
    response = http.get(f"{BASE}/requests.json?service_code=%B5%E7%CC%DD")
    assert_error(response, 400, contains="UTF-8")


def test_errors_follow_the_request_language(http):
    zh = http.get(f"{BASE}/services/nope.json", headers={"accept-language": "zh-hans"}).json()[0][
        "description"
    ]
    assert "不存在" in zh


# ---------------------------------------------------------------------------------------------- hostile text

HOSTILE = (
    "<script>alert('x')</script> & </description><x/> ]]> \"quotes\" 'single' "
    "\x01\x08\x0b\x0c\x1f ctrl \ufffe\uffff nonchar \u202eRTL\u202c \u200bzero-width "
    "SELECT * FROM cases_case; -- 𠀀 emoji 🙂"
)


def test_hostile_text_is_escaped_in_xml_and_identical_in_json(http, org, case_in, recent):  # noqa: F811 - fixtures imported above
    case = case_in("replied", now=recent)
    publish(case, content=HOSTILE, replies=[HOSTILE])
    org.category.name = "物业<管理> & \x07"
    org.category.save()
    for path, root, escaped in (
        (f"{BASE}/requests", "service_requests", "&lt;script&gt;"),
        (f"{BASE}/services", "services", "物业&lt;管理&gt; &amp;"),
    ):
        xml = http.get(f"{path}.xml")
        doc = http.get(f"{path}.json")
        body = xml.content.decode("utf-8")
        assert "<script>" not in body and "<管理>" not in body and escaped in body
        _element, data = check_pair(xml, doc, root=root)  # parses as XML; same document in JSON
        text = json.dumps(data, ensure_ascii=False)
        for illegal in ("\\u0001", "\\u000b", "\\u001f", "\ufffe", "\uffff"):
            assert illegal not in text
    record = http.get(f"{BASE}/requests/{case.tracking_number}.json").json()[0]
    assert record["description"].startswith("<script>alert('x')</script> & </description>")
    assert "\u202eRTL" in record["description"] and "🙂" in record["description"]
    assert "\x01" not in record["description"]


def test_hostile_input_is_stored_as_text(http, good):
    response = post_form(
        http, f"{BASE}/requests.xml", {**good, "description": "<b>电梯</b> & ' \" 坏了", "account_id": "<a>&"}
    )
    assert response.status_code == 200, response.content.decode()
    root = ET.fromstring(response.content)
    assert root.find("request/account_id").text == "<a>&"
    assert Case.objects.get().content == "<b>电梯</b> & ' \" 坏了"


def test_nul_bytes_do_not_crash(http, good):
    response = post_form(
        http, f"{BASE}/requests.json", {**good, "description": "电梯\x00坏了", "address_string": "\x00"}
    )
    assert response.status_code == 200, response.content.decode()
    assert Case.objects.get().content == "电梯坏了"
