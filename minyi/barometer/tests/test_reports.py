"""Weekly and monthly reports: periods, the data from hand-made rollup/topic/alert rows, the PDF's text and
fonts, the workbook, masking, regeneration, the archive views and the command.

PDF rendering takes a second or two: the module renders two real PDFs (one shared report with data, rendered
once for the whole module and rolled back; one empty report through the command). The other tests stub the
renderers."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from io import StringIO
from urllib.parse import quote
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from minyi.barometer import reports
from minyi.barometer.models import Alert, DailyRollup, ReplyQuality, Report, Topic
from minyi.cases import policies as case_policies
from minyi.cases.models import Reply
from minyi.cases.tests.factories import (
    CategoryFactory,
    act,
    build_org,
    create_case,
    drive,
)
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.exceptions import ValidationFailed
from minyi.disclosure.models import Publication, Support
from minyi.intake.models import Triage

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W48"
START, END = date(2026, 11, 23), date(2026, 11, 29)  # Monday to Sunday
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=SHANGHAI)  # the Monday after: when the timer runs
PHONE = "13912345678"
CJK = re.compile(r"[\u4e00-\u9fff]")


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI)


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    """The extracted text without line breaks and spaces (a table cell may wrap)."""
    return re.sub(r"\s+", "", text)


def pdf_fonts(data: bytes) -> list[tuple[str, bool]]:
    """(base font name, embedded) of every font in the pages' resources."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            descendants = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for item in descendants:
                descriptor = item.get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor is not None else {}
                embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
                fonts.append((str(item["/BaseFont"]), embedded))
    return fonts


def xlsx_rows(data: bytes) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {
        sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets
    }


@pytest.fixture
def frozen(monkeypatch):
    """The clock at NOW (the command and the views ask minyi.core.clock)."""
    monkeypatch.setattr("minyi.core.clock.now", lambda: NOW)
    return NOW


def rollup(
    day: date, *, department=None, category=None, channel="web", kind="complaint", **counters
) -> DailyRollup:
    return DailyRollup.objects.create(
        day=day, department=department, category=category, channel=channel, kind=kind, **counters
    )


# ================================================================================================ the world


