"""submission_ingest and case_get_for_citizen: every bad input is refused and nothing is stored."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from minyi.accounts.models import Region
from minyi.cases.models import Attachment, Case, CaseContact, CaseEvent
from minyi.core.exceptions import NotFound, ValidationFailed
from minyi.intake import services
from minyi.intake.models import TrackingSequence
from minyi.intake.services import Upload, case_get_for_citizen, submission_ingest
from minyi.routing.models import Category

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=SH)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 64
pytestmark = pytest.mark.django_db


def valid(**overrides) -> dict:
    data = {
        "kind": "complaint",
        "title": "小区电梯故障",
        "content": "3号楼电梯停运两周，老人上下楼困难。",
        "contact_name": "王五",
        "contact_phone": "138-0013-8000",
        "contact_email": "wangwu@example.cn",
    }
    data.update(overrides)
    return data


def stored_counts() -> tuple[int, ...]:
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        CaseContact.objects.count(),
        Attachment.objects.count(),
        sum(TrackingSequence.objects.values_list("last", flat=True)),
    )


def refused(data: dict, *, files=None, channel="web", field: str | None = None) -> ValidationFailed:
    before = stored_counts()
    with pytest.raises(ValidationFailed) as info:
        submission_ingest(channel=channel, data=data, files=files or [], now=NOW)
    assert stored_counts() == before, "a refused submission left something behind"
    assert info.value.status_code == 400
    assert str(info.value).strip()
    if field:
        assert field in info.value.fields, info.value.fields
    return info.value


# ---------------------------------------------------------------------------------------------- accepted input


def test_a_valid_submission_is_stored():
    receipt = submission_ingest(channel="web", data=valid(), files=[Upload("现场.png", PNG)], now=NOW)
    case = Case.objects.get(pk=receipt.case.pk)
    assert case.status == "submitted" and case.channel == "web" and case.kind == "complaint"
    assert case.title == "小区电梯故障"
    assert case.contact.phone == "138-0013-8000" and case.contact.name == "王五"
    attachment = Attachment.objects.get(case=case)
    assert (attachment.original_name, attachment.content_type, attachment.size) == (
        "现场.png",
        "image/png",
        len(PNG),
    )
    assert CaseEvent.objects.get(case=case).action == "submit"


def test_markup_and_sql_are_stored_as_written():
    content = "<script>alert('x')</script> ' OR 1=1; DROP TABLE cases_case; -- <b>加粗</b> &amp;"
    receipt = submission_ingest(channel="web", data=valid(title="<i>标题</i>", content=content), now=NOW)
    case = Case.objects.get(pk=receipt.case.pk)
    assert case.content == content
    assert case.title == "<i>标题</i>"
    assert Case.objects.count() == 1


def test_invisible_characters_are_stripped_from_the_title():
    title = "\u202e电梯\u200b故障\u200d\ufeff\x07 已\u2066两周\u2069"
    receipt = submission_ingest(channel="web", data=valid(title=title), now=NOW)
    assert receipt.case.title == "电梯故障 已两周"


def test_title_whitespace_is_collapsed():
    receipt = submission_ingest(channel="web", data=valid(title="  电梯   故障\n\t两周 "), now=NOW)
    assert receipt.case.title == "电梯 故障 两周"


def test_nul_is_removed_from_content():
    receipt = submission_ingest(channel="web", data=valid(content="电梯\x00故障"), now=NOW)
    assert Case.objects.get(pk=receipt.case.pk).content == "电梯故障"


def test_content_at_the_limit_is_accepted(settings):
    text = "字" * settings.MINYI_MAX_CONTENT_CHARS
    receipt = submission_ingest(channel="web", data=valid(content=text), now=NOW)
    assert len(Case.objects.get(pk=receipt.case.pk).content) == settings.MINYI_MAX_CONTENT_CHARS


def test_anonymous_submission_keeps_no_contact():
    receipt = submission_ingest(channel="web", data=valid(is_anonymous="on"), now=NOW)
    assert receipt.case.is_anonymous
    assert not CaseContact.objects.filter(case=receipt.case).exists()


def test_category_and_region_by_code_or_id():
    category = Category.objects.create(name="物业管理", code="property")
    region = Region.objects.create(name="江北区", code="jb")
    by_code = submission_ingest(channel="web", data=valid(category="property", region="jb"), now=NOW).case
    by_id = submission_ingest(
        channel="web", data=valid(category=str(category.pk), region=region.pk), now=NOW
    ).case
    assert by_code.category == by_id.category == category
    assert by_code.region == by_id.region == region


def test_staff_logged_submission_records_the_officer():
    from minyi.cases.tests.factories import UserFactory

    officer = UserFactory(username="intake1")
    receipt = submission_ingest(channel="phone", data=valid(), logged_by=officer, now=NOW)
    assert receipt.case.logged_by == officer
    assert CaseEvent.objects.get(case=receipt.case).actor_role == "staff"


# ---------------------------------------------------------------------------------------------- refused input


@pytest.mark.parametrize("title", ["", "   ", "\u200b\u200d", "\t\n"])
def test_empty_title(title):
    refused(valid(title=title), field="title")


@pytest.mark.parametrize("content", ["", "    ", "\u200b\ufeff", "\n\n\t"])
def test_empty_content(content):
    refused(valid(content=content), field="content")


def test_missing_title_and_content():
    error = refused({"kind": "complaint"})
    assert {"title", "content"} <= set(error.fields)


def test_content_over_the_limit(settings):
    refused(valid(content="字" * (settings.MINYI_MAX_CONTENT_CHARS + 1)), field="content")


def test_title_over_the_limit(settings):
    refused(valid(title="题" * (settings.MINYI_MAX_TITLE_CHARS + 1)), field="title")


@pytest.mark.parametrize("field", ["title", "content", "contact_name", "address"])
def test_decoding_damage_is_refused(field):
    damaged = "电梯".encode("gb18030").decode("utf-8", errors="replace")  # what a GB18030 body becomes
    assert "\ufffd" in damaged
    refused(valid(**{field: f"正常{damaged}"}), field=field)


def test_big5_bytes_are_refused():
    damaged = "電梯故障".encode("big5").decode("utf-8", errors="replace")
    refused(valid(content=damaged), field="content")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "lawsuit"),
        ("priority", "critical"),
        ("category", "no-such-category"),
        ("category", "999999"),
        ("region", "atlantis"),
        ("contact_phone", "call me maybe"),
        ("contact_phone", "1" * 40),
        ("contact_email", "not-an-email"),
        ("contact_name", "名" * 65),
        ("address", "路" * 256),
        ("latitude", "north"),
        ("latitude", "91"),
        ("longitude", "-181"),
        ("longitude", "NaN"),
        ("latitude", "Infinity"),
    ],
)
def test_bad_fields(field, value):
    refused(valid(**{field: value}), field=field)


def test_inactive_category_is_refused():
    Category.objects.create(name="旧分类", code="old", is_active=False)
    refused(valid(category="old"), field="category")


def test_unknown_channel():
    refused(valid(), channel="pigeon", field="channel")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("virus.exe", b"MZ\x90\x00", "类型"),
        ("noextension", PNG, "类型"),
        ("page.html", b"<html></html>", "类型"),
        ("photo.png", JPEG, "内容"),  # named .png, really a JPEG
        ("doc.pdf", b"<script>alert(1)</script>", "内容"),
        ("photo.jpg", b"", "内容"),
    ],
)
def test_bad_attachments(name, content, reason):
    error = refused(valid(), files=[Upload(name, content)], field="attachments")
    assert reason in str(error.fields["attachments"])


def test_oversized_attachment(settings):
    settings.MINYI_ATTACHMENT_MAX_BYTES = 1024
    refused(valid(), files=[Upload("big.png", PNG + b"\x00" * 1024)], field="attachments")


def test_too_many_attachments(settings):
    files = [Upload(f"p{i}.png", PNG) for i in range(settings.MINYI_ATTACHMENT_MAX_COUNT + 1)]
    refused(valid(), files=files, field="attachments")


def test_one_bad_attachment_among_good_ones_stores_nothing():
    refused(
        valid(), files=[Upload("a.png", PNG), Upload("b.pdf", PDF), Upload("c.gif", PNG)], field="attachments"
    )


def test_failure_while_storing_rolls_everything_back(monkeypatch):
    """If storing the second attachment fails, the case, its event and the first attachment are gone too."""
    original = Attachment.save
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Attachment, "save", flaky)
    before = stored_counts()
    with pytest.raises(OSError):
        submission_ingest(
            channel="web", data=valid(), files=[Upload("a.png", PNG), Upload("b.jpg", JPEG)], now=NOW
        )
    assert stored_counts() == before


def test_attachment_name_is_cleaned():
    receipt = submission_ingest(
        channel="web", data=valid(), files=[Upload("../../etc/\u202epasswd\u200b.png", PNG)], now=NOW
    )
    attachment = Attachment.objects.get(case=receipt.case)
    assert attachment.original_name == "passwd.png"
    assert ".." not in attachment.file.name


# ---------------------------------------------------------------------------------------------- receipts


def test_tracking_number_format_and_daily_sequence(settings):
    settings.MINYI_TRACKING_PREFIX = "MY"
    numbers = [submission_ingest(channel="web", data=valid(), now=NOW).tracking_number for _ in range(3)]
    assert numbers == ["MY2026030200001", "MY2026030200002", "MY2026030200003"]
    tomorrow = submission_ingest(channel="web", data=valid(), now=NOW + timedelta(days=1)).tracking_number
    assert tomorrow == "MY2026030300001"
    for number in [*numbers, tomorrow]:
        assert re.fullmatch(r"MY\d{8}\d{5}", number)


def test_tracking_number_uses_the_local_date():
    late_utc = datetime(2026, 3, 2, 17, 30, tzinfo=ZoneInfo("UTC"))  # 01:30 on 3 March in Shanghai
    assert submission_ingest(channel="web", data=valid(), now=late_utc).tracking_number.startswith(
        "MY20260303"
    )


def test_refused_submission_does_not_use_a_number():
    first = submission_ingest(channel="web", data=valid(), now=NOW).tracking_number
    refused(valid(title=""))
    second = submission_ingest(channel="web", data=valid(), now=NOW).tracking_number
    assert int(second[-5:]) == int(first[-5:]) + 1


def test_query_code_is_stored_hashed_and_verifies():
    receipt = submission_ingest(channel="web", data=valid(), now=NOW)
    assert len(receipt.query_code) == 12
    case = Case.objects.get(pk=receipt.case.pk)
    assert receipt.query_code not in case.query_code_hash
    assert case.query_code_hash.startswith("sha256$")
    assert (
        case_get_for_citizen(tracking_number=receipt.tracking_number, query_code=receipt.query_code) == case
    )
    # forgiving about case and spacing of both
    assert (
        case_get_for_citizen(
            tracking_number=f" {receipt.tracking_number.lower()} ", query_code=receipt.query_code.lower()
        )
        == case
    )


@pytest.mark.parametrize("wrong", ["", "AAAAAAAAAAAA", "x" * 500, "' OR 1=1 --", None])
def test_citizen_lookup_with_a_wrong_code_is_404(wrong):
    receipt = submission_ingest(channel="web", data=valid(), now=NOW)
    with pytest.raises(NotFound):
        case_get_for_citizen(tracking_number=receipt.tracking_number, query_code=wrong)


@pytest.mark.parametrize("number", ["MY2099010100001", "", "x" * 1000, "\u202eMY", None])
def test_citizen_lookup_of_an_unknown_number_is_404(number):
    receipt = submission_ingest(channel="web", data=valid(), now=NOW)
    with pytest.raises(NotFound) as info:
        case_get_for_citizen(tracking_number=number, query_code=receipt.query_code)
    assert info.value.status_code == 404


def test_the_same_message_for_unknown_number_and_wrong_code():
    receipt = submission_ingest(channel="web", data=valid(), now=NOW)
    with pytest.raises(NotFound) as wrong_code:
        case_get_for_citizen(tracking_number=receipt.tracking_number, query_code="AAAAAAAAAAAA")
    with pytest.raises(NotFound) as unknown:
        case_get_for_citizen(tracking_number="MY2099010100001", query_code=receipt.query_code)
    assert str(wrong_code.value) == str(unknown.value)


def test_validate_submission_is_usable_alone():
    clean = services.validate_submission(valid(kind="petition", priority="urgent"))
    assert clean["kind"] == "petition" and clean["priority"] == "urgent"
    assert clean["contact"]["email"] == "wangwu@example.cn"


@pytest.mark.django_db
def test_expired_idempotency_records_are_purged_even_without_the_cron_job(monkeypatch):
    # given: another key's record, 25 hours old, that still holds a query code
    from datetime import timedelta

    from django.utils import timezone

    from minyi.intake import idempotency
    from minyi.intake.models import IdempotencyRecord

    old = timezone.now() - timedelta(hours=25)
    IdempotencyRecord.objects.create(
        key="old-key",
        fingerprint="x",
        response_status=201,
        response_body={"query_code": "ABCDEFGHJKMN"},
        created_at=old,
        expires_at=old + timedelta(hours=24),
    )
    monkeypatch.setattr(idempotency, "_last_purge", -1e9)
    # when: any idempotent submission comes in
    status, _body, replayed = idempotency.run_idempotent(
        key="new-key", payload={"a": 1}, produce=lambda: (201, {"ok": True}, None)
    )
    # then: the stale record and its code are gone, the new one is kept
    assert (status, replayed) == (201, False)
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new-key"]


# ---------------------------------------------------------------------------------------------- publication consent


@pytest.mark.parametrize(
    ("extra", "consent"),
    [
        ({}, True),
        ({"publication_consent": True}, True),
        ({"publication_consent": False}, False),
        ({"publication_consent": "false"}, False),
        ({"publication_consent": "不公开"}, False),
        ({"publication_consent": "1"}, True),
        ({"publication_consent": ""}, True),
        ({"no_publication": True}, False),
        ({"no_publication": "on"}, False),
        ({"no_publication": False}, True),
        ({"publication_consent": True, "no_publication": True}, False),
    ],
)
def test_publication_consent(extra, consent):
    receipt = submission_ingest(channel="web", data=valid(**extra), now=NOW)
    assert Case.objects.get(pk=receipt.case.pk).publication_consent is consent


@pytest.mark.parametrize("value", ["maybe", "<script>", "\u202eyes"])
def test_a_bad_publication_consent_is_refused(value):
    refused(valid(publication_consent=value), field="publication_consent")
