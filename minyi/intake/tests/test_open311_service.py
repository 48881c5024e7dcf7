"""minyi.intake.open311: API keys (hashed, shown once), the attributes, and a POST becoming an ordinary case
through submission_ingest; and the admin of the client apps."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from minyi.cases.models import Case, CaseContact, CaseEvent
from minyi.cases.tests.factories import NOW, CategoryFactory
from minyi.core.exceptions import Forbidden, NotFound, ValidationFailed
from minyi.intake import open311
from minyi.intake.models import Open311Client, Open311Request, Triage

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(db):
    return open311.open311_client_create(name="随手拍", contact="dev@example.cn")


def submit(client, *, attributes=None, now=NOW, **params):
    fields = {
        "service_code": "property",
        "lat": "30.58",
        "long": "114.27",
        "description": "3号楼电梯停运两周。",
    }
    fields.update(params)
    return open311.open311_submit(client=client, params=fields, attributes=attributes or {}, now=now)


# ---------------------------------------------------------------------------------------------- keys


def test_a_key_is_stored_only_as_its_hash_and_prefix(app):
    client, key = app
    client.refresh_from_db()
    assert len(key) >= 32
    assert client.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert client.key_prefix == key[:8]
    assert key not in str(Open311Client.objects.values().get())


def test_authenticate_by_hash(app):
    client, key = app
    assert open311.open311_client_authenticate(key, now=NOW) == client
    client.refresh_from_db()
    assert client.last_used_at == NOW
    for wrong in (
        "",
        None,
        key[:-1],
        key + "x",
        key.upper() if key.upper() != key else key.lower(),
        "x" * 300,
    ):
        with pytest.raises(Forbidden):
            open311.open311_client_authenticate(wrong)
    Open311Client.objects.filter(pk=client.pk).update(is_active=False)
    with pytest.raises(Forbidden):
        open311.open311_client_authenticate(key)


def test_two_clients_with_the_same_prefix_are_told_apart(app):
    client, key = app
    other = Open311Client(name="other")
    other_key = open311.open311_key_assign(other)
    other.key_prefix = client.key_prefix  # a prefix collision
    other.save()
    assert open311.open311_client_authenticate(key) == client
    with pytest.raises(Forbidden):
        open311.open311_client_authenticate(client.key_prefix + other_key[8:])


# ---------------------------------------------------------------------------------------------- submit


def test_a_request_goes_through_intake_as_an_ordinary_case(org, app, django_capture_on_commit_callbacks):
    client, _key = app
    with django_capture_on_commit_callbacks(execute=True):
        receipt = submit(
            client,
            first_name="三",
            last_name="张",
            phone="13800138000",
            email="zhang@example.cn",
            device_id="dev-1",
            account_id="acct-1",
            media_url="https://img.example.cn/a.jpg",
            attributes={"kind": ["question"], "other": ["x"]},
        )
    case = Case.objects.get(pk=receipt.case.pk)
    assert receipt.service_request_id == case.tracking_number and case.tracking_number.startswith(
        "MY20260302"
    )
    assert case.channel == "open311" and case.kind == "question" and case.category == org.category
    assert case.status == "submitted" and case.accept_due_at is not None
    assert CaseEvent.objects.filter(case=case, action="submit").count() == 1
    assert Triage.objects.filter(case=case).exists()  # triaged on arrival like every channel
    contact = CaseContact.objects.get(case=case)
    assert (contact.name, contact.phone, contact.email) == ("张三", "13800138000", "zhang@example.cn")
    stored = Open311Request.objects.get(case=case)
    assert stored.client == client and stored.token == receipt.token and len(stored.token) == 32
    assert stored.attributes == {"kind": "question"}
    assert (stored.device_id, stored.account_id, stored.media_url) == (
        "dev-1",
        "acct-1",
        "https://img.example.cn/a.jpg",
    )
    assert receipt.query_code and receipt.query_code in receipt.service_notice


def test_latin_names_keep_their_order(org, app):
    receipt = submit(app[0], first_name="John", last_name="Smith")
    assert CaseContact.objects.get(case=receipt.case).name == "John Smith"


def test_anonymous_keeps_no_contact(org, app):
    receipt = submit(
        app[0], first_name="三", last_name="张", phone="13800138000", attributes={"anonymous": ["true"]}
    )
    assert receipt.case.is_anonymous and not CaseContact.objects.filter(case=receipt.case).exists()


def test_title_is_derived_or_given(org, app):
    assert submit(app[0]).case.title == "物业管理：3号楼电梯停运两周"
    long = submit(app[0], description="甲" * 100).case.title
    assert long == "物业管理：" + "甲" * open311.TITLE_SNIPPET_CHARS + "…"
    assert submit(app[0], attributes={"title": ["电梯坏了"]}).case.title == "电梯坏了"


def test_a_request_without_description_is_still_taken(org, app):
    case = submit(app[0], description="").case
    assert "物业管理" in case.content and case.title == "物业管理"


def test_a_service_code_of_digits_is_a_code_not_a_key(org, app):
    """A category coded "1" must not be mistaken for the category whose primary key is 1."""
    target = CategoryFactory(name="道路", code=str(org.category.pk))
    case = submit(app[0], service_code=target.code).case
    assert case.category == target


def test_address_id_is_a_region_code(org, app):
    case = submit(app[0], lat="", long="", address_id=org.region.code).case
    assert case.region == org.region
    with pytest.raises(ValidationFailed):
        submit(app[0], lat="", long="", address_id="a" * 41)


def test_zero_coordinates_are_kept(org, app):
    case = submit(app[0], lat="0", long="0").case
    assert (case.latitude, case.longitude) == (0, 0)


def test_refusals(org, app):
    client = app[0]
    with pytest.raises(NotFound):
        submit(client, service_code="nope")
    with pytest.raises(ValidationFailed):
        submit(client, service_code="")
    with pytest.raises(ValidationFailed):
        submit(client, attributes={"kind": ["petition"]})
    with pytest.raises(ValidationFailed):
        submit(client, attributes={"kind": ["help", "question"]})
    with pytest.raises(ValidationFailed):
        submit(client, attributes={"title": ["x" * 201]})
    with pytest.raises(ValidationFailed):
        submit(client, account_id="a" * 101)
    with pytest.raises(ValidationFailed):
        submit(client, media_url="javascript:alert(1)")
    with pytest.raises(ValidationFailed):
        submit(client, description="电梯\ufffd")  # decoding damage
    assert not Case.objects.exists()


def test_a_failure_after_the_case_leaves_nothing(org, app, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Open311Request.objects, "create", broken)
    with pytest.raises(RuntimeError):
        submit(app[0])
    assert not Case.objects.exists()


def test_a_dry_run_checks_and_stores_nothing(org, app):
    receipt = open311.open311_submit(
        client=app[0],
        params={"service_code": "property", "address_string": "和平小区"},
        attributes={},
        dry_run=True,
    )
    assert receipt.case is None and receipt.service_request_id.startswith("TEST-")
    assert not Case.objects.exists()
    with pytest.raises(ValidationFailed):
        open311.open311_submit(
            client=app[0], params={"service_code": "property"}, attributes={}, dry_run=True
        )


def test_service_list_and_definitions(org):
    CategoryFactory(code="off", is_active=False)
    assert [c.code for c in open311.service_list()] == ["property"]
    attributes = open311.service_attributes(org.category)
    kind = next(a for a in attributes if a.code == "kind")
    assert "petition" not in {v.key for v in kind.values}
    assert [a.order for a in attributes] == sorted({a.order for a in attributes})  # unique, ordered


def test_token_lookup(org, app):
    receipt = submit(app[0])
    assert open311.open311_token_lookup(receipt.token).case == receipt.case
    for wrong in ("", "0" * 32, "x" * 41):
        with pytest.raises(NotFound):
            open311.open311_token_lookup(wrong)


# ---------------------------------------------------------------------------------------------- admin


def test_the_admin_shows_a_new_key_once_and_stores_its_hash(org):
    browser = Client()
    browser.force_login(org.admin)
    response = browser.post(
        "/admin/intake/open311client/add/",
        {"name": "城市随手拍", "contact": "ops@example.cn", "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    client = Open311Client.objects.get(name="城市随手拍")
    page = response.content.decode()
    key = page.split("<code>")[1].split("</code>")[0]
    assert page.count(key) == 1
    assert hashlib.sha256(key.encode()).hexdigest() == client.key_hash
    assert open311.open311_client_authenticate(key) == client
    # shown once: later pages show only the prefix
    later = browser.get(f"/admin/intake/open311client/{client.pk}/change/").content.decode()
    assert key not in later and client.key_prefix in later


def test_the_admin_issues_a_new_key(org, app):
    client, old_key = app
    browser = Client()
    browser.force_login(org.admin)
    response = browser.post(
        "/admin/intake/open311client/",
        {"action": "issue_new_key", "_selected_action": [client.pk]},
        follow=True,
    )
    assert response.status_code == 200
    with pytest.raises(Forbidden):
        open311.open311_client_authenticate(old_key)
    client.refresh_from_db()
    assert client.key_prefix in response.content.decode()


def test_the_admin_lists_requests_read_only(org, app):
    receipt = submit(app[0])
    browser = Client()
    browser.force_login(org.admin)
    listing = browser.get("/admin/intake/open311request/")
    assert listing.status_code == 200 and receipt.case.tracking_number in listing.content.decode()
    assert browser.get("/admin/intake/open311request/add/").status_code == 403
    change = browser.post(f"/admin/intake/open311request/{receipt.case.pk}/change/", {"service_code": "x"})
    assert change.status_code in (200, 403)
    assert Open311Request.objects.get().service_code == "property"