def make_world() -> dict:
    """A week of hand-made rows: rollups for W48 and W47, topics, alerts, notable cases, reply quality."""
    org = build_org()
    zjj, rsj = org.dept_a, org.dept_b
    property_, labour = org.category, CategoryFactory(name="劳动保障", code="labour")
    # this week: 30 + 12 + 8 received
    rollup(START, department=zjj, category=property_, received=30, assigned=28, responded_on_time=26,
           replied=20, replied_on_time=18, rated=10, satisfied=9, resolution_answered=10, resolved=7,
           overdue=2, high_risk=3)  # fmt: skip
    rollup(START + timedelta(days=2), department=rsj, category=labour, channel="phone", kind="help",
           received=12, assigned=12, responded_on_time=9, replied=10, replied_on_time=6, rated=5, satisfied=2,
           resolution_answered=4, resolved=1, overdue=4)  # fmt: skip
    rollup(END, category=None, channel="open311", received=8)  # not dispatched yet
    # last week: 40 received
    rollup(START - timedelta(days=3), department=zjj, category=property_, received=40, assigned=40,
           responded_on_time=30, replied=30, replied_on_time=30, rated=20, satisfied=16,
           resolution_answered=20, resolved=10)  # fmt: skip
    # out of both periods
    rollup(END + timedelta(days=1), department=zjj, received=999)
    rollup(START - timedelta(days=8), department=zjj, received=777)

    seen = at(START - timedelta(days=10))
    Topic.objects.create(label="电梯·停运·维修", keywords=["电梯", "停运", "维修", "物业"], size=14, people=11,
                         heat=72.5, rank=1, trend=Topic.Trend.RISING, first_seen_at=seen, last_seen_at=NOW,
                         department=zjj)  # fmt: skip
    Topic.objects.create(label="=HYPERLINK(\"http://x.example\")", keywords=["=cmd", "工资"], size=6,
                         heat=40.0, rank=2, trend=Topic.Trend.STEADY, first_seen_at=seen, last_seen_at=NOW)  # fmt: skip
    Topic.objects.create(label="已消退的热点", size=3, heat=90, rank=None, trend=Topic.Trend.GONE,
                         is_active=False, first_seen_at=seen, last_seen_at=seen)  # fmt: skip
    Topic.objects.create(label="下周才出现的热点", size=3, heat=95, rank=3, first_seen_at=at(END + timedelta(days=1)),
                         last_seen_at=NOW)  # fmt: skip

    def alert(label, level, created, **kw):
        return Alert.objects.create(label=label, level=level, source=Alert.Source.CATEGORY, key=label,
                                    fingerprint=label, start=created.date(), end=created.date(),
                                    created_at=created, updated_at=created, **kw)  # fmt: skip

    alert("物业管理诉求突增", Alert.Level.RED, at(START + timedelta(days=1)), count=31, department=zjj,
          state=Alert.State.CLOSED, acknowledged_at=at(START + timedelta(days=1), 14),
          closed_at=at(START + timedelta(days=3)), close_note=f"已约谈物业公司，联系人电话{PHONE}")  # fmt: skip
    alert("欠薪集中投诉", Alert.Level.ORANGE, at(START - timedelta(days=5)), count=16, state=Alert.State.ACKNOWLEDGED,
          acknowledged_at=at(START - timedelta(days=4)))  # fmt: skip
    alert("早已关闭的预警", Alert.Level.YELLOW, at(START - timedelta(days=20)), state=Alert.State.CLOSED,
          closed_at=at(START - timedelta(days=15)))  # fmt: skip

    # notable cases: a high-risk one whose title carries a phone number, a supported one, a reopened one and a
    # dissatisfied one; the clock of each is inside the week
    day = START + timedelta(days=1)
    with transaction.atomic():
        risky = create_case(now=at(day, 9), title=f"业主{PHONE}反映楼道堆放易燃物", category=property_)
    Triage.objects.create(case=risky, risk_score=85, risk_level=Triage.RiskLevel.HIGH, triaged_at=at(day, 9))
    with transaction.atomic():
        supported = create_case(now=at(day, 9), title=f"小区停车难 电话{PHONE}")
    public = Publication.objects.create(case=supported, title="小区停车难（已隐去个人信息）", content="……",
                                        kind="complaint", case_status="submitted", received_at=supported.created_at,
                                        support_count=9)  # fmt: skip
    for i in range(9):
        Support.objects.create(
            publication=public, voter=f"voter-{i}", created_at=at(day + timedelta(days=1), i)
        )
    with transaction.atomic():
        reopened = create_case(now=at(day, 9), title="路灯不亮反复报修")
    reopened, clock = drive(reopened, CaseStatus.REPLIED, org, now=at(day, 9))
    act(reopened, CaseAction.REOPEN, org.supervisor, note="答复不实，重办", now=clock + timedelta(hours=1))
    with transaction.atomic():
        unhappy = create_case(now=at(day, 9), title="噪音扰民未解决")
    unhappy, clock = drive(unhappy, CaseStatus.REPLIED, org, now=at(day, 9))
    act(unhappy, CaseAction.EVALUATE, case_policies.citizen_actor(case=unhappy),
        data={"rating": "dissatisfied", "reason": "没有解决"}, now=clock + timedelta(hours=1))  # fmt: skip
    reply = Reply.objects.filter(case=unhappy).first()
    ReplyQuality.objects.create(reply=reply, case=unhappy, department=zjj, score=55, computed_at=NOW)
    return {"org": org, "cases": [risky, supported, reopened, unhappy]}


