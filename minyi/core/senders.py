"""Text messages (SMS) to people, through a pluggable sender.

A sender is any class with ``send(self, *, to: str, text: str) -> None`` that raises on failure;
``settings.MINYI_SMS_BACKEND`` names it by dotted path (the console stand-in by default). Plug in a gateway by
writing such a class and pointing the setting at it.

Messages go through the outbox like e-mail (minyi.core.notify): ``notify_phone`` stores a Notification with the
SMS channel and sends it after commit; ``deliver_sms`` marks it sent, or records the error's type for an operator.
Personal data is never logged: a phone number appears in a log only masked (``mask_phone``: 138****1234).
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import IO

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from minyi.core.models import Notification
from minyi.core.tasks import enqueue

logger = logging.getLogger(__name__)


class SmsSender:
    """What every SMS backend provides (subclass it, or just provide `send`). The class is instantiated with no
    arguments for each message. ``send`` raises when the message could not be handed over to the gateway."""

    def send(self, *, to: str, text: str) -> None:
        raise NotImplementedError


def mask_phone(number: str) -> str:
    """The number with its middle hidden, for logs and screens: 13812341234 -> 138****1234.

    Only the digits count (full-width ones too): separators and a country code never reveal more than the three
    leading and four trailing digits of a mobile number, and any other number keeps only its last two.
    """
    digits = "".join(str(int(ch)) for ch in str(number or "") if ch.isdecimal())
    national = digits[-11:]
    if len(national) == 11 and national.startswith("1"):
        return f"{national[:3]}****{national[-4:]}"
    if len(digits) >= 6:
        return f"****{digits[-2:]}"
    return "****"


class ConsoleSMS(SmsSender):
    """The development stand-in: writes one line per message to stdout (like Django's console e-mail backend)
    with the number masked, so that a developer can follow the link; nothing goes out."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def send(self, *, to: str, text: str) -> None:
        line = " ".join(str(text).split())  # one line, whatever the text holds
        stream = self.stream or sys.stdout
        stream.write(f"[SMS] to={mask_phone(to)} text={line}\n")
        stream.flush()
        logger.info("sms handed to the console for %s (%d characters)", mask_phone(to), len(line))


@functools.cache
def _sender_class(path: str) -> type:
    return import_string(path)


def get_sms_sender() -> SmsSender:
    """An instance of the configured sender (settings.MINYI_SMS_BACKEND); the class is loaded once per path."""
    return _sender_class(settings.MINYI_SMS_BACKEND)()


def notify_phone(*, phone: str, text: str, subject: str, case_id: int | None = None, topic: str = "") -> None:
    """Queue a text message to a phone number (a citizen's, typically); it is sent after commit.

    The outbox row is the record (like an e-mail's); `subject` is its title for operators, not part of the SMS.
    """
    phone = (phone or "").strip()
    if not phone:
        return
    note = Notification.objects.create(
        address=phone[:254],
        channel=Notification.Channel.SMS,
        subject=subject[:200],
        body=text,
        case_id=case_id,
        topic=topic[:40],
    )
    enqueue("minyi.core.senders.deliver_sms", notification_id=note.pk)


def deliver_sms(*, notification_id: int) -> None:
    """Hand one queued SMS to the sender. Idempotent: a message already sent is not sent again."""
    note = Notification.objects.filter(
        pk=notification_id, channel=Notification.Channel.SMS, sent_at__isnull=True
    ).first()
    if note is None:
        return
    try:
        get_sms_sender().send(to=note.address, text=note.body)
    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried by an operator
        Notification.objects.filter(pk=note.pk).update(error=type(exc).__name__[:200])
        logger.warning("sms notification %s not delivered: %s", note.pk, type(exc).__name__)
        return
    Notification.objects.filter(pk=note.pk).update(sent_at=timezone.now(), error="")
