"""What the barometer does when a case changes (minyi.cases.signals.case_changed): score a reply's quality.

When a reply reaches the person (the event ``reply`` when it is sent directly, ``approve_reply`` when a head
approves a pending one, perhaps edited), its quality is scored and stored (minyi.barometer.quality.score_reply).
The signal is sent after commit and robustly; a failure here is logged and never undoes the reply, and
``barometer_quality --backfill`` (scheduled daily) scores whatever was missed.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

#: Event actions after which a reply has just been sent to the person.
REPLY_SENT = frozenset({"reply", "approve_reply"})


def score_sent_reply(sender, *, case_id: int, action: str, event_id: int, **kwargs) -> None:
    if action not in REPLY_SENT:
        return
    from minyi.barometer import quality
    from minyi.cases.models import CaseEvent, Reply

    try:
        data = CaseEvent.objects.filter(pk=event_id).values_list("data", flat=True).first() or {}
        reply_id = data.get("reply_id") if isinstance(data, dict) else None
        replies = Reply.objects.select_related("case").filter(case_id=case_id, state=Reply.State.SENT)
        reply = (
            replies.filter(pk=reply_id).first() if reply_id else replies.order_by("-sent_at", "-id").first()
        )
        if reply is not None:
            quality.score_reply(reply)
    except Exception:  # a score must never break the reply; the daily backfill catches up
        logger.exception("reply quality: scoring case %s (event %s) failed", case_id, event_id)


def connect() -> None:
    """Connect the barometer's case_changed receivers (called from BarometerConfig.ready)."""
    from minyi.cases.signals import case_changed

    case_changed.connect(score_sent_reply, dispatch_uid="minyi.barometer.score_sent_reply")