@pytest.fixture(scope="module")
def shared(django_db_setup, django_db_blocker):
    """One report of week 48 with data, generated (and its PDF rendered) once for the module, then rolled back:
    the tests read the data and the files' bytes."""
    with django_db_blocker.unblock(), transaction.atomic():
        world = make_world()
        data = reports.build_report_data(reports.WEEKLY, START, END, now=NOW)
        report = reports.generate_report(reports.WEEKLY, START, now=NOW)
        with report.pdf.open("rb") as handle:
            pdf = handle.read()
        with report.xlsx.open("rb") as handle:
            xlsx = handle.read()
        out = {
            "data": data,
            "pdf": pdf,
            "text": pdf_text(pdf),
            "xlsx": xlsx,
            "sha256": report.pdf_sha256,
            "summary": report.summary,
            "tracking": [case.tracking_number for case in world["cases"]],
            "names": (world["org"].dept_a.name, world["org"].dept_b.name),
        }
        transaction.set_rollback(True)
    return out


# ================================================================================================ periods


@pytest.mark.parametrize(
    ("kind", "value", "today", "expected"),
    [
        ("weekly", "2026-W48", date(2026, 12, 1), (date(2026, 11, 23), date(2026, 11, 29))),
        ("weekly", "2026w48", date(2026, 12, 1), (date(2026, 11, 23), date(2026, 11, 29))),
        ("weekly", "２０２６-Ｗ４８", date(2026, 12, 1), (date(2026, 11, 23), date(2026, 11, 29))),
        # ISO week 1 of 2026 starts in 2025; week 53 of 2020 ends in 2021
        ("weekly", "2026-W01", date(2026, 3, 1), (date(2025, 12, 29), date(2026, 1, 4))),
        ("weekly", "2020-W53", date(2026, 3, 1), (date(2020, 12, 28), date(2021, 1, 3))),
        ("monthly", "2026-11", date(2026, 12, 1), (date(2026, 11, 1), date(2026, 11, 30))),
        ("monthly", "2024-2", date(2026, 12, 1), (date(2024, 2, 1), date(2024, 2, 29))),
        # the default: the last complete week (Thursday 1 January 2026 → the week of 22–28 December) / month
        ("weekly", None, date(2026, 1, 1), (date(2025, 12, 22), date(2025, 12, 28))),
        ("weekly", "", date(2026, 11, 30), (date(2026, 11, 23), date(2026, 11, 29))),
        ("monthly", None, date(2026, 1, 15), (date(2025, 12, 1), date(2025, 12, 31))),
        ("monthly", "  ", date(2026, 3, 1), (date(2026, 2, 1), date(2026, 2, 28))),
    ],
)
def test_report_period(kind, value, today, expected):
    assert reports.report_period(kind, value, today=today) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("weekly", "2021-W53"),  # 2021 has 52 ISO weeks
        ("weekly", "2026-W00"),
        ("weekly", "2026-W54"),
        ("weekly", "2026-11"),
        ("monthly", "2026-W48"),
        ("monthly", "2026-13"),
        ("monthly", "2026-00"),
        ("monthly", "1999-12"),  # before 2000
        ("weekly", "2099-W01"),  # not started yet
        ("monthly", "2026-12"),  # not started on 30 November
        ("weekly", "<script>alert(1)</script>"),
        ("weekly", "2026-W48' OR '1'='1"),
        ("weekly", "2026-\u202eW48"),
        ("weekly", "2026-W\u200b48"),
        ("monthly", "2026-11\x00"),
        ("monthly", "9" * 5000),
        ("weekly", "鍏".encode("gb18030").decode("latin-1")),
        ("weekly", 2026),
        ("daily", "2026-11"),
        ("", None),
        (None, None),
    ],
)
def test_bad_periods_are_refused_in_chinese(kind, value):
    with pytest.raises(ValidationFailed) as caught:
        reports.report_period(kind, value, today=date(2026, 11, 30))
    assert CJK.search(caught.value.message)
    assert caught.value.status_code == 400


