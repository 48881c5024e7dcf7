"""SLA policies: the defaults loaded by the migration, and sla_for's fallback."""

from __future__ import annotations

import pytest

from minyi.core.choices import Kind, Priority
from minyi.routing.models import SlaPolicy
from minyi.routing.services import HOTLINE_ORDINARY_SLA, HOTLINE_URGENT_SLA, PETITION_SLA, Sla, sla_for

pytestmark = pytest.mark.django_db


def test_default_rows_exist_after_migration():
    assert SlaPolicy.objects.count() == len(Kind.values) * len(Priority.values)
    for kind in Kind.values:
        for priority in Priority.values:
            assert SlaPolicy.objects.filter(kind=kind, priority=priority).exists(), (kind, priority)


@pytest.mark.parametrize("priority", Priority.values)
def test_petition_defaults_follow_the_regulations(priority):
    row = SlaPolicy.objects.get(kind=Kind.PETITION, priority=priority)
    assert row.unit == SlaPolicy.Unit.CALENDAR_DAYS
    assert (row.accept_within, row.handle_within) == (15, 60)
    assert (row.extension_max_days, row.extension_max_count) == (30, 1)
    assert (row.review_request_days, row.review_decide_days) == (30, 30)


@pytest.mark.parametrize("kind", [k for k in Kind.values if k != Kind.PETITION])
def test_hotline_defaults(kind):
    urgent = SlaPolicy.objects.get(kind=kind, priority=Priority.URGENT)
    assert (urgent.unit, urgent.handle_within) == (SlaPolicy.Unit.HOURS, 24)
    ordinary = SlaPolicy.objects.get(kind=kind, priority=Priority.ORDINARY)
    assert (ordinary.unit, ordinary.handle_within) == (SlaPolicy.Unit.WORKING_DAYS, 5)
    assert ordinary.extension_max_count == 1 and ordinary.extension_max_days == 30


def test_sla_for_reads_the_row():
    SlaPolicy.objects.filter(kind=Kind.COMPLAINT, priority=Priority.ORDINARY).update(
        handle_within=3, evaluation_days=10
    )
    sla = sla_for(kind=Kind.COMPLAINT, priority=Priority.ORDINARY)
    assert sla == Sla(unit="working_days", accept_within=1, handle_within=3, evaluation_days=10)


@pytest.mark.parametrize(
    ("kind", "priority", "expected"),
    [
        (Kind.PETITION, Priority.ORDINARY, PETITION_SLA),
        (Kind.PETITION, Priority.URGENT, PETITION_SLA),
        (Kind.HELP, Priority.URGENT, HOTLINE_URGENT_SLA),
        (Kind.QUESTION, Priority.ORDINARY, HOTLINE_ORDINARY_SLA),
    ],
)
def test_sla_for_falls_back_to_the_defaults(kind, priority, expected):
    SlaPolicy.objects.all().delete()
    assert sla_for(kind=kind, priority=priority) == expected


def test_fallback_values():
    assert (PETITION_SLA.unit, PETITION_SLA.accept_within, PETITION_SLA.handle_within) == (
        "calendar_days",
        15,
        60,
    )
    assert (HOTLINE_URGENT_SLA.unit, HOTLINE_URGENT_SLA.handle_within) == ("hours", 24)
    assert (HOTLINE_ORDINARY_SLA.unit, HOTLINE_ORDINARY_SLA.handle_within) == ("working_days", 5)
    for sla in (PETITION_SLA, HOTLINE_URGENT_SLA, HOTLINE_ORDINARY_SLA):
        assert (
            sla.extension_max_days,
            sla.extension_max_count,
            sla.review_request_days,
            sla.review_decide_days,
        ) == (
            30,
            1,
            30,
            30,
        )


def test_one_policy_per_kind_and_priority():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SlaPolicy.objects.create(
            kind=Kind.PETITION, priority=Priority.ORDINARY, accept_within=1, handle_within=1
        )
