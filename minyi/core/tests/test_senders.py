"""The pluggable SMS sender: the console stand-in masks the number, the configured class is loaded by dotted
path, and messages go through the outbox after commit, never with the number in a log."""

from __future__ import annotations

import io
import logging

import pytest

from minyi.core import senders
from minyi.core.models import Notification
from minyi.core.senders import ConsoleSMS, SmsSender, deliver_sms, get_sms_sender, mask_phone, notify_phone

PHONE = "13912345678"


class FakeSMS(SmsSender):
    """A test gateway: keeps what it was asked to send."""

    sent: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        FakeSMS.sent.append((to, text))


class BrokenSMS(SmsSender):
    def send(self, *, to: str, text: str) -> None:
        raise ConnectionError(f"gateway refused {to}")  # a careless gateway puts the number in its error


@pytest.fixture
def fake_sms(settings):
    settings.MINYI_SMS_BACKEND = "minyi.core.tests.test_senders.FakeSMS"
    FakeSMS.sent = []
    return FakeSMS.sent


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("13912345678", "139****5678"),
        ("+86 139-1234-5678", "139****5678"),
        ("008613912345678", "139****5678"),
        ("010-87654321", "****21"),
        ("(0571) 8765 4321", "****21"),
        ("12345", "****"),
        ("", "****"),
        ("１３９１２３４５６７８", "139****5678"),  # full-width digits count as digits
    ],
)
def test_mask_phone_keeps_at_most_three_leading_and_four_trailing_digits(number, masked):
    assert mask_phone(number) == masked


def test_the_console_sender_writes_one_line_with_the_number_masked(caplog):
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    ConsoleSMS(stream=stream).send(
        to=PHONE, text="您的诉求已答复，\n请评价：https://example.cn/feedback/abc/"
    )
    output = stream.getvalue()
    assert output == "[SMS] to=139****5678 text=您的诉求已答复， 请评价：https://example.cn/feedback/abc/\n"
    assert PHONE not in output
    assert caplog.records, "the console sender leaves a log record"
    for record in caplog.records:
        assert PHONE not in record.getMessage()
        assert "feedback/abc" not in record.getMessage()  # the link (a credential) is not logged either


def test_the_console_sender_prints_to_stdout_by_default(capsys):
    ConsoleSMS().send(to=PHONE, text="测试")
    out = capsys.readouterr().out
    assert "139****5678" in out and "测试" in out and PHONE not in out


def test_the_base_class_does_not_pretend_to_send():
    with pytest.raises(NotImplementedError):
        SmsSender().send(to=PHONE, text="x")


def test_get_sms_sender_loads_the_configured_class_once(settings, monkeypatch):
    loads = []
    real_import = senders.import_string

    def counting_import(path):
        loads.append(path)
        return real_import(path)

    monkeypatch.setattr(senders, "import_string", counting_import)
    senders._sender_class.cache_clear()
    settings.MINYI_SMS_BACKEND = "minyi.core.tests.test_senders.FakeSMS"
    assert isinstance(get_sms_sender(), FakeSMS)
    assert isinstance(get_sms_sender(), FakeSMS)
    assert loads == ["minyi.core.tests.test_senders.FakeSMS"]
    settings.MINYI_SMS_BACKEND = "minyi.core.senders.ConsoleSMS"
    assert isinstance(get_sms_sender(), ConsoleSMS)
    assert loads == ["minyi.core.tests.test_senders.FakeSMS", "minyi.core.senders.ConsoleSMS"]
    senders._sender_class.cache_clear()


def test_a_misconfigured_backend_fails_loudly(settings):
    settings.MINYI_SMS_BACKEND = "minyi.core.senders.NoSuchSender"
    with pytest.raises(ImportError):
        get_sms_sender()


@pytest.mark.django_db
def test_notify_phone_records_the_message_and_sends_it_after_commit(
    fake_sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify_phone(phone=f" {PHONE} ", text="请评价", subject="回访", case_id=7, topic="feedback")
    note = Notification.objects.get()
    assert (note.channel, note.address, note.body, note.case_id, note.topic) == (
        Notification.Channel.SMS,
        PHONE,
        "请评价",
        7,
        "feedback",
    )
    assert fake_sms == [] and note.sent_at is None  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert fake_sms == [(PHONE, "请评价")]
    note.refresh_from_db()
    assert note.sent_at is not None and note.error == ""
    deliver_sms(notification_id=note.pk)  # idempotent: a sent message is not sent again
    assert len(fake_sms) == 1


@pytest.mark.django_db
def test_notify_phone_without_a_number_does_nothing(fake_sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify_phone(phone="  ", text="x", subject="x")
    assert not Notification.objects.exists() and fake_sms == []


@pytest.mark.django_db
def test_a_failed_delivery_is_recorded_and_logged_without_the_number(
    settings, caplog, django_capture_on_commit_callbacks
):
    settings.MINYI_SMS_BACKEND = "minyi.core.tests.test_senders.BrokenSMS"
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        notify_phone(phone=PHONE, text="请评价", subject="回访")
    note = Notification.objects.get()
    assert note.sent_at is None and note.error == "ConnectionError"
    assert any("not delivered" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert PHONE not in record.getMessage()
        assert PHONE not in str(record.args)
        assert record.exc_info is None or PHONE not in str(record.exc_info[1])