def test_titles_and_keys():
    assert reports.report_title("weekly", START) == "民意周报（2026年第48周）"
    assert reports.report_title("monthly", date(2026, 11, 1)) == "民意月报（2026年11月）"
    assert reports.report_title("weekly", date(2025, 12, 29)) == "民意周报（2026年第1周）"  # the ISO year
    assert reports.period_key("weekly", date(2025, 12, 29)) == "2026-W01"
    assert reports.period_key("monthly", date(2026, 3, 1)) == "2026-03"
    assert reports.previous_period("weekly", START) == (date(2026, 11, 16), date(2026, 11, 22))
    assert reports.previous_period("monthly", date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))


# ================================================================================================ the data


def test_headline_figures_come_from_the_rollups(shared):
    data = shared["data"]
    figures, before = data["figures"], data["previous_figures"]
    assert data["title"] == "民意周报（2026年第48周）"
    assert not data["empty"]
    assert figures["received"] == 30 + 12 + 8 and before["received"] == 40
    assert figures["replied"] == 30 and before["replied"] == 30
    assert figures["on_time_rate"] == pytest.approx(24 / 30)
    assert figures["satisfaction_rate"] == pytest.approx(11 / 15)
    assert figures["response_rate"] == pytest.approx(35 / 40)
    assert figures["resolution_rate"] == pytest.approx(8 / 14)
    assert figures["overdue"] == 6
    headline = {row["key"]: row for row in data["headline"]}
    assert headline["received"]["text"] == "50"
    assert headline["received"]["change_text"] == "+10（+25.0%）"
    assert headline["replied"]["change_text"] == "持平"
    assert headline["on_time_rate"]["text"] == "80.0%"
    assert headline["on_time_rate"]["change_text"] == "-20.0 个百分点"
    assert headline["satisfaction_rate"]["text"] == "73.3%"
    assert [day["received"] for day in data["daily"]] == [30, 0, 12, 0, 0, 0, 8]
    assert {row["name"]: row["received"] for row in data["categories"]} == {
        "物业管理": 30,
        "劳动保障": 12,
        "未分类": 8,
    }
    assert {row["code"]: row["share_text"] for row in data["channels"]} == {
        "web": "60.0%",
        "phone": "24.0%",
        "open311": "16.0%",
    }
    assert shared["summary"]["figures"]["received"] == 50


def test_topics_alerts_departments_and_cases(shared):
    data = shared["data"]
    zjj, rsj = shared["names"]
    assert [t["label"] for t in data["topics"]] == ["电梯·停运·维修", '=HYPERLINK("http://x.example")']
    assert data["topics"][0]["keywords_text"] == "电梯、停运、维修、物业"
    assert data["topics"][0]["department"] == zjj and data["topics"][0]["trend_label"] == "上升"
    # raised in the week (closed in it), and open since before it; not the one closed long ago
    assert [a["label"] for a in data["alerts"]] == ["物业管理诉求突增", "欠薪集中投诉"]
    red = data["alerts"][0]
    assert red["state_label"] == "已关闭" and red["closed_text"] == "2026-11-26 10:00"
    assert red["acknowledged_text"] == "2026-11-24 14:00"
    assert "已约谈物业公司" in red["close_note"] and PHONE not in red["close_note"]
    assert data["alert_summary"] == {"total": 2, "raised": 1, "closed": 1, "red": 1, "orange": 0, "yellow": 0}
    # ranked by satisfaction first (9/10 against 2/5)
    assert [(d["rank"], d["name"], d["received"], d["overdue"]) for d in data["departments"]] == [
        (1, zjj, 30, 2),
        (2, rsj, 12, 4),
    ]
    assert data["departments"][0]["on_time_text"] == "90.0%"
    reasons = {c["tracking_number"]: c["reasons"] for c in data["cases"]}
    risky, supported, reopened, unhappy = shared["tracking"]
    assert reasons == {risky: ["高风险"], supported: ["附议多"], reopened: ["重办"], unhappy: ["不满意"]}
    titles = {c["tracking_number"]: c["title"] for c in data["cases"]}
    assert titles[supported] == "小区停车难（已隐去个人信息）"  # the public copy's masked title
    assert PHONE not in titles[risky] and "楼道堆放易燃物" in titles[risky]
    assert data["quality"] == [
        {"department": zjj, "replies": 1, "average": 55.0, "average_text": "55.0", "low": 1}
    ]


