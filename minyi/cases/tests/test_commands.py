"""The scheduled commands: thin wrappers that print counts, idempotent, with dry runs."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from minyi.cases import policies
from minyi.cases.management.commands import cases_workflow_doc
from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import NOW, act, create_case, drive
from minyi.cases.workflow import CaseAction, CaseStatus
from minyi.core.models import Notification
from minyi.intake.models import IdempotencyRecord

S = CaseStatus
pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def overdue(org):
    """Two overdue cases (in progress and accepted), one on time, one closed."""
    late = drive(create_case(), S.IN_PROGRESS, org)[0]
    accepted = drive(create_case(), S.ACCEPTED, org)[0]
    on_time = create_case(now=NOW + timedelta(days=60))
    closed = drive(create_case(), S.CLOSED, org)[0]
    when = max(late.due_at, accepted.due_at) + timedelta(hours=1)
    assert on_time.due_at > when
    return {"late": late, "accepted": accepted, "on_time": on_time, "closed": closed, "when": when}


def test_mark_overdue_escalates_notifies_and_is_idempotent(org, overdue, django_capture_on_commit_callbacks):
    when = overdue["when"].isoformat()
    mail.outbox.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        out = run("cases_mark_overdue", "--now", when)
    # then
    assert "escalated 2 overdue case(s)" in out
    for key in ("late", "accepted"):
        case = Case.objects.get(pk=overdue[key].pk)
        assert case.escalation_count == 1
        event = CaseEvent.objects.filter(case=case, action="escalate").get()
        assert event.actor is None and event.actor_role == "system"
    for key in ("on_time", "closed"):
        assert Case.objects.get(pk=overdue[key].pk).escalation_count == 0
    inapp = Notification.objects.filter(topic="escalated", channel="inapp", recipient=org.supervisor)
    assert set(inapp.values_list("case_id", flat=True)) == {overdue["late"].pk, overdue["accepted"].pk}
    assert any(org.supervisor.email in m.to for m in mail.outbox)
    # when: run again, even later
    with django_capture_on_commit_callbacks(execute=True):
        again = run("cases_mark_overdue", "--now", (overdue["when"] + timedelta(days=1)).isoformat())
    # then
    assert "escalated 0 overdue case(s)" in again
    assert CaseEvent.objects.filter(action="escalate").count() == 2
    assert inapp.count() == 2


def test_mark_overdue_dry_run_changes_nothing(org, overdue, django_capture_on_commit_callbacks):
    events = CaseEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        out = run("cases_mark_overdue", "--dry-run", "--now", overdue["when"].isoformat())
    assert callbacks == []
    assert "would escalate 2 overdue case(s)" in out
    assert overdue["late"].tracking_number in out and overdue["accepted"].tracking_number in out
    assert overdue["on_time"].tracking_number not in out
    assert CaseEvent.objects.count() == events
    assert Case.objects.filter(escalation_count__gt=0).count() == 0
    assert not Notification.objects.filter(topic="escalated").exists()
    # and the real run afterwards still does the work
    assert "escalated 2" in run("cases_mark_overdue", "--now", overdue["when"].isoformat())


def test_mark_overdue_without_now_uses_the_clock(org, overdue):
    with time_machine.travel(overdue["late"].due_at - timedelta(minutes=1), tick=False):
        assert "escalated 0 overdue case(s)" in run("cases_mark_overdue")
    with time_machine.travel(overdue["when"], tick=False):
        assert "escalated 2 overdue case(s)" in run("cases_mark_overdue")


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "2026-03-02 25:00"])
def test_bad_now_is_exit_code_2(bad):
    with pytest.raises(CommandError) as info:
        run("cases_mark_overdue", "--now", bad)
    assert info.value.returncode == 2
    assert "--now" in str(info.value)


def test_naive_now_is_read_in_local_time(org):
    case = drive(create_case(), S.IN_PROGRESS, org)[0]
    local_due = timezone.localtime(case.due_at)  # 23:59:59 on the due day, Shanghai
    naive_after = (local_due + timedelta(seconds=2)).replace(tzinfo=None).isoformat()
    assert "escalated 1" in run("cases_mark_overdue", "--now", naive_after)


def test_close_unrated(org):
    unrated = drive(create_case(), S.REPLIED, org)[0]
    rated = drive(create_case(), S.REPLIED, org)[0]
    act(
        rated,
        CaseAction.EVALUATE,
        policies.citizen_actor(case=rated),
        data={"rating": "dissatisfied", "reason": "差"},
    )
    when = (unrated.evaluation_due_at + timedelta(minutes=5)).isoformat()
    dry = run("cases_close_unrated", "--dry-run", "--now", when)
    assert "would close 1 unrated case(s)" in dry and unrated.tracking_number in dry
    assert Case.objects.get(pk=unrated.pk).status == S.REPLIED
    assert "closed 1 unrated case(s)" in run("cases_close_unrated", "--now", when)
    assert Case.objects.get(pk=unrated.pk).status == S.CLOSED
    assert Case.objects.get(pk=rated.pk).status == S.REPLIED
    assert "closed 0 unrated case(s)" in run("cases_close_unrated", "--now", when)


def test_purge_idempotency():
    now = timezone.now()
    for i, expires in enumerate(
        [now - timedelta(hours=1), now - timedelta(days=3), now + timedelta(hours=2)]
    ):
        IdempotencyRecord.objects.create(
            key=f"k{i}", fingerprint="f", created_at=expires - timedelta(hours=24), expires_at=expires
        )
    assert "would delete 2 expired" in run("intake_purge_idempotency", "--dry-run")
    assert IdempotencyRecord.objects.count() == 3
    assert "deleted 2 expired" in run("intake_purge_idempotency")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k2"]
    assert "deleted 0 expired" in run("intake_purge_idempotency")


def test_workflow_doc_check(tmp_path, monkeypatch):
    target = tmp_path / "docs" / "workflow.md"
    monkeypatch.setattr(cases_workflow_doc, "doc_path", lambda: target)
    with pytest.raises(SystemExit) as missing:
        run("cases_workflow_doc", "--check")
    assert missing.value.code == 1
    assert "wrote docs/workflow.md" in run("cases_workflow_doc")
    assert target.read_text(encoding="utf-8") == cases_workflow_doc.render()
    assert "up to date" in run("cases_workflow_doc", "--check")
    assert "unchanged" in run("cases_workflow_doc")
    target.write_text(target.read_text(encoding="utf-8") + "\nhand edit\n", encoding="utf-8")
    with pytest.raises(SystemExit) as stale:
        run("cases_workflow_doc", "--check")
    assert stale.value.code == 1
    assert run("cases_workflow_doc", "--print") == cases_workflow_doc.render()
