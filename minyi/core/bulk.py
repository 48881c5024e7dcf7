"""Bulk inserts for imports: PostgreSQL's COPY where it runs, Django's bulk_create elsewhere.

``bulk_insert(objs)`` stores unsaved model instances of one model, like ``Model.objects.bulk_create(objs)``,
and sets their primary keys. On PostgreSQL it takes the keys from the table's sequence first and writes the
rows with ``COPY … FROM STDIN``, inside the caller's transaction: several times faster than a multi-row INSERT
for the hundreds of rows of an import batch, mostly because Django compiles no SQL per value. It does what
bulk_create does and no more: no ``save()``, no signals, no validation; auto_now fields get the current time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

#: Below this many objects COPY is not worth its round trips.
COPY_MIN = 20


def _value(field: models.Field, obj: models.Model, now) -> Any:
    if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
        value = getattr(obj, field.attname) or now
        setattr(obj, field.attname, value)
        return value
    value = getattr(obj, field.attname)
    if isinstance(field, models.JSONField):
        return None if value is None else json.dumps(value, ensure_ascii=False, cls=field.encoder)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def bulk_insert(objs: Sequence[models.Model], *, batch_size: int = 1000) -> None:
    """Insert unsaved instances of one model and set their primary keys (see the module docstring)."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql" or len(objs) < COPY_MIN:
        model.objects.bulk_create(objs, batch_size=batch_size)
        return
    meta = model._meta
    pk = meta.pk
    fields = list(meta.concrete_fields)
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        if isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField):
            missing = [obj for obj in objs if obj.pk is None]
            if missing:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, pk.column, len(missing)],
                )
                for obj, (key,) in zip(missing, cursor.fetchall(), strict=True):
                    obj.pk = key
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        now = timezone.now()
        for obj in objs:  # a foreign key set to an object saved since (reply.case = case) takes its key now
            obj._prepare_related_fields_for_save(operation_name="bulk_insert")
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([_value(f, obj, now) for f in fields])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
