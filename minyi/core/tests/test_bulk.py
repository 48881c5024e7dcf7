"""bulk_insert (COPY on PostgreSQL, bulk_create elsewhere) stores exactly what bulk_create would."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from minyi.cases.models import Case, CaseEvent
from minyi.core import bulk

pytestmark = pytest.mark.django_db

WHEN = datetime(2019, 4, 16, 22, 5, 13, tzinfo=ZoneInfo("Asia/Shanghai"))


def _cases(prefix: str, n: int) -> list[Case]:
    return [
        Case(
            tracking_number=f"{prefix}{i:05d}",
            query_code_hash="!",
            channel="import",
            title=f"标题{i}<b>'\"",
            content=f"内容{i}\n\t换行 \u202e 反向",
            status="closed",
            created_at=WHEN,
            closed_at=WHEN,
        )
        for i in range(n)
    ]


def _rows(qs) -> list[tuple]:
    fields = [
        f.attname
        for f in Case._meta.concrete_fields
        if f.attname not in ("id", "tracking_number", "updated_at")
    ]
    return sorted(qs.values_list(*fields))


@pytest.mark.parametrize("copy_min", [1, 10**6])  # through COPY (on PostgreSQL), and through bulk_create
def test_bulk_insert_stores_what_bulk_create_stores(monkeypatch, copy_min):
    monkeypatch.setattr(bulk, "COPY_MIN", copy_min)
    expected = _cases("B", 30)
    Case.objects.bulk_create(expected)
    inserted = _cases("C", 30)
    copying = connection.vendor == "postgresql" and copy_min == 1
    if copying:  # COPY, not bulk_create, must store them

        def refuse(*args, **kwargs):
            raise AssertionError("bulk_create was used instead of COPY")

        monkeypatch.setattr(Case.objects, "bulk_create", refuse)
    bulk.bulk_insert(inserted)
    assert all(case.pk for case in inserted) and len({case.pk for case in inserted}) == 30
    assert _rows(Case.objects.filter(tracking_number__startswith="C")) == _rows(
        Case.objects.filter(tracking_number__startswith="B")
    )
    # foreign keys to the objects just stored, and JSON
    events = [
        CaseEvent(case=case, action="import", data={"row": i, "文件": "导入.csv", "nested": [1, None, "x"]},
                  to_status="closed", created_at=WHEN)
        for i, case in enumerate(inserted)
    ]  # fmt: skip
    bulk.bulk_insert(events)
    stored = {e.case_id: e.data for e in CaseEvent.objects.filter(case__in=inserted)}
    assert stored == {
        case.pk: {"row": i, "文件": "导入.csv", "nested": [1, None, "x"]} for i, case in enumerate(inserted)
    }
    # the sequence moved past the keys taken: an ordinary insert after it does not collide
    after = _cases("D", 1)[0]
    after.save()
    assert after.pk > max(case.pk for case in inserted)
