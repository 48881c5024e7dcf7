"""Export of the staff case list (/staff/export.xlsx, /staff/export.csv): filters, visibility, columns,
hostile content, streaming, bounded queries.

Uses the organisation from minyi/cases/tests/factories.py (fixtures `org`, `make_case`, `case_in`).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from minyi.cases import exports, policies, views
from minyi.cases.models import Case
from minyi.cases.selectors import CaseFilters
from minyi.cases.tests.factories import SHANGHAI, CategoryFactory, DepartmentFactory, RegionFactory, act
from minyi.cases.workflow import CaseStatus
from minyi.intake.models import Triage

S = CaseStatus
XLSX = reverse("cases:export_xlsx")
CSV = reverse("cases:export_csv")
WORKBENCH = reverse("cases:workbench")

#: The stable column keys, in order: an interface that other people's spreadsheets and scripts rely on.
COLUMNS = [
    "tracking_number",
    "external_number",
    "created_at",
    "kind",
    "channel",
    "priority",
    "status",
    "category_code",
    "category",
    "region_code",
    "region",
    "department_code",
    "department",
    "title",
    "content",
    "accepted_at",
    "replied_at",
    "closed_at",
    "due_at",
    "overdue",
    "escalation_count",
    "is_repeat",
    "duplicate_of",
    "merged_into",
    "triage_category_code",
    "triage_confidence",
    "triage_department_code",
    "risk_score",
    "risk_level",
]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def download(client: Client, url: str, params: dict | None = None):
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:500]
    assert response.streaming is True
    return response, b"".join(response.streaming_content)


def xlsx_records(data: bytes) -> list[dict]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    workbook.close()
    assert list(rows[0]) == COLUMNS
    # Read-only openpyxl stops each row at its last cell (a streamed sheet states no dimension up front).
    width = len(COLUMNS)
    return [dict(zip(COLUMNS, (*row, *[None] * (width - len(row))), strict=True)) for row in rows[1:]]


def csv_records(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese as UTF-8
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    assert reader.fieldnames == COLUMNS
    return list(reader)


def exported_numbers(client: Client, params: dict | None = None) -> dict[str, set[str]]:
    """The tracking numbers in both formats, for the same parameters."""
    _r, xlsx = download(client, XLSX, params)
    _r, text = download(client, CSV, params)
    return {
        "xlsx": {r["tracking_number"] for r in xlsx_records(xlsx)},
        "csv": {r["tracking_number"] for r in csv_records(text)},
    }


def same_in_both(client: Client, params: dict | None = None) -> set[str]:
    numbers = exported_numbers(client, params)
    assert numbers["xlsx"] == numbers["csv"]
    return numbers["xlsx"]


def all_text_of_xlsx(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist())


# ---------------------------------------------------------------------------------------------- columns


@pytest.mark.django_db
def test_the_header_is_the_stable_list_of_keys(org):
    assert [key for key, _label in exports.EXPORT_COLUMNS] == COLUMNS
    client = client_for(org.supervisor)
    _r, xlsx = download(client, XLSX)
    assert xlsx_records(xlsx) == []
    _r, text = download(client, CSV)
    assert text.decode("utf-8-sig").splitlines()[0] == ",".join(COLUMNS)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hant", "zh-hans"])
def test_the_header_and_codes_do_not_change_with_the_ui_language(org, make_case, language):
    make_case(kind="question")
    response = client_for(org.supervisor).get(CSV, headers={"accept-language": language})
    rows = csv_records(b"".join(response.streaming_content))
    assert (rows[0]["kind"], rows[0]["status"], rows[0]["channel"]) == ("question", "submitted", "web")


@pytest.mark.django_db
def test_a_case_is_exported_with_codes_names_local_times_and_its_triage(org, make_case):
    created = datetime(2026, 3, 2, 1, 0, 30, tzinfo=UTC)  # 09:00:30 in Shanghai
    original = make_case(now=created - timedelta(days=1), title="原件")
    case = make_case(now=created, kind="help", priority="urgent", category=org.category, region=org.region)
    case = act(case, "accept", org.intake, now=created + timedelta(hours=1))
    case = act(
        case, "assign", org.dispatcher, data={"department": org.dept_a.pk}, now=created + timedelta(hours=2)
    )
    Case.objects.filter(pk=case.pk).update(
        duplicate_of=original, is_repeat=True, escalation_count=2, external_number="HIST-001"
    )
    suggested = CategoryFactory(name="供水", code="water")
    Triage.objects.create(
        case=case,
        category=suggested,
        category_confidence=0.875,
        department=org.dept_b,
        risk_score=40,
        risk_level="medium",
        triaged_at=created,
    )
    case.refresh_from_db()

    client = client_for(org.supervisor)
    _r, xlsx = download(client, XLSX)
    _r, text = download(client, CSV)
    by_number = {r["tracking_number"]: r for r in xlsx_records(xlsx)}
    row = by_number[case.tracking_number]
    local_due = case.due_at.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)
    assert row == {
        "tracking_number": case.tracking_number,
        "external_number": "HIST-001",
        "created_at": datetime(2026, 3, 2, 9, 0, 30),
        "kind": "help",
        "channel": "web",
        "priority": "urgent",
        "status": "assigned",
        "category_code": "property",
        "category": "物业管理",
        "region_code": "jc-jb",
        "region": "江北区",
        "department_code": "zjj-wy",
        "department": "市住建局物业监管科",
        "title": case.title,
        "content": case.content,
        "accepted_at": datetime(2026, 3, 2, 10, 0, 30),
        "replied_at": None,
        "closed_at": None,
        "due_at": local_due,
        "overdue": case.due_at < timezone.now(),
        "escalation_count": 2,
        "is_repeat": True,
        "duplicate_of": original.tracking_number,
        "merged_into": None,
        "triage_category_code": "water",
        "triage_confidence": 0.875,
        "triage_department_code": "rsj",
        "risk_score": 40,
        "risk_level": "medium",
    }
    untriaged = by_number[original.tracking_number]
    assert [untriaged[k] for k in ("triage_category_code", "triage_confidence", "risk_level")] == [None] * 3
    assert untriaged["category_code"] is None and untriaged["department"] is None

    csv_row = {r["tracking_number"]: r for r in csv_records(text)}[case.tracking_number]
    assert csv_row["created_at"] == "2026-03-02 09:00:30"
    assert csv_row["is_repeat"] == "true"
    assert csv_row["overdue"] == ("true" if row["overdue"] else "false")
    assert csv_row["triage_confidence"] == "0.875"
    assert csv_row["replied_at"] == ""
    assert csv_row["due_at"] == local_due.isoformat(sep=" ")


@pytest.mark.django_db
def test_a_merged_case_names_the_case_it_went_into(org, case_in):
    merged = case_in(S.MERGED)
    rows = {r["tracking_number"]: r for r in csv_records(download(client_for(org.supervisor), CSV)[1])}
    assert rows[merged.tracking_number]["merged_into"] == merged.merged_into.tracking_number
    assert rows[merged.tracking_number]["status"] == "merged"


@pytest.mark.django_db
def test_contact_details_are_never_exported(org, make_case):
    contact = {
        "name": "欧阳娜娜",
        "phone": "13912345678",
        "email": "nana.private@example.cn",
        "id_number": "110101199003074514",
        "address": "幸福路88号3栋1单元",
    }
    make_case(contact=contact)
    client = client_for(org.supervisor)  # a role that may read contacts on the case page
    _r, xlsx = download(client, XLSX)
    _r, text = download(client, CSV)
    for body in (all_text_of_xlsx(xlsx), text.decode("utf-8-sig")):
        for value in contact.values():
            assert value not in body
        assert "13912345678" not in body.replace("-", "").replace(" ", "")


@pytest.mark.django_db
def test_hostile_content_round_trips_safely(org, make_case):
    title = "<script>alert('x')</script>&amp;"
    content = '=HYPERLINK("http://evil.example","点我")\n\u202eexe.txt\u202c零\u200b宽\x07铃'
    case = make_case(title=title, content=content)
    client = client_for(org.supervisor)
    _r, xlsx = download(client, XLSX)
    row = next(r for r in xlsx_records(xlsx) if r["tracking_number"] == case.tracking_number)
    expected_content = "'" + content.replace("\x07", "")  # formula guarded, the bell (XML-forbidden) dropped
    assert (row["title"], row["content"]) == (title, expected_content)
    assert "<script>" not in all_text_of_xlsx(xlsx)  # escaped in the XML, never markup
    _r, text = download(client, CSV)
    row = next(r for r in csv_records(text) if r["tracking_number"] == case.tracking_number)
    assert (row["title"], row["content"]) == (title, expected_content)


# ---------------------------------------------------------------------------------------------- filters


@pytest.mark.django_db
def test_exports_hold_what_the_workbench_filters_show(org, make_case, case_in):
    submitted = make_case(title="井盖缺失", now=timezone.now())
    late = make_case(title="噪音扰民", now=timezone.now() - timedelta(days=30))
    assigned_a = case_in(S.ASSIGNED, title="电梯停运", now=timezone.now())
    assigned_b = case_in(S.ASSIGNED, department=org.dept_b, title="工资拖欠", now=timezone.now())
    client = client_for(org.supervisor)
    everything = {c.tracking_number for c in (submitted, late, assigned_a, assigned_b)}
    assert same_in_both(client) == everything
    assert same_in_both(client, {"status": "submitted"}) == {submitted.tracking_number, late.tracking_number}
    assert same_in_both(client, {"q": "井盖"}) == {submitted.tracking_number}
    assert same_in_both(client, {"q": assigned_b.tracking_number.lower()}) == {assigned_b.tracking_number}
    assert same_in_both(client, {"department": org.dept_b.pk}) == {assigned_b.tracking_number}
    assert same_in_both(client, {"overdue": "1"}) == {late.tracking_number}
    assert same_in_both(client, {"overdue": "0"}) == everything - {late.tracking_number}
    assert same_in_both(client, {"queue": "to_dispatch"}) == set()
    assert same_in_both(client, {"queue": "overdue"}) == {late.tracking_number}
    assert same_in_both(client, {"status": "", "q": "", "page": "7"}) == everything  # page is not a filter


@pytest.mark.django_db
def test_rows_come_newest_first(org, make_case):
    older = make_case(now=timezone.now() - timedelta(days=2))
    newer = make_case(now=timezone.now() - timedelta(days=1))
    rows = csv_records(download(client_for(org.supervisor), CSV)[1])
    assert [r["tracking_number"] for r in rows] == [newer.tracking_number, older.tracking_number]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [XLSX, CSV])
@pytest.mark.parametrize("params", [{"status": "nonsense"}, {"category": "abc"}, {"overdue": "2"}])
def test_an_invalid_filter_answers_400_with_the_workbench_and_no_file(org, make_case, url, params):
    make_case()
    response = client_for(org.supervisor).get(url, params)
    assert response.status_code == 400
    assert not response.streaming
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "筛选条件有误" in html
    assert 'id="case-list"' in html  # the workbench page, with the form and its errors


@pytest.mark.django_db
def test_an_xlsx_over_excels_row_limit_is_refused_and_csv_still_works(org, make_case, monkeypatch):
    for _ in range(3):
        make_case()
    monkeypatch.setattr(views, "EXCEL_MAX_ROWS", 3)
    client = client_for(org.supervisor)
    response = client.get(XLSX)
    assert response.status_code == 400
    assert "导出 CSV" in response.content.decode()
    assert len(csv_records(download(client, CSV)[1])) == 3


# ---------------------------------------------------------------------------------------------- visibility


@pytest.mark.django_db
def test_a_handler_exports_only_the_cases_of_their_department(org, make_case, case_in):
    mine = case_in(S.ASSIGNED, now=timezone.now())
    other = case_in(S.ASSIGNED, department=org.dept_b, now=timezone.now())
    unassigned = make_case()
    assert same_in_both(client_for(org.handler_a)) == {mine.tracking_number}
    assert same_in_both(client_for(org.handler_b)) == {other.tracking_number}
    assert same_in_both(client_for(org.handler_parent)) == {mine.tracking_number}  # sub-departments too
    # A filter never widens what the policy allows.
    assert same_in_both(client_for(org.handler_a), {"department": org.dept_b.pk}) == set()
    assert same_in_both(client_for(org.intake)) == {unassigned.tracking_number}
    everything = {mine.tracking_number, other.tracking_number, unassigned.tracking_number}
    assert same_in_both(client_for(org.leader)) == everything


@pytest.mark.django_db
@pytest.mark.parametrize("url", [XLSX, CSV])
def test_anonymous_visitors_go_to_login_and_non_staff_get_404(org, make_case, url):
    make_case(submitted_by=org.citizen)
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client_for(org.citizen).get(url).status_code == 404


@pytest.mark.django_db
def test_an_administrator_exports_only_when_also_holding_a_staff_role(org, make_case):
    from minyi.accounts.models import Role
    from minyi.cases.tests.factories import UserFactory, fresh, member

    make_case()
    root = UserFactory(username="t_root", is_staff=True, is_superuser=True)  # no membership at all
    for admin in (root, org.admin):
        assert policies.is_staff(fresh(admin))  # they do see the workbench...
        assert client_for(admin).get(CSV).status_code == 404  # ...but may not carry the cases away
        assert client_for(admin).get(XLSX).status_code == 404
        assert "导出 Excel" not in client_for(admin).get(WORKBENCH).content.decode()
    member(org.admin, org.centre, Role.SUPERVISOR)
    assert policies.can_export(fresh(org.admin))
    assert len(csv_records(download(client_for(org.admin), CSV)[1])) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("intake", True),
        ("dispatcher", True),
        ("handler_a", True),
        ("head_a", True),
        ("supervisor", True),
        ("leader", True),
        ("admin", False),
        ("citizen", False),
    ],
)
def test_can_export_by_role(org, role, allowed):
    assert policies.can_export(org.actor(getattr(org, role))) is allowed
    assert not policies.can_export(None)


# ---------------------------------------------------------------------------------------------- response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "content_type", "suffix"),
    [
        (XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        (CSV, "text/csv; charset=utf-8", "csv"),
    ],
)
def test_the_download_is_a_private_streamed_attachment(org, make_case, url, content_type, suffix):
    make_case()
    with time_machine.travel(datetime(2026, 12, 1, 15, 30, 42, tzinfo=SHANGHAI), tick=False):
        response, _body = download(client_for(org.supervisor), url)
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="minyi-cases-20261201-1530.{suffix}"'
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert not response.has_header("Content-Length")


@pytest.mark.django_db
def test_each_export_logs_one_line_without_personal_data(org, make_case, caplog):
    make_case()
    caplog.set_level(logging.INFO, logger="minyi.cases.views")
    download(client_for(org.supervisor), CSV, {"q": "13912345678 张三", "status": "submitted"})
    lines = [r.getMessage() for r in caplog.records if r.name == "minyi.cases.views"]
    assert len(lines) == 1
    assert f"user={org.supervisor.pk}" in lines[0] and "format=csv" in lines[0]
    assert "'status': 'submitted'" in lines[0] and "'q_chars': 14" in lines[0]
    assert "13912345678" not in lines[0] and "张三" not in lines[0]


@pytest.mark.django_db
def test_the_workbench_links_to_the_export_with_its_filters(org, make_case):
    make_case()
    client = client_for(org.supervisor)
    html = client.get(WORKBENCH, {"status": "submitted", "q": "井 盖", "page": "1"}).content.decode()
    links = re.findall(r'href="(/staff/export\.(?:xlsx|csv)[^"]*)"', html)
    assert links == [
        f"{XLSX}?status=submitted&amp;q=%E4%BA%95+%E7%9B%96",
        f"{CSV}?status=submitted&amp;q=%E4%BA%95+%E7%9B%96",
    ]
    assert "导出 Excel" in html and "导出 CSV" in html
    # The list that htmx swaps in carries the links too, with the new filters.
    partial = client.get(
        WORKBENCH, {"kind": "help"}, headers={"HX-Request": "true", "HX-Target": "case-list"}
    ).content.decode()
    assert "<html" not in partial
    assert f'href="{XLSX}?kind=help"' in partial and f'href="{CSV}?kind=help"' in partial
    plain = client.get(WORKBENCH).content.decode()
    assert f'href="{XLSX}"' in plain


# ---------------------------------------------------------------------------------------------- scale


def _bulk_cases(count: int, org) -> None:
    """`count` cases straight into the table (bulk_create: the history does not matter here)."""
    now = timezone.now()
    regions = [org.region, RegionFactory()]
    departments = [org.dept_a, org.dept_b, DepartmentFactory()]
    categories = [org.category, CategoryFactory()]
    start = Case.objects.count()
    last_pk = Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    cases = [
        Case(
            tracking_number=f"BULK{start + i:010d}",
            query_code_hash="x",
            title=f"批量诉求{i}",
            content="内容" * 20,
            status=S.ASSIGNED if i % 3 else S.SUBMITTED,
            category=categories[i % 2],
            region=regions[i % 2],
            department=departments[i % 3] if i % 3 else None,
            due_at=now + timedelta(days=(i % 5) - 2),
            created_at=now - timedelta(minutes=i),
        )
        for i in range(count)
    ]
    Case.objects.bulk_create(cases, batch_size=1000)
    created = list(Case.objects.filter(pk__gt=last_pk).order_by("pk"))
    Triage.objects.bulk_create(
        [
            Triage(
                case=c, category=categories[0], department=departments[1], risk_level="low", triaged_at=now
            )
            for c in created[::2]
        ],
        batch_size=1000,
    )
    Case.objects.filter(pk__in=[c.pk for c in created[1::7]]).update(duplicate_of=created[0])
    Case.objects.filter(pk__in=[c.pk for c in created[2::11]]).update(merged_into=created[0])


def _queries_for_download(client: Client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        body = b"".join(response.streaming_content)
    if url == CSV:
        rows = len(csv_records(body))
    else:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            rows = archive.read("xl/worksheets/sheet1.xml").count(b"<row ") - 1
    return len(ctx.captured_queries), rows


@pytest.mark.django_db
@pytest.mark.parametrize("url", [CSV, XLSX])
def test_queries_do_not_grow_with_the_rows(org, url, django_assert_max_num_queries):
    client = client_for(org.supervisor)
    client.get(WORKBENCH)  # the session and the user are loaded the same way in both downloads
    _bulk_cases(10, org)
    few, rows = _queries_for_download(client, url)
    assert rows == 10
    _bulk_cases(4_990, org)
    with django_assert_max_num_queries(few):
        many, rows = _queries_for_download(client, url)
    assert rows == 5_000
    assert many == few


@pytest.mark.django_db
def test_the_rows_read_every_column_in_the_one_query(org, django_assert_num_queries):
    _bulk_cases(30, org)
    header, rows = exports.case_export_rows(user=org.supervisor, filters=CaseFilters(), now=timezone.now())
    with django_assert_num_queries(1):  # cases, their relations and their triage: one query
        materialised = list(rows)
    assert len(materialised) == 30 and len(header) == len(COLUMNS)
    assert {len(r) for r in materialised} == {len(COLUMNS)}
