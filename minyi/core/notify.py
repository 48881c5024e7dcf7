"""Notifications: rows in the outbox, e-mail sent after commit through Django's mail backend."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from minyi.core.models import Notification
from minyi.core.tasks import enqueue

logger = logging.getLogger(__name__)


def notify_users(
    *, users: Iterable, subject: str, body: str = "", case_id: int | None = None, topic: str = ""
) -> int:
    """In-app notification for each staff user, plus e-mail to those with an address. Returns the count."""
    count = 0
    for user in users:
        Notification.objects.create(
            recipient=user,
            channel=Notification.Channel.INAPP,
            subject=subject,
            body=body,
            case_id=case_id,
            topic=topic,
        )
        if user.email:
            notify_address(address=user.email, subject=subject, body=body, case_id=case_id, topic=topic)
        count += 1
    return count


def notify_address(
    *, address: str, subject: str, body: str, case_id: int | None = None, topic: str = ""
) -> None:
    """Queue an e-mail to an address (a citizen's, typically); it is sent after commit."""
    if not address:
        return
    note = Notification.objects.create(
        address=address,
        channel=Notification.Channel.EMAIL,
        subject=subject,
        body=body,
        case_id=case_id,
        topic=topic,
    )
    enqueue("minyi.core.notify.deliver", notification_id=note.pk)


def deliver(*, notification_id: int) -> None:
    note = Notification.objects.filter(pk=notification_id, sent_at__isnull=True).first()
    if note is None:
        return
    try:
        send_mail(note.subject, note.body, settings.DEFAULT_FROM_EMAIL, [note.address], fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried by an operator
        Notification.objects.filter(pk=note.pk).update(error=type(exc).__name__[:200])
        logger.warning("notification %s not delivered: %s", note.pk, type(exc).__name__)
        return
    Notification.objects.filter(pk=note.pk).update(sent_at=timezone.now())


def inbox(*, user):
    """The user's in-app notifications, newest first."""
    return Notification.objects.filter(recipient=user, channel=Notification.Channel.INAPP).order_by(
        "-created_at", "-id"
    )


def unread_count(*, user) -> int:
    return inbox(user=user).filter(read_at__isnull=True).count()


def mark_read(*, user, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of `user` as read. Returns how many."""
    unread = inbox(user=user).filter(read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())