def test_empty_period_is_a_report_not_an_error(db):
    data = reports.build_report_data("weekly", START, END, now=NOW)
    assert data["empty"] and data["figures"]["received"] == 0
    assert all(row["text"] in ("0", "—") for row in data["headline"])
    html = reports.render_report_html(data)
    assert "本期暂无诉求" in html and "民意周报（2026年第48周）" in html
    rows = xlsx_rows(reports.render_report_xlsx(data))
    assert any(row and row[0] == "本期暂无诉求。" for row in rows["概况"])


def test_html_is_self_contained(shared, db):
    html = reports.render_report_html(shared["data"])
    assert "@font-face" in html and "Noto Sans SC" in html
    assert "<svg" in html and "<script" not in html
    assert not re.search(r"(src|href)=[\"']https?:", html)


# ================================================================================================ the PDF


def test_pdf_text_says_what_the_data_says(shared):
    data = shared["data"]
    text = shared["text"]
    joined = flat(text)
    assert shared["pdf"].startswith(b"%PDF-")
    # CJK extracted as written: the WeasyPrint glyph mix-up would turn 民意周报 into 民易周模
    assert data["title"] in text
    assert flat(data["period"]["label"]) in joined
    for row in data["headline"]:
        assert flat(row["label"]) in joined, row["label"]
        assert row["text"] in text and row["previous_text"] in text, row
        assert flat(row["change_text"]) in joined, row
    assert flat(data["topics"][0]["label"]) in joined
    assert flat(data["topics"][0]["keywords_text"]) in joined
    for alert in data["alerts"]:
        assert flat(alert["label"]) in joined
        assert flat(alert["state_label"]) in joined
    assert flat(data["alerts"][0]["close_note"]) in joined
    for department in data["departments"]:
        assert flat(department["name"]) in joined
    for case in data["cases"]:
        assert case["tracking_number"] in joined
    assert flat(data["cases"][0]["title"]) in joined
    # and nothing that was not meant to be there
    for absent in ("已消退的热点", "下周才出现的热点", "早已关闭的预警", "本期暂无诉求", "民易周模"):
        assert absent not in joined


def test_pdf_fonts_are_the_embedded_noto_sans_sc(shared):
    fonts = pdf_fonts(shared["pdf"])
    assert fonts
    for name, embedded in fonts:
        assert "NotoSansSC" in name.replace("-", ""), name
        assert embedded, name
    assert any("Bold" in name for name, _e in fonts)  # the 700 file for headings


def test_no_personal_data_reaches_the_files(shared):
    assert PHONE not in shared["text"]
    assert PHONE not in flat(shared["text"])
    for rows in xlsx_rows(shared["xlsx"]).values():
        for row in rows:
            for cell in row:
                assert PHONE not in str(cell or "")
    # the organisation's contact details are not in a report either
    assert "13800138000" not in flat(shared["text"])


# ================================================================================================ the workbook


