"""Open311 GeoReport v2: every method, in XML and in JSON, against the structure of the specification's own
examples (http://wiki.open311.org/GeoReport_v2 and /Service_Discovery): root and container names, field names,
their order where the spec shows one, every field present, and the XML and JSON carrying the same document
(the JSON is the Spark convention's reading of the XML, as the spec says).

Also: which cases GET lists and what it shows of them (privacy), the status mapping, and the filters.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from django.test import Client
from django.utils import timezone

from minyi.cases.models import Case, CaseContact
from minyi.cases.tests.factories import CategoryFactory, create_case, drive
from minyi.cases.workflow import CaseStatus
from minyi.disclosure.models import Publication, PublishedReply
from minyi.intake.models import Open311Request
from minyi.intake.open311 import open311_client_create, open311_submit

pytestmark = pytest.mark.django_db

S = CaseStatus
BASE = "/open311/v2"

# The field order of each record as the spec's examples show it.
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
DEFINITION_FIELDS = ["service_code", "attributes"]
ATTRIBUTE_FIELDS = [
    "variable", "code", "datatype", "required", "datatype_description", "order", "description", "values",
]  # fmt: skip
VALUE_FIELDS = ["key", "name"]
POST_FIELDS = ["service_request_id", "service_notice", "account_id"]
TOKEN_FIELDS = ["service_request_id", "token"]
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]  # fmt: skip
DISCOVERY_FIELDS = ["changeset", "contact", "key_service", "endpoints"]
ENDPOINT_FIELDS = ["specification", "url", "changeset", "type", "formats"]
ERROR_FIELDS = ["code", "description"]
#: The spec's list containers and the name of their children.
CONTAINERS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


# ---------------------------------------------------------------------------------------------- helpers


def spark(element: ET.Element):
    """An XML element read by the Spark convention (the spec's XML-to-JSON mapping), every leaf as text."""
    children = list(element)
    if element.tag in CONTAINERS:
        assert all(c.tag == CONTAINERS[element.tag] for c in children), element.tag
        return [spark(c) for c in children]
    if not children:
        return element.text if element.text is not None else None
    tags = [c.tag for c in children]
    assert len(tags) == len(set(tags)), f"repeated child in {element.tag}: {tags}"
    return {c.tag: spark(c) for c in children}


def as_text(value):
    """A JSON document with every leaf as XML writes it."""
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return None
    return str(value)


def get_both(client: Client, path: str, params: dict | None = None, *, status: int = 200, root: str):
    """GET `path`.xml and `path`.json; check both formats' headers and that they carry the same document.
    Returns (XML root element, JSON document)."""
    xml = client.get(f"{path}.xml", params or {})
    doc = client.get(f"{path}.json", params or {})
    assert xml.status_code == status, xml.content.decode()
    assert doc.status_code == status, doc.content.decode()
    return check_pair(xml, doc, root=root)


def check_pair(xml, doc, *, root: str):
    assert xml["Content-Type"] == "text/xml; charset=utf-8"
    assert doc["Content-Type"] == "application/json; charset=utf-8"
    body = xml.content.decode("utf-8")
    assert body.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
    element = ET.fromstring(xml.content)
    assert element.tag == root
    assert "xmlns" not in body  # schemaless, no namespace
    data = json.loads(doc.content.decode("utf-8"))
    assert spark(element) == as_text(data)
    return element, data


def assert_fields(record_xml: ET.Element, record_json: dict, fields: list[str]) -> None:
    assert [c.tag for c in record_xml] == fields
    assert list(record_json) == fields


@pytest.fixture
def http():
    return Client()


@pytest.fixture
def services(org):
    urban = CategoryFactory(name="城乡建设", code="urban", sort_order=1)
    elevator = CategoryFactory(
        name="电梯安全", code="elevator", parent=urban, keywords="电梯 困人、停运", sort_order=2
    )
    CategoryFactory(name="旧分类", code="retired", is_active=False)
    return {"urban": urban, "elevator": elevator, "property": org.category}


@pytest.fixture
def app_key(db):
    _client, key = open311_client_create(name="市民随手拍", contact="dev@example.cn")
    return key


def post_form(client: Client, path: str, fields: list[tuple[str, str]] | dict, **extra):
    body = urlencode(fields)
    return client.post(path, body, content_type="application/x-www-form-urlencoded", **extra)


def publish(case: Case, *, content: str = "公开的诉求内容（已遮盖）", replies: list[str] = ()) -> Publication:
    now = timezone.now()
    publication = Publication.objects.create(
        case=case,
        state=Publication.State.PUBLISHED,
        title=f"公开：{case.title}",
        content=content,
        kind=case.kind,
        category=case.category,
        case_status=case.status,
        received_at=case.created_at,
        published_at=now,
    )
    for i, text in enumerate(replies):
        reply = case.replies.create(text=f"原文{i}", created_at=now, sent_at=now + timedelta(minutes=i))
        PublishedReply.objects.create(
            publication=publication, reply=reply, text=text, sent_at=now + timedelta(minutes=i)
        )
    return publication


def open311_case(app_key_client, *, now=None, **params) -> Case:
    fields = {"service_code": "property", "lat": "30.58", "long": "114.27", "description": "3号楼电梯停运。"}
    fields.update(params)
    receipt = open311_submit(client=app_key_client, params=fields, attributes={}, now=now)
    return receipt.case


@pytest.fixture
def recent():
    """Two days ago: inside the default 90-day window (the factories' NOW is a fixed date)."""
    return timezone.now() - timedelta(days=2)


@pytest.fixture
def app_client(org):
    client, _key = open311_client_create(name="another app")
    return client


# ---------------------------------------------------------------------------------------------- discovery


def test_discovery_lists_production_and_test_endpoints_in_both_formats(http, settings):
    settings.MINYI_SITE_URL = "https://minyi.example.gov.cn"
    settings.MINYI_OPEN311_TEST_URL = ""
    element, data = get_both(http, f"{BASE}/discovery", root="discovery")
    assert_fields(element, data, DISCOVERY_FIELDS)
    assert [e["type"] for e in data["endpoints"]] == ["production", "test"]
    for endpoint_xml, endpoint in zip(element.find("endpoints"), data["endpoints"], strict=True):
        assert_fields(endpoint_xml, endpoint, ENDPOINT_FIELDS)
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["formats"] == ["text/xml", "application/json"]
    assert data["endpoints"][0]["url"] == "https://minyi.example.gov.cn/open311/v2/"
    # without a configured test server, the dry-run endpoint of this server is the test endpoint
    assert data["endpoints"][1]["url"] == "https://minyi.example.gov.cn/open311/v2/test/"
    assert all(data[k] for k in ("changeset", "contact", "key_service"))


def test_discovery_names_the_configured_test_server(http, settings):
    settings.MINYI_OPEN311_TEST_URL = "https://test.minyi.example.gov.cn/open311/v2/"
    data = http.get(f"{BASE}/discovery.json").json()
    assert data["endpoints"][1] == {
        **data["endpoints"][1],
        "type": "test",
        "url": settings.MINYI_OPEN311_TEST_URL,
    }


def test_the_bare_endpoint_leads_to_discovery(http):
    assert http.get(f"{BASE}/")["Location"] == f"{BASE}/discovery.xml"
    assert http.get(f"{BASE}/test/")["Location"] == f"{BASE}/test/discovery.xml"


# ---------------------------------------------------------------------------------------------- services


def test_services_are_the_active_categories_with_groups_and_keywords(http, services):
    element, data = get_both(http, f"{BASE}/services", root="services")
    for service_xml, service in zip(element, data, strict=True):
        assert_fields(service_xml, service, SERVICE_FIELDS)
    by_code = {s["service_code"]: s for s in data}
    assert set(by_code) == {"urban", "elevator", "property"}  # the inactive category is not offered
    assert by_code["elevator"] == {
        "service_code": "elevator",
        "service_name": "电梯安全",
        "description": "城乡建设 / 电梯安全",
        "metadata": True,
        "type": "realtime",
        "keywords": "电梯, 困人, 停运",
        "group": "城乡建设",  # the parent's name
    }
    assert by_code["urban"]["group"] == "城乡建设"  # top level: its own name
    assert by_code["property"]["keywords"] is None


def test_a_client_that_joins_the_discovery_url_with_a_slash_is_understood(http, services):
    assert http.get(f"{BASE}//services.json").status_code == 200


def test_service_definition_in_both_formats(http, services):
    element, data = get_both(http, f"{BASE}/services/elevator", root="service_definition")
    assert_fields(element, data, DEFINITION_FIELDS)
    assert data["service_code"] == "elevator"
    codes = []
    for attribute_xml, attribute in zip(element.find("attributes"), data["attributes"], strict=True):
        lists = attribute["datatype"] in ("singlevaluelist", "multivaluelist")
        assert_fields(attribute_xml, attribute, ATTRIBUTE_FIELDS if lists else ATTRIBUTE_FIELDS[:-1])
        assert attribute["variable"] is True and attribute["required"] is False
        values_xml = attribute_xml.find("values")
        values_xml = [] if values_xml is None else list(values_xml)
        for value_xml, value in zip(values_xml, attribute.get("values", []), strict=True):
            assert_fields(value_xml, value, VALUE_FIELDS)
        codes.append(attribute["code"])
    assert codes == ["kind", "anonymous", "publish", "title"]
    assert [a["order"] for a in data["attributes"]] == [1, 2, 3, 4]
    kind = data["attributes"][0]
    assert [v["key"] for v in kind["values"]] == ["complaint", "help", "question", "suggestion", "praise"]
    assert kind["datatype_description"] is None
    assert element.find("attributes/attribute/datatype_description").text is None  # an empty element


# ---------------------------------------------------------------------------------------------- POST requests


def test_post_request_in_both_formats_answers_the_spec_shape(http, services, app_key):
    fields = {
        "api_key": app_key,
        "service_code": "elevator",
        "lat": "30.583",
        "long": "114.268",
        "description": "和平小区3号楼电梯停运两周",
    }
    xml = post_form(http, f"{BASE}/requests.xml", fields)
    doc = post_form(http, f"{BASE}/requests.json", {**fields, "account_id": "u-42"})
    assert xml.status_code == doc.status_code == 200
    assert xml["Content-Type"] == "text/xml; charset=utf-8"
    element = ET.fromstring(xml.content)
    assert element.tag == "service_requests"
    (request_xml,) = list(element)
    assert request_xml.tag == "request"
    assert [c.tag for c in request_xml] == POST_FIELDS
    assert request_xml.find("account_id").text is None  # <account_id/>, as in the spec's example
    (receipt,) = doc.json()
    assert list(receipt) == POST_FIELDS and receipt["account_id"] == "u-42"
    # realtime: the id at once, and no token (the spec: one or the other)
    assert "token" not in receipt and request_xml.find("token") is None
    number = request_xml.find("service_request_id").text
    assert number != receipt["service_request_id"]
    for tracking in (number, receipt["service_request_id"]):
        case = Case.objects.get(tracking_number=tracking)
        assert case.channel == "open311" and case.category == services["elevator"]
    # the notice gives the person the tracking number and the query code, to follow the case on the web
    assert receipt["service_request_id"] in receipt["service_notice"]


def test_post_request_is_an_ordinary_case_triaged_on_arrival(
    http, services, app_key, django_capture_on_commit_callbacks
):
    from minyi.intake.models import Triage

    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(
            http,
            f"{BASE}/requests.json",
            [
                ("api_key", app_key),
                ("service_code", "elevator"),
                ("address_string", "江北区和平小区3号楼"),
                ("description", "电梯停运两周，老人上下楼困难。"),
                ("first_name", "三"),
                ("last_name", "张"),
                ("phone", "13800138000"),
                ("email", "zhang@example.cn"),
                ("device_id", "dev-1"),
                ("attribute[kind]", "help"),
                ("attribute[unknown][]", "a"),
                ("attribute[unknown][]", "b"),
                ("media_url", "https://img.example.cn/p/1.jpg"),
            ],
        )
    assert response.status_code == 200, response.content.decode()
    number = response.json()[0]["service_request_id"]
    case = Case.objects.get(tracking_number=number)
    assert re.fullmatch(r"MY\d{13}", number)
    assert case.status == S.SUBMITTED and case.channel == "open311" and case.kind == "help"
    assert case.content == "电梯停运两周，老人上下楼困难。"
    assert case.title == "电梯安全：电梯停运两周，老人上下楼困难"
    assert case.address == "江北区和平小区3号楼"
    assert Triage.objects.filter(case=case).exists()  # triage ran after commit, as for every channel
    assert case.events.filter(action="submit").exists()
    contact = CaseContact.objects.get(case=case)
    assert (contact.name, contact.phone, contact.email) == ("张三", "13800138000", "zhang@example.cn")
    stored = Open311Request.objects.get(case=case)
    assert stored.service_code == "elevator" and stored.device_id == "dev-1"
    assert stored.attributes == {"kind": "help"}  # unknown attribute codes are not kept
    assert stored.media_url == "https://img.example.cn/p/1.jpg"
    # the stored token finds the request again (GET tokens)
    element, data = get_both(http, f"{BASE}/tokens/{stored.token}", root="service_requests")
    assert_fields(element[0], data[0], TOKEN_FIELDS)
    assert data == [{"service_request_id": number, "token": stored.token}]


def test_the_test_endpoint_checks_everything_and_stores_nothing(http, services, app_key):
    fields = {
        "api_key": app_key,
        "service_code": "elevator",
        "lat": "30.5",
        "long": "114.3",
        "description": "试试",
    }
    response = post_form(http, f"{BASE}/test/requests.json", fields)
    assert response.status_code == 200
    (receipt,) = response.json()
    assert list(receipt) == POST_FIELDS and receipt["service_request_id"].startswith("TEST-")
    assert not Case.objects.exists() and not Open311Request.objects.exists()
    assert post_form(http, f"{BASE}/test/requests.json", {**fields, "api_key": "wrong"}).status_code == 403
    assert post_form(http, f"{BASE}/test/requests.json", {**fields, "lat": "x"}).status_code == 400
    assert http.get(f"{BASE}/test/services.json").status_code == 200


# ---------------------------------------------------------------------------------------------- GET requests


def test_get_requests_in_both_formats_has_every_field(http, services, app_client, case_in, recent):
    published = case_in(S.REPLIED, category=services["property"], now=recent)
    publish(published, content="业主反映电梯停运（已遮盖）", replies=["已督促物业维修，电梯已恢复运行。"])
    open311_case(app_client, address_string="和平小区东门", media_url="https://img.example.cn/1.jpg")
    element, data = get_both(http, f"{BASE}/requests", root="service_requests")
    assert len(data) == 2
    for request_xml, record in zip(element, data, strict=True):
        assert request_xml.tag == "request"
        assert_fields(request_xml, record, REQUEST_FIELDS)  # every field, null or not
        assert W3C.match(record["requested_datetime"]) and W3C.match(record["updated_datetime"])
        assert record["status"] in ("open", "closed")
    newest, older = data
    assert newest["description"] is None  # not published: no text
    assert newest["address"] == "和平小区东门" and newest["media_url"] == "https://img.example.cn/1.jpg"
    assert newest["lat"] == 30.58 and newest["long"] == 114.27
    assert newest["expected_datetime"] is not None and W3C.match(newest["expected_datetime"])
    assert older["service_request_id"] == published.tracking_number
    assert older["description"] == "业主反映电梯停运（已遮盖）"  # the published, masked text
    assert older["status"] == "open"  # replied stays open until closed
    assert older["status_notes"] == "已答复：已督促物业维修，电梯已恢复运行。"
    assert older["agency_responsible"] == published.department.name
    assert older["service_code"] == "property" and older["service_name"] == "物业管理"
    assert older["zipcode"] is None and older["service_notice"] is None


def test_get_request_by_id_is_a_one_element_list(http, app_client):
    case = open311_case(app_client)
    element, data = get_both(http, f"{BASE}/requests/{case.tracking_number}", root="service_requests")
    assert len(data) == 1 and len(element) == 1
    assert_fields(element[0], data[0], REQUEST_FIELDS)
    assert data[0]["service_request_id"] == case.tracking_number
    # ids are case-insensitive
    lower = http.get(f"{BASE}/requests/{case.tracking_number.lower()}.json")
    assert lower.json()[0]["service_request_id"] == case.tracking_number


def test_only_published_and_open311_cases_are_listed(http, org, app_client, case_in, recent):
    hidden = case_in(S.REPLIED, now=recent)  # a web case, not published
    withdrawn = case_in(S.REPLIED, now=recent)
    publish(withdrawn)
    Publication.objects.filter(case=withdrawn).update(state=Publication.State.WITHDRAWN)
    shown = open311_case(app_client)
    ids = [r["service_request_id"] for r in http.get(f"{BASE}/requests.json").json()]
    assert ids == [shown.tracking_number]
    for case in (hidden, withdrawn):
        assert http.get(f"{BASE}/requests/{case.tracking_number}.json").status_code == 404
        assert http.get(f"{BASE}/requests/{case.tracking_number}.xml").status_code == 404


def test_personal_data_is_never_shown(http, org, app_client):
    case = open311_case(
        app_client,
        description="我叫张三，电话13912345678，身份证号码在此。",
        address_string="和平小区3栋502室 电话13912345678",
        first_name="三",
        last_name="张",
        phone="13912345678",
        email="zhangsan@example.cn",
        account_id="acct-secret",
        device_id="device-secret",
    )
    for fmt in ("xml", "json"):
        for path in (f"{BASE}/requests.{fmt}", f"{BASE}/requests/{case.tracking_number}.{fmt}"):
            body = http.get(path).content.decode()
            for secret in (
                "张三",
                "13912345678",
                "zhangsan@example.cn",
                "acct-secret",
                "device-secret",
                "我叫",
            ):
                assert secret not in body, (path, secret)
    record = http.get(f"{BASE}/requests.json").json()[0]
    assert record["description"] is None
    assert "139" in record["address"] and "*" in record["address"]  # masked by the text engine


def test_a_person_who_declines_publication_shows_no_place(http, org, app_key):
    fields = {
        "api_key": app_key,
        "service_code": "property",
        "address_string": "和平小区",
        "lat": "30.5",
        "long": "114.3",
        "description": "电梯坏了",
        "attribute[publish]": "false",
    }
    number = post_form(http, f"{BASE}/requests.json", fields).json()[0]["service_request_id"]
    assert Case.objects.get(tracking_number=number).publication_consent is False
    record = http.get(f"{BASE}/requests/{number}.json").json()[0]
    assert [record[k] for k in ("address", "lat", "long", "description")] == [None] * 4


def test_a_private_case_shows_no_place(http, org, app_client):
    case = open311_case(app_client, address_string="和平小区", media_url="https://img.example.cn/2.jpg")
    Case.objects.filter(pk=case.pk).update(is_private=True)
    record = http.get(f"{BASE}/requests/{case.tracking_number}.json").json()[0]
    assert [record[k] for k in ("address", "address_id", "lat", "long", "media_url", "description")] == [
        None
    ] * 6
    assert record["status"] == "open"  # the app still follows its request


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (S.SUBMITTED, "open"),
        (S.ACCEPTED, "open"),
        (S.IN_PROGRESS, "open"),
        (S.REPLIED, "open"),
        (S.UNDER_REVIEW, "open"),
        (S.CLOSED, "closed"),
        (S.DECLINED, "closed"),
        (S.REFERRED, "closed"),
        (S.MERGED, "closed"),
    ],
)
def test_statuses_map_to_open_and_closed(http, org, case_in, state, status):
    case = case_in(state)
    publish(case)
    record = http.get(f"{BASE}/requests/{case.tracking_number}.json").json()[0]
    assert record["status"] == status
    assert record["status_notes"] == str(CaseStatus(state).label)
    if status == "closed":
        assert record["expected_datetime"] is None
        assert record["updated_datetime"] >= record["requested_datetime"]


