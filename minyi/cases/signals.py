"""Signals that let later layers react to a case's life without `cases` importing them.

`case_changed` is sent after the transaction of a `case_transition` commits, with `case_id`, `action` (the
event's action name) and `event_id`. Receivers run in the request (or task) that made the change; a receiver
that raises is logged and does not undo the change (Django's robust on_commit).
"""

from django.dispatch import Signal

case_changed = Signal()