def test_xlsx_sheets_and_rows(shared):
    data = shared["data"]
    sheets = xlsx_rows(shared["xlsx"])
    assert list(sheets) == ["概况", "热点", "预警", "部门排名", "典型诉求", "答复质量"]
    overview = sheets["概况"]
    assert overview[0][:2] == ("报告", data["title"])
    header = overview.index(("指标", "本期", "上期", "变化（件或百分点）"))
    assert overview[header + 1] == ("收到诉求（件）", 50, 40, 10)
    assert ("按时答复率（%）", 80.0, 100.0, -20.0) in overview
    assert ("满意率（%）", 73.3, 80.0, -6.7) in overview
    topics = sheets["热点"]
    assert topics[0] == ("排名", "热点", "关键词", "诉求数", "人数", "热度", "走势", "责任部门")
    assert topics[1][1] == "电梯·停运·维修" and topics[1][3] == 14
    assert topics[2][1] == '\'=HYPERLINK("http://x.example")'  # formulas neutralised
    assert topics[2][2].startswith("'=cmd") or not str(topics[2][2]).startswith("=")
    assert [row[2] for row in sheets["预警"][1:]] == [a["label"] for a in data["alerts"]]
    assert sheets["预警"][1][0] == "红色"
    assert [row[1] for row in sheets["部门排名"][1:]] == [d["name"] for d in data["departments"]]
    assert sheets["部门排名"][1][4] == 90.0
    assert [row[0] for row in sheets["典型诉求"][1:]] == [c["tracking_number"] for c in data["cases"]]
    assert sheets["答复质量"][1][1:] == (1, 55.0, 1)


# ================================================================================================ the archive


@pytest.fixture
def stub_renderers(monkeypatch):
    """Fast renderers: each call returns new bytes, so that a regeneration visibly replaces the files."""
    calls = {"n": 0}

    def pdf(data):
        calls["n"] += 1
        return f"%PDF-1.7 stub {calls['n']} {data['key']}".encode()

    monkeypatch.setattr(reports, "render_report_pdf", pdf)
    monkeypatch.setattr(reports, "render_report_xlsx", lambda data: b"PK stub " + data["key"].encode())
    return calls


