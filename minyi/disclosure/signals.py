"""What disclosure does when a case changes (minyi.cases.signals.case_changed, sent after commit).

- Every change refreshes the case's publication, if it has one or may now have one (publication.refresh).
- A reply that reaches the person starts the feedback question (feedback.invite_after_reply).

Each runs in its own transaction; a failure is logged by the sender and never undoes the case's change.
"""

from __future__ import annotations

from minyi.disclosure import feedback, publication

#: Event actions after which a reply has just been sent to the person.
REPLY_SENT = frozenset({"reply", "approve_reply"})


def on_case_changed(sender, *, case_id: int, action: str, event_id: int, **kwargs) -> None:
    publication.refresh(case_id=case_id)
    if action in REPLY_SENT:
        feedback.invite_after_reply(case_id=case_id)
