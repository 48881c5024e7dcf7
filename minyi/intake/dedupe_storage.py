"""The shared duplicate index: ``DatabaseStorage`` keeps a ``minyi.text.dedupe`` index in database rows.

Every web process and worker that calls ``case_index()`` reads and writes the same index, through
Django's connection (SQLite by default, PostgreSQL in production). The tables (minyi.intake.models):

``DuplicateIndexMeta(name, meta)``
    the settings the index was built with; ``DuplicateIndex`` refuses rows written with other ones
    (``SettingsMismatchError``).
``DuplicateSignature(case_id, signature, keys)``
    one row per case: its MinHash signature (``num_perm`` little-endian uint32) and its bucket keys
    (little-endian int64), kept so that a replace or a delete finds the case's bucket rows by key.
``DuplicateBucket(key, case_id)``
    one row per (band bucket, case); the composite primary key is the only index, and every lookup
    and delete goes through it by key.

Transactions
    Nothing here commits or opens a connection of its own: every statement runs on the Django
    connection ``using`` and joins the caller's transaction, so a batch of an import that dies
    leaves nothing behind. ``put`` and ``delete`` wrap themselves in ``atomic(savepoint=False)``,
    which makes a call all-or-nothing even in autocommit mode and costs nothing inside a transaction.

Cost (queries per call; chunks hold 2,048 values on PostgreSQL, which keeps its planner on the
primary keys, and as many as SQLite's variable limit allows on SQLite, at most 32,766)
    ``put``: one query per chunk of ids to find which already exist (and their old keys), then,
    only for those, one delete per chunk of their (key, case) pairs and one per chunk of ids; then
    the inserts: ``COPY ... FROM STDIN (FORMAT BINARY)`` on PostgreSQL for batches of at least
    ``copy_min_entries`` entries (else one ``INSERT ... SELECT unnest(...)`` per table), and
    ``executemany`` in chunks elsewhere. ``candidates`` and ``signatures``: one query per chunk.
    ``len()``: one query (see ``__len__``).

Concurrency
    Two processes that ``put`` the same new id at the same time collide on a primary key
    (``IntegrityError`` in one of them, whose transaction then rolls back): callers index a case
    from the one place that owns it (its triage), so that does not happen in normal use.

The index name (``DatabaseStorage(name=...)``) names the meta row; the signature and bucket tables
hold a single index, so a database holds one index of cases.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.db.backends.utils import CursorDebugWrapper

from minyi.intake.models import DuplicateBucket, DuplicateIndexMeta, DuplicateSignature
from minyi.text.dedupe import DuplicateIndex

__all__ = ["EXACT_LEN_LIMIT", "DatabaseStorage", "case_index", "case_index_text"]

#: ``len(storage)`` is exact up to this many ids, and above it only says "more than this".
EXACT_LEN_LIMIT = 1000

# Values in one array parameter on PostgreSQL. Small enough that the planner stays on the primary
# keys: given tens of thousands of values at once it prefers a (parallel) sequential scan of the
# whole table, which measured 300 ms against 65 ms through the index at 4.2 million bucket rows
# (and a whole-table hash join for the pair deletes, 2 s against 0.2 s).
_PG_CHUNK = 2048
_SQLITE_MAX_PARAMS = 32_766  # SQLite's default variable limit since 3.32 (a connection may set less)
_ROWS_PER_WRITE = 50_000  # rows per executemany call or COPY buffer

_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags, extension
_PGCOPY_TRAILER = b"\xff\xff"
_BUCKET_TUPLE = np.dtype(
    [("fields", ">i2"), ("key_size", ">i4"), ("key", ">i8"), ("case_size", ">i4"), ("case_id", ">i8")]
)


def _ids(values: Sequence[Any]) -> list[int]:
    """Case ids as Python ints (``TypeError`` for anything that is not an integer)."""
    return [operator.index(v) for v in values]


def _key_array(keys: Sequence[int]) -> np.ndarray:
    """Bucket keys as int64 (``TypeError`` for anything but integers, ``OverflowError`` outside int64)."""
    array = np.asarray(keys)
    if array.ndim == 1 and array.dtype.kind == "i":  # the usual case: a list of ints, or an int array
        return array.astype("<i8")
    if array.ndim == 1 and array.dtype.kind == "u" and (not array.size or int(array.max()) < 2**63):
        return array.astype("<i8")
    ints = [operator.index(k) for k in keys]  # TypeError for floats, strings, nested lists
    if any(not -(2**63) <= k < 2**63 for k in ints):
        raise OverflowError("bucket keys must fit a signed 64-bit integer")
    return np.asarray(ints, dtype="<i8")


def _bigint_array(values: Sequence[int]) -> str:
    """A bigint[] parameter as PostgreSQL's array literal, for ``%s::bigint[]``.

    Django's psycopg cursor binds parameters client-side, and quoting a list of 20,000 ints costs
    about 2 µs an element; the literal of ints already checked (``operator.index``, int64 arrays)
    costs a small fraction of that and reaches the server as the same array.
    """
    return "{" + ",".join(map(str, values)) + "}"


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _bucket_copy_payload(keys: np.ndarray, case_ids: np.ndarray) -> bytes:
    """(key, case_id) rows in PostgreSQL's binary COPY format: a header, 26 bytes a row, a trailer."""
    rows = np.empty(len(keys), dtype=_BUCKET_TUPLE)
    rows["fields"] = 2
    rows["key_size"] = 8
    rows["key"] = keys
    rows["case_size"] = 8
    rows["case_id"] = case_ids
    return _PGCOPY_HEADER + rows.tobytes() + _PGCOPY_TRAILER