def read(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


def test_regenerate_replaces_the_files(db, stub_renderers, django_capture_on_commit_callbacks):
    rollup(START, received=3)
    with django_capture_on_commit_callbacks(execute=True):
        first = reports.generate_report("weekly", START, now=NOW)
    old_pdf, old_xlsx = first.pdf.name, first.xlsx.name
    assert read(first.pdf).startswith(b"%PDF-1.7 stub 1 2026-W48")
    assert first.summary["figures"]["received"] == 3 and first.generated_by is None
    rollup(START, received=4)
    with django_capture_on_commit_callbacks(execute=True):
        second = reports.generate_report("weekly", START, now=NOW + timedelta(hours=1))
    assert second.pk == first.pk and Report.objects.count() == 1
    second.refresh_from_db()
    assert read(second.pdf).startswith(b"%PDF-1.7 stub 2")
    assert second.summary["figures"]["received"] == 7
    assert second.pdf.name != old_pdf and second.pdf.name.startswith("reports/")
    assert not default_storage.exists(old_pdf) and not default_storage.exists(old_xlsx)
    assert default_storage.exists(second.pdf.name) and default_storage.exists(second.xlsx.name)
    import hashlib

    assert second.pdf_sha256 == hashlib.sha256(read(second.pdf)).hexdigest()


def test_a_failed_regeneration_keeps_the_previous_report(db, stub_renderers, monkeypatch):
    report = reports.generate_report("monthly", date(2026, 10, 1), now=NOW)
    before = (report.pdf.name, report.pdf_sha256)

    def broken(data):
        raise OSError("disk full")

    monkeypatch.setattr(reports, "render_report_xlsx", broken)
    with pytest.raises(OSError):
        reports.generate_report("monthly", date(2026, 10, 1), now=NOW)
    report.refresh_from_db()
    assert (report.pdf.name, report.pdf_sha256) == before and default_storage.exists(report.pdf.name)


def test_a_failed_swap_removes_the_new_files(db, stub_renderers, monkeypatch):
    report = reports.generate_report("weekly", START, now=NOW)
    _dirs, before = default_storage.listdir("reports")

    def broken(data):
        raise RuntimeError("the row could not be written")

    monkeypatch.setattr(
        reports, "report_summary", broken
    )  # inside the transaction, after the files are stored
    with pytest.raises(RuntimeError):
        reports.generate_report("weekly", START, now=NOW)
    assert default_storage.listdir("reports")[1] == before
    report.refresh_from_db()
    assert read(report.pdf).startswith(b"%PDF-1.7 stub 1")


def test_generate_refuses_a_misaligned_start(db, stub_renderers):
    with pytest.raises(ValidationFailed):
        reports.generate_report("weekly", date(2026, 11, 24))
    with pytest.raises(ValidationFailed):
        reports.generate_report("monthly", date(2026, 11, 2))
    with pytest.raises(ValidationFailed):
        reports.generate_report("yearly")
    assert not Report.objects.exists()


def test_default_is_the_last_complete_period(db, stub_renderers, frozen):
    weekly = reports.generate_report("weekly", now=NOW)
    monthly = reports.generate_report("monthly", now=NOW)
    assert (weekly.period_start, weekly.period_end) == (START, END)
    assert (monthly.period_start, monthly.period_end) == (date(2026, 10, 1), date(2026, 10, 31))
    assert reports.scheduled_report(kind="weekly") == weekly.pk


# ================================================================================================ views


@pytest.fixture
def archived(db, stub_renderers):
    return reports.generate_report("weekly", START, now=NOW)


def test_the_list_and_downloads_for_a_leader(client, org, archived):
    client.force_login(org.leader)
    page = client.get(reverse("barometer:reports"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "民意周报（2026年第48周）" in html and reverse("barometer:report_generate") in html
    assert "style=" not in html and "<style" not in html
    url = reverse("barometer:report_download", args=[archived.pk, "pdf"])
    assert url == f"/staff/barometer/reports/{archived.pk}.pdf"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="minyi-weekly-2026-W48.pdf"' in disposition
    assert "filename*=UTF-8''" + quote("民意周报（2026年第48周）.pdf") in disposition
    assert b"".join(response.streaming_content).startswith(b"%PDF-1.7 stub")
    xlsx = client.get(reverse("barometer:report_download", args=[archived.pk, "xlsx"]))
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx["Content-Type"]


def test_a_department_head_sees_no_reports(client, org, archived):
    client.force_login(org.head_a)
    assert client.get(reverse("barometer:reports")).status_code == 403
    for fmt in ("pdf", "xlsx"):
        assert client.get(reverse("barometer:report_download", args=[archived.pk, fmt])).status_code == 404
    response = client.post(reverse("barometer:report_generate"), {"kind": "weekly", "period": WEEK})
    assert response.status_code == 403 and Report.objects.count() == 1


def test_who_may_generate(client, org, stub_renderers, frozen):
    url = reverse("barometer:report_generate")
    client.force_login(org.dispatcher)  # reads the archive, may not generate
    page = client.get(reverse("barometer:reports"))
    assert page.status_code == 200 and url not in page.content.decode()
    assert client.post(url, {"kind": "weekly", "period": WEEK}).status_code == 403
    client.force_login(org.intake)  # no barometer at all
    assert client.get(reverse("barometer:reports")).status_code == 403
    client.force_login(org.citizen)  # not staff: the staff area does not exist
    assert client.get(reverse("barometer:reports")).status_code == 404
    client.logout()
    assert client.get(reverse("barometer:reports")).status_code == 302
    assert client.post(url, {"kind": "weekly"}).status_code == 302
    assert not Report.objects.exists()
    client.force_login(org.supervisor)
    response = client.post(url, {"kind": "weekly", "period": "2026-W09"})
    assert response.status_code == 302 and response["Location"] == reverse("barometer:reports")
    report = Report.objects.get()
    assert report.period_start == date(2026, 2, 23) and report.generated_by == org.supervisor
    page = client.get(reverse("barometer:reports"))
    assert "已生成民意周报（2026年第9周）" in page.content.decode()
    assert client.get(url).status_code == 405


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "weekly", "period": "<script>alert(1)</script>"},
        {"kind": "weekly", "period": "2026-W48' OR 1=1 --"},
        {"kind": "weekly", "period": "2026-\u202eW48"},
        {"kind": "weekly", "period": "2026\u200b-W48"},
        {"kind": "weekly", "period": "2026-W48\x00"},
        {"kind": "weekly", "period": "9" * 10_000},
        {"kind": "monthly", "period": "2026-W48"},
        {"kind": "weekly", "period": "2099-W01"},
        {"kind": "<b>weekly</b>", "period": ""},
        {"period": WEEK},
    ],
)
def test_hostile_generate_input_is_a_400(client, org, stub_renderers, frozen, fields):
    client.force_login(org.leader)
    response = client.post(reverse("barometer:report_generate"), fields)
    assert response.status_code == 400
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html and "<b>weekly</b>" not in html
    assert "field-error" in html
    assert not Report.objects.exists()


