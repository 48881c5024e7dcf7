"""The Django admin: every page renders; cases are read-only, filtered by policy, and show no contact details."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from minyi.accounts.admin import tree_label
from minyi.accounts.models import ApiToken, Membership, Role
from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import NOW, UserFactory, create_case, drive, member
from minyi.cases.workflow import CaseStatus
from minyi.intake.models import IdempotencyRecord, TrackingSequence
from minyi.routing.models import CalendarDay

pytestmark = pytest.mark.django_db
MODELS = [
    "accounts.user",
    "accounts.department",
    "accounts.region",
    "accounts.membership",
    "accounts.apitoken",
    "routing.category",
    "routing.slapolicy",
    "routing.calendarday",
    "cases.case",
    "cases.caseevent",
    "intake.idempotencyrecord",
    "intake.trackingsequence",
    "intake.triage",
    "intake.importjob",
    "intake.duplicatecandidate",
    "intake.classifierversion",
    "intake.classifierswitch",
    "routing.routingrule",
    "routing.place",
    "routing.routinghistory",
]


def url(model: str, view: str, *args) -> str:
    app, name = model.split(".")
    return reverse(f"admin:{app}_{name}_{view}", args=args)


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.fixture
def populated(org):
    case = drive(
        create_case(contact={"name": "赵六", "phone": "13912345678", "email": "zl@example.cn"}),
        CaseStatus.IN_PROGRESS,
        org,
    )[0]
    ApiToken.issue(org.dispatcher)
    IdempotencyRecord.objects.create(
        key="k1",
        fingerprint="f",
        response_body={"query_code": "SECRETCODE23"},
        created_at=NOW,
        expires_at=NOW,
    )
    CalendarDay.objects.create(date=NOW.date(), is_workday=False, name="台风停工")
    return case


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_renders(admin_client, populated, model):
    response = admin_client.get(url(model, "changelist"))
    assert response.status_code == 200


def test_every_model_is_registered():
    registered = {f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry}
    assert set(MODELS) <= registered


@pytest.mark.parametrize(
    "model",
    [
        "cases.case",
        "cases.caseevent",
        "accounts.apitoken",
        "intake.idempotencyrecord",
        "intake.trackingsequence",
        "intake.triage",
        "intake.importjob",
        "intake.duplicatecandidate",
        "intake.classifierversion",
        "routing.routinghistory",
    ],
)
def test_read_only_models_cannot_be_added(admin_client, model):
    assert admin_client.get(url(model, "add")).status_code == 403


def test_case_change_view_is_read_only(admin_client, populated, org):
    case = populated
    page = admin_client.get(url("cases.case", "change", case.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="status"' not in html
    assert case.tracking_number in html
    # a forged POST changes nothing
    response = admin_client.post(url("cases.case", "change", case.pk), {"status": "closed", "title": "篡改"})
    assert response.status_code == 403
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.title) == (CaseStatus.IN_PROGRESS, case.title)
    # and it cannot be deleted
    assert admin_client.post(url("cases.case", "delete", case.pk), {"post": "yes"}).status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()


def test_case_pages_never_show_contact_details(admin_client, populated):
    for page in (url("cases.case", "changelist"), url("cases.case", "change", populated.pk)):
        html = admin_client.get(page).content.decode()
        assert "13912345678" not in html and "赵六" not in html and "zl@example.cn" not in html


def test_case_events_cannot_be_changed_or_deleted(admin_client, populated):
    event = CaseEvent.objects.filter(case=populated).first()
    assert admin_client.get(url("cases.caseevent", "change", event.pk)).status_code == 200
    assert admin_client.post(url("cases.caseevent", "change", event.pk), {"note": "x"}).status_code == 403
    assert admin_client.post(url("cases.caseevent", "delete", event.pk), {"post": "yes"}).status_code == 403
    assert CaseEvent.objects.get(pk=event.pk).note == event.note


def test_case_list_follows_the_policy(client, org):
    """A staff member with admin access sees only the cases the policies let them see."""
    mine = drive(create_case(title="本部门案件"), CaseStatus.IN_PROGRESS, org)[0]
    other = drive(create_case(title="他部门案件"), CaseStatus.IN_PROGRESS, org, department=org.dept_b)[0]
    handler = org.handler_a
    handler.is_staff = True
    handler.save()
    handler.user_permissions.add(
        Permission.objects.get(codename="view_case"), Permission.objects.get(codename="view_caseevent")
    )
    client.force_login(handler)
    html = client.get(url("cases.case", "changelist")).content.decode()
    assert mine.tracking_number in html and other.tracking_number not in html
    assert client.get(url("cases.case", "change", other.pk)).status_code == 302  # not found -> back to list
    events = client.get(url("cases.caseevent", "changelist")).content.decode()
    assert mine.tracking_number in events and other.tracking_number not in events


def test_idempotency_record_never_shows_the_query_code(admin_client, populated):
    record = IdempotencyRecord.objects.get(key="k1")
    for page in (
        url("intake.idempotencyrecord", "changelist"),
        url("intake.idempotencyrecord", "change", record.pk),
    ):
        assert "SECRETCODE23" not in admin_client.get(page).content.decode()


def test_api_token_hash_is_not_shown(admin_client, populated):
    token = ApiToken.objects.get()
    html = admin_client.get(url("accounts.apitoken", "change", token.pk)).content.decode()
    assert token.key_hash not in html
    # revoking (deleting) a token is allowed
    assert admin_client.post(url("accounts.apitoken", "delete", token.pk), {"post": "yes"}).status_code == 302
    assert not ApiToken.objects.exists()


def test_tree_display_is_indented(admin_client, org):
    assert tree_label(org.parent) == "市住建局"
    assert tree_label(org.dept_a) == "　└ 市住建局物业监管科"
    html = admin_client.get(url("accounts.department", "changelist")).content.decode()
    assert "　└ 市住建局物业监管科" in html
    assert html.index("市住建局物业监管科") > html.index(">市住建局<")


def test_user_page_shows_memberships_inline(admin_client, org):
    html = admin_client.get(url("accounts.user", "change", org.head_a.pk)).content.decode()
    assert "memberships-TOTAL_FORMS" in html
    assert "市住建局物业监管科" in html


def test_user_with_membership_added_through_the_admin(admin_client, org):
    user = UserFactory(username="newbie")
    data = {
        "username": "newbie",
        "password": user.password,
        "email": "newbie@example.cn",
        "is_active": "on",
        "date_joined_0": "2026-03-02",
        "date_joined_1": "09:00:00",
        "display_name": "新人",
        "phone": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-department": str(org.dept_b.pk),
        "memberships-0-role": Role.HANDLER,
    }
    response = admin_client.post(url("accounts.user", "change", user.pk), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Membership.objects.filter(user=user, department=org.dept_b, role=Role.HANDLER).exists()


def test_tracking_sequence_is_listed(admin_client):
    TrackingSequence.objects.create(day=NOW.date(), last=17)
    html = admin_client.get(url("intake.trackingsequence", "changelist")).content.decode()
    assert ">17<" in html


def test_non_staff_cannot_enter(client, org):
    member(org.citizen, org.centre, Role.LEADER)
    client.force_login(org.citizen)
    response = client.get(url("cases.case", "changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]