class DatabaseStorage:
    """A ``minyi.text.dedupe.Storage`` in database rows, shared by every process (see the module docstring).

    Ids are case primary keys (ints). Every method runs on ``connections[using]`` inside the
    caller's transaction; ``put`` and ``delete`` are all-or-nothing.
    """

    #: On PostgreSQL, ``put`` writes with COPY from this many entries on (fewer: INSERT ... unnest).
    copy_min_entries = 50

    def __init__(self, name: str = "cases", *, using: str = "default") -> None:
        self.name = name
        self.using = using

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def _connection(self) -> Any:
        return connections[self.using]

    def _postgres(self) -> bool:
        return self._connection.vendor == "postgresql"

    def _tables(self) -> tuple[str, str]:
        quote = self._connection.ops.quote_name
        return quote(DuplicateSignature._meta.db_table), quote(DuplicateBucket._meta.db_table)

    def _params_per_query(self) -> int:
        """How many values one query may bind (SQLite's variable limit, or Django's figure for others)."""
        connection = self._connection
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            raw = connection.connection
            if hasattr(raw, "getlimit"):
                return max(2, min(_SQLITE_MAX_PARAMS, raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)))
        return max(2, min(_SQLITE_MAX_PARAMS, connection.features.max_query_params or 999))

    def _in_chunk(self) -> int:
        return _PG_CHUNK if self._postgres() else self._params_per_query()

    def _pair_chunk(self) -> int:
        """(key, case_id) pairs per delete: two values a pair."""
        return _PG_CHUNK if self._postgres() else self._params_per_query() // 2

    def _where_in(self, column: str, values: Sequence[int]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: an array parameter on PostgreSQL, a list of parameters elsewhere."""
        if self._postgres():
            return f"{column} = ANY(%s::bigint[])", [_bigint_array(values)]
        return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)

    def _select_in(self, cursor: Any, columns: str, table: str, column: str, values: Sequence[int]) -> list:
        rows: list = []
        for chunk in _chunks(values, self._in_chunk()):
            where, params = self._where_in(column, chunk)
            cursor.execute(f"SELECT {columns} FROM {table} WHERE {where}", params)
            rows.extend(cursor.fetchall())
        return rows

    # -- meta ------------------------------------------------------------------------------------

    def get_meta(self) -> dict[str, Any] | None:
        meta = (
            DuplicateIndexMeta.objects.using(self.using)
            .filter(name=self.name)
            .values_list("meta", flat=True)
            .first()
        )
        return None if meta is None else dict(meta)

    def set_meta(self, meta: dict[str, Any]) -> None:
        DuplicateIndexMeta.objects.using(self.using).update_or_create(
            name=self.name, defaults={"meta": dict(meta)}
        )

    # -- size ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of ids stored while it is at most ``EXACT_LEN_LIMIT``; above, a figure larger than that.

        The contract: ``len()`` is 0 exactly when the storage is empty, exact up to
        ``EXACT_LEN_LIMIT``, and otherwise greater than ``EXACT_LEN_LIMIT`` without being exact
        (on PostgreSQL the planner's row estimate when that is larger, else
        ``EXACT_LEN_LIMIT + 1``). It costs one query that reads at most ``EXACT_LEN_LIMIT + 1``
        rows, whatever the size of the table, because ``DuplicateIndex`` asks on every query
        whether the index is empty, and only compares the answer with zero, which this keeps
        exact. ``count()`` is the exact figure (a full count).
        """
        signatures, _ = self._tables()
        limit = EXACT_LEN_LIMIT + 1
        with self._connection.cursor() as cursor:
            if self._postgres():
                cursor.execute(
                    f"SELECT (SELECT count(*) FROM (SELECT 1 FROM {signatures} LIMIT %s) AS head), "
                    "(SELECT reltuples FROM pg_class WHERE oid = %s::regclass)",
                    [limit, signatures],
                )
                head, estimate = cursor.fetchone()
            else:
                cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {signatures} LIMIT %s)", [limit])
                head, estimate = cursor.fetchone()[0], None
        if head <= EXACT_LEN_LIMIT:
            return int(head)
        return max(limit, int(estimate or 0))

    def count(self) -> int:
        """The exact number of ids stored (a full count: slow on millions of rows)."""
        signatures, _ = self._tables()
        with self._connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {signatures}")
            return int(cursor.fetchone()[0])

    def __contains__(self, id: object) -> bool:
        try:
            case_id = operator.index(id)  # type: ignore[call-overload]
        except TypeError:
            return False
        signatures, _ = self._tables()
        with self._connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {signatures} WHERE case_id = %s", [case_id])
            return cursor.fetchone() is not None

    # -- writing ---------------------------------------------------------------------------------

    def put(
        self, entries: Sequence[tuple[int, bytes, Sequence[int]]], *, defer_buckets: bool = False
    ) -> None:
        """Add or replace ``(case id, signature, bucket keys)`` entries; the same id twice: the last one wins.

        Replaced ids lose exactly their old bucket rows (found through their stored keys).
        Raises ``TypeError`` for an id or a key that is not an integer or a signature that is not
        bytes, and ``OverflowError`` for a key outside int64, before anything is written.

        ``defer_buckets`` (bulk imports): store the signatures now, marked unbucketed, and their bucket
        rows later, all at once in key order (``build_deferred``). Until then the cases are not found by
        ``candidates`` (the importing process keeps its own index in memory meanwhile).
        """
        if not entries:
            return
        latest: dict[int, tuple[bytes, np.ndarray]] = {}
        for id, signature, keys in entries:
            case_id = operator.index(id)
            latest.pop(case_id, None)  # keep the order of the last occurrence
            latest[case_id] = (bytes(memoryview(signature)), _key_array(keys))
        with (
            transaction.atomic(using=self.using, savepoint=False),
            self._connection.cursor() as cursor,
        ):
            old = self._stored_keys(cursor, list(latest))
            if old:
                self._drop(cursor, old)
            self._insert(cursor, latest, buckets=not defer_buckets)

    def build_deferred(self, *, chunk: int = 100_000) -> int:
        """Write the bucket rows that ``put(..., defer_buckets=True)`` put off, ``chunk`` cases per transaction,
        each chunk's rows in key order: far fewer index pages touched than row by row. Idempotent; resumable
        (a chunk commits with its cases marked bucketed). Returns how many cases it indexed."""
        signatures, _buckets = self._tables()
        done = 0
        while True:
            with transaction.atomic(using=self.using), self._connection.cursor() as cursor:
                # two builders at once (an import finishing, the periodic sweep) take different rows
                lock = " FOR UPDATE SKIP LOCKED" if self._postgres() else ""
                cursor.execute(
                    f"SELECT case_id, keys FROM {signatures} WHERE NOT bucketed ORDER BY case_id LIMIT %s{lock}",
                    [chunk],
                )
                rows = cursor.fetchall()
                if not rows:
                    return done
                ids = [int(case_id) for case_id, _keys in rows]
                keys = [np.frombuffer(bytes(k), dtype="<i8").astype(np.int64) for _id, k in rows]
                all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
                owners = np.repeat(np.asarray(ids, dtype=np.int64), [len(k) for k in keys])
                order = np.argsort(all_keys, kind="stable")
                self._insert_buckets(cursor, all_keys[order], owners[order])
                for part in _chunks(ids, self._in_chunk()):
                    where, params = self._where_in("case_id", part)
                    cursor.execute(f"UPDATE {signatures} SET bucketed = TRUE WHERE {where}", params)
                done += len(ids)

    def delete(self, ids: Sequence[int]) -> int:
        """Remove these ids (signature and bucket rows); returns how many were stored."""
        wanted = list(dict.fromkeys(_ids(ids)))
        if not wanted:
            return 0
        with (
            transaction.atomic(using=self.using, savepoint=False),
            self._connection.cursor() as cursor,
        ):
            old = self._stored_keys(cursor, wanted)
            if old:
                self._drop(cursor, old)
        return len(old)

    def _stored_keys(self, cursor: Any, ids: list[int]) -> dict[int, bytes]:
        """The stored bucket keys of those of ``ids`` that exist (one query per chunk)."""
        signatures, _ = self._tables()
        rows = self._select_in(cursor, "case_id, keys", signatures, "case_id", ids)
        return {int(case_id): bytes(keys) for case_id, keys in rows}

    def _drop(self, cursor: Any, old: dict[int, bytes]) -> None:
        """Delete these ids' signature rows and exactly their (key, case_id) bucket rows."""
        signatures, buckets = self._tables()
        keys = [np.frombuffer(k, dtype="<i8") for k in old.values()]
        all_keys = np.concatenate(keys).astype(np.int64) if keys else np.zeros(0, dtype=np.int64)
        owners = np.repeat(np.fromiter(old, dtype=np.int64, count=len(old)), [len(k) for k in keys])
        order = np.argsort(all_keys, kind="stable")  # in index order
        pair_keys, pair_cases = all_keys[order].tolist(), owners[order].tolist()
        per_query = self._pair_chunk()
        if self._postgres():
            for start in range(0, len(pair_keys), per_query):
                cursor.execute(
                    f"DELETE FROM {buckets} AS b USING unnest(%s::bigint[], %s::bigint[]) AS gone(k, c) "
                    "WHERE b.key = gone.k AND b.case_id = gone.c",
                    [
                        _bigint_array(pair_keys[start : start + per_query]),
                        _bigint_array(pair_cases[start : start + per_query]),
                    ],
                )
        else:
            # a row-value IN over a VALUES subquery is what SQLite answers through the primary key
            for start in range(0, len(pair_keys), per_query):
                chunk_keys = pair_keys[start : start + per_query]
                chunk_cases = pair_cases[start : start + per_query]
                values = ", ".join(["(%s, %s)"] * len(chunk_keys))
                params = [v for pair in zip(chunk_keys, chunk_cases, strict=True) for v in pair]
                cursor.execute(
                    f"DELETE FROM {buckets} WHERE (key, case_id) IN "
                    f"(SELECT column1, column2 FROM (VALUES {values}))",
                    params,
                )
        for chunk in _chunks(list(old), self._in_chunk()):
            where, params = self._where_in("case_id", chunk)
            cursor.execute(f"DELETE FROM {signatures} WHERE {where}", params)

    def _insert(
        self, cursor: Any, latest: dict[int, tuple[bytes, np.ndarray]], *, buckets: bool = True
    ) -> None:
        signatures, _ = self._tables()
        case_ids = list(latest)
        keys = [k for _, k in latest.values()]
        bucket_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        bucket_cases = np.repeat(np.asarray(case_ids, dtype=np.int64), [len(k) for k in keys])
        order = np.argsort(bucket_keys, kind="stable")  # in primary-key order: fewer pages touched
        bucket_keys, bucket_cases = bucket_keys[order], bucket_cases[order]
        signature_rows = [(i, sig, k.tobytes(), buckets) for i, (sig, k) in latest.items()]
        if self._postgres() and len(latest) >= self.copy_min_entries:
            self._copy(
                cursor,
                f"COPY {signatures} (case_id, signature, keys, bucketed) FROM STDIN (FORMAT BINARY)",
                rows=signature_rows,
                types=["int8", "bytea", "bytea", "bool"],
            )
        elif self._postgres():
            cursor.execute(
                f"INSERT INTO {signatures} (case_id, signature, keys, bucketed) "
                "SELECT *, %s FROM unnest(%s::bigint[], %s::bytea[], %s::bytea[])",
                [
                    buckets,
                    _bigint_array(case_ids),
                    [r[1] for r in signature_rows],
                    [r[2] for r in signature_rows],
                ],
            )
        else:
            for chunk in _chunks(signature_rows, _ROWS_PER_WRITE):
                cursor.executemany(
                    f"INSERT INTO {signatures} (case_id, signature, keys, bucketed) VALUES (%s, %s, %s, %s)",
                    list(chunk),
                )
        if buckets:
            self._insert_buckets(cursor, bucket_keys, bucket_cases)

    def _insert_buckets(self, cursor: Any, bucket_keys: np.ndarray, bucket_cases: np.ndarray) -> None:
        """(key, case) rows, given in key order."""
        _, buckets = self._tables()
        if not len(bucket_keys):
            return
        if self._postgres() and len(bucket_keys) >= self.copy_min_entries:
            for start in range(0, len(bucket_keys), _ROWS_PER_WRITE):
                end = start + _ROWS_PER_WRITE
                self._copy(
                    cursor,
                    f"COPY {buckets} (key, case_id) FROM STDIN (FORMAT BINARY)",
                    payload=_bucket_copy_payload(bucket_keys[start:end], bucket_cases[start:end]),
                )
        elif self._postgres():
            cursor.execute(
                f"INSERT INTO {buckets} (key, case_id) SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                [_bigint_array(bucket_keys.tolist()), _bigint_array(bucket_cases.tolist())],
            )
        else:
            pairs = list(zip(bucket_keys.tolist(), bucket_cases.tolist(), strict=True))
            for chunk in _chunks(pairs, _ROWS_PER_WRITE):
                cursor.executemany(f"INSERT INTO {buckets} (key, case_id) VALUES (%s, %s)", list(chunk))

    @staticmethod
    def _copy(
        cursor: Any,
        sql: str,
        *,
        payload: bytes | None = None,
        rows: list[tuple[Any, ...]] | None = None,
        types: list[str] | None = None,
    ) -> None:
        """COPY through the psycopg 3 cursor under Django's (same connection, same transaction).

        Under a debug cursor (DEBUG, or a test counting queries) the statement is logged like
        any other query.
        """
        logged = (
            cursor.debug_sql(f"{sql} -- {len(rows) if rows is not None else 'binary'} rows")
            if isinstance(cursor, CursorDebugWrapper)
            else nullcontext()
        )
        with logged, cursor.cursor.copy(sql) as copy:
            if payload is not None:
                copy.write(payload)
            else:
                copy.set_types(types)
                for row in rows or ():
                    copy.write_row(row)

    # -- reading ---------------------------------------------------------------------------------

    def signatures(self, ids: Sequence[int]) -> list[bytes | None]:
        wanted = _ids(ids)
        if not wanted:
            return []
        signatures, _ = self._tables()
        with self._connection.cursor() as cursor:
            rows = self._select_in(cursor, "case_id, signature", signatures, "case_id", sorted(set(wanted)))
        found = {int(case_id): bytes(signature) for case_id, signature in rows}
        return [found.get(i) for i in wanted]

    def candidates(self, key_lists: Sequence[Sequence[int]]) -> list[set[int]]:
        """For each list of bucket keys, the case ids in any of those buckets (one query per chunk of keys)."""
        if not key_lists:
            return []
        wanted = sorted({operator.index(k) for keys in key_lists for k in keys})
        members: dict[int, list[int]] = {}
        if wanted:
            _, buckets = self._tables()
            with self._connection.cursor() as cursor:
                for key, case_id in self._select_in(cursor, "key, case_id", buckets, "key", wanted):
                    members.setdefault(key, []).append(case_id)
        out: list[set[int]] = []
        for keys in key_lists:
            found: set[int] = set()
            for key in keys:
                ids = members.get(key)
                if ids:
                    found.update(ids)
            out.append(found)
        return out


# ---------------------------------------------------------------------------------------------- the case index


def case_index(*, threshold: float | None = None) -> DuplicateIndex:
    """The shared index of cases: ``DuplicateIndex`` over ``DatabaseStorage()``.

    ``threshold`` defaults to the ``MINYI_DUPLICATE_THRESHOLD`` setting (0.3 when unset).
    Cheap to build: the settings are checked against the stored ones on first use.
    """
    if threshold is None:
        threshold = getattr(settings, "MINYI_DUPLICATE_THRESHOLD", 0.3)
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise ImproperlyConfigured("MINYI_DUPLICATE_THRESHOLD must be a number from 0 to 1")
    elif not 0 <= threshold <= 1:
        raise ValueError("threshold must be from 0 to 1")
    return DuplicateIndex(storage=DatabaseStorage(), threshold=float(threshold))


def case_index_text(title: str, content: str) -> str:
    """The text the case index keeps for a case: its title, a newline, its content."""
    return f"{title or ''}\n{content or ''}"


def build_deferred_buckets() -> int:
    """The bucket rows that imports put off, written now (DatabaseStorage.build_deferred); the periodic job."""
    return DatabaseStorage().build_deferred()