def test_gb18030_bytes_are_a_400(client, org, stub_renderers):
    client.force_login(org.leader)
    body = b"kind=weekly&period=" + "二〇二六年第四十八周".encode("gb18030")
    response = client.post(
        reverse("barometer:report_generate"), body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400 and not Report.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/staff/barometer/reports/{id}.exe",
        "/staff/barometer/reports/{id}.pdf.exe",
        "/staff/barometer/reports/{id}.PDF",
        "/staff/barometer/reports/999999.pdf",
        "/staff/barometer/reports/0.pdf",
        "/staff/barometer/reports/99999999999999999999999.pdf",
        "/staff/barometer/reports/-1.pdf",
        "/staff/barometer/reports/{id}.%3Cscript%3E",
    ],
)
def test_hostile_download_paths_are_a_404(client, org, archived, path):
    client.force_login(org.leader)
    assert client.get(path.format(id=archived.pk)).status_code == 404


def test_a_missing_file_is_a_404(client, org, archived):
    default_storage.delete(archived.pdf.name)
    client.force_login(org.leader)
    assert client.get(reverse("barometer:report_download", args=[archived.pk, "pdf"])).status_code == 404


def test_list_ignores_hostile_filters(client, org, archived):
    client.force_login(org.leader)
    for query in (
        "?kind=<script>",
        "?page=-1",
        "?page=abc",
        "?page=99999999999999999999",
        "?kind=weekly&page=2",
    ):
        response = client.get(reverse("barometer:reports") + query)
        assert response.status_code == 200, query
        assert "<script>" not in response.content.decode()


# ================================================================================================ command


def test_the_command_generates_an_empty_month(db, frozen):
    out, err = StringIO(), StringIO()
    call_command("barometer_report", "--kind", "monthly", "--period", "2026-10", stdout=out, stderr=err)
    report = Report.objects.get()
    assert (report.kind, report.period_start, report.period_end) == (
        "monthly",
        date(2026, 10, 1),
        date(2026, 10, 31),
    )
    assert "已生成民意月报（2026年10月）" in out.getvalue()
    text = pdf_text(read(report.pdf))
    assert "民意月报（2026年10月）" in text and "本期暂无诉求" in text
    assert report.summary["empty"] is True
    assert set(xlsx_rows(read(report.xlsx))) == {"概况", "热点", "预警", "部门排名", "典型诉求"}


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--kind", "daily"],
        ["--kind", "weekly", "--period", "2026-13"],
        ["--kind", "monthly", "--period", "2026-W48"],
        ["--kind", "weekly", "--period", "2099-W01"],
        ["--kind", "weekly", "--period", "<script>"],
    ],
)
def test_the_command_refuses_bad_input_with_exit_code_2(db, frozen, args):
    with pytest.raises(CommandError) as caught:
        call_command("barometer_report", *args, stdout=StringIO(), stderr=StringIO())
    assert caught.value.returncode == 2
    assert CJK.search(str(caught.value))
    assert not Report.objects.exists()


def test_the_command_defaults_to_the_last_complete_week(db, stub_renderers, frozen):
    out = StringIO()
    call_command("barometer_report", "--kind", "weekly", stdout=out, stderr=StringIO())
    assert Report.objects.get().period_start == START
    assert "已生成民意周报（2026年第48周）（2026-11-23 至 2026-11-29）" in out.getvalue()
