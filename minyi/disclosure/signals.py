"""What disclosure does when a case changes (minyi.cases.signals.case_changed, sent after commit).

Two receivers, connected separately so that one failing never stops the other (the signal is sent robustly:
a receiver that raises is logged by Django and the case's change stands):
- every change refreshes the case's publication, if it has one or may now have one (publication.refresh);
- a reply that reaches the person starts the feedback question (feedback.invite_after_reply).
"""

from __future__ import annotations

from minyi.disclosure import feedback, publication

#: Event actions after which a reply has just been sent to the person.
REPLY_SENT = frozenset({"reply", "approve_reply"})


def refresh_publication(sender, *, case_id: int, action: str, event_id: int, **kwargs) -> None:
    publication.refresh(case_id=case_id)


def invite_feedback(sender, *, case_id: int, action: str, event_id: int, **kwargs) -> None:
    if action in REPLY_SENT:
        feedback.invite_after_reply(case_id=case_id)