def test_the_default_window_is_the_last_90_days(http, org, app_client):
    now = timezone.now()
    recent = open311_case(app_client, now=now - timedelta(days=89))
    open311_case(app_client, now=now - timedelta(days=91))
    ids = [r["service_request_id"] for r in http.get(f"{BASE}/requests.json").json()]
    assert ids == [recent.tracking_number]


def test_date_filters(http, org, app_client):
    now = timezone.now().replace(microsecond=0)
    early = open311_case(app_client, now=now - timedelta(days=200))
    late = open311_case(app_client, now=now - timedelta(days=150))

    def ids(**params):
        response = http.get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content.decode()
        return [r["service_request_id"] for r in response.json()]

    start = (now - timedelta(days=210)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    end = (now - timedelta(days=140)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=start, end_date=end) == [late.tracking_number, early.tracking_number]
    # start alone: 90 days from it
    assert ids(start_date=start) == [late.tracking_number, early.tracking_number]
    # end alone: the 90 days before it
    assert ids(end_date=(now - timedelta(days=180)).isoformat()) == [early.tracking_number]
    # a date without time, and a '+' that the URL turned into a space
    day = timezone.localtime(now - timedelta(days=150)).date()
    assert ids(start_date=day.isoformat(), end_date=day.isoformat()) == [late.tracking_number]
    raw = http.get(f"{BASE}/requests.json?start_date={start}&end_date={end}")  # '+' unescaped: a space
    assert raw.status_code == 200 and len(raw.json()) == 2


def test_service_code_status_and_id_filters(http, services, org, app_client, case_in, recent):
    open_one = open311_case(app_client, service_code="elevator")
    other = open311_case(app_client, service_code="property")
    closed = case_in(S.CLOSED, category=services["urban"], now=recent)
    publish(closed)

    def ids(**params):
        return sorted(r["service_request_id"] for r in http.get(f"{BASE}/requests.json", params).json())

    assert ids(service_code="elevator") == [open_one.tracking_number]
    assert ids(service_code="elevator,urban") == sorted([open_one.tracking_number, closed.tracking_number])
    assert ids(service_code="nothing-like-it") == []
    assert ids(status="closed") == [closed.tracking_number]
    assert ids(status="open") == sorted([open_one.tracking_number, other.tracking_number])
    assert len(ids(status="open,closed")) == 3
    # a list of ids overrides every other argument (the spec)
    listed = f"{open_one.tracking_number}, {closed.tracking_number},NOPE"
    assert ids(service_request_id=listed, status="open", service_code="property") == sorted(
        [open_one.tracking_number, closed.tracking_number]
    )


def test_an_id_list_reaches_past_the_window(http, org, app_client):
    old = open311_case(app_client, now=timezone.now() - timedelta(days=400))
    assert http.get(f"{BASE}/requests.json").json() == []
    found = http.get(f"{BASE}/requests.json", {"service_request_id": old.tracking_number}).json()
    assert [r["service_request_id"] for r in found] == [old.tracking_number]


def test_at_most_1000_newest_first(http, org, app_client, monkeypatch):
    from minyi.api.open311 import selectors

    monkeypatch.setattr(selectors, "MAX_RESULTS", 3)
    now = timezone.now()
    cases = [open311_case(app_client, now=now - timedelta(hours=i)) for i in range(4)]
    ids = [r["service_request_id"] for r in http.get(f"{BASE}/requests.json").json()]
    assert ids == [c.tracking_number for c in cases[:3]]


def test_the_spec_limit_is_1000():
    from minyi.api.open311 import selectors

    assert (selectors.MAX_RESULTS, selectors.MAX_SPAN_DAYS) == (1000, 90)


def test_listing_takes_a_constant_number_of_queries(
    http, org, app_client, case_in, recent, django_assert_max_num_queries
):
    for _ in range(3):
        publish(case_in(S.REPLIED, now=recent), replies=["答复一", "答复二"])
        open311_case(app_client)
    with django_assert_max_num_queries(2):
        assert len(http.get(f"{BASE}/requests.json").json()) == 6


def test_the_latest_published_reply_goes_into_status_notes(http, org, case_in):
    case = case_in(S.REPLIED)
    publish(case, replies=["第一次答复", "第二次答复" + "很长" * 200])
    notes = http.get(f"{BASE}/requests/{case.tracking_number}.json").json()[0]["status_notes"]
    assert notes.startswith("已答复：第二次答复") and notes.endswith("…") and len(notes) <= 4 + 200 + 1


def test_a_closed_case_is_updated_when_it_closed(http, org):
    case = create_case()
    case, _clock = drive(case, S.CLOSED, org)
    publish(case)
    record = http.get(f"{BASE}/requests/{case.tracking_number}.json").json()[0]
    assert record["updated_datetime"] == timezone.localtime(case.closed_at).replace(microsecond=0).isoformat()
