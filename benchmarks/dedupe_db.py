"""Shared duplicate index in PostgreSQL: insert throughput, query latency and batched query cost vs in-memory.

    .venv/bin/python benchmarks/dedupe_db.py postgres://postgres@127.0.0.1:5432/minyi_bench_dedupe \
        [--n 1000000] [--queries 1000] [--keep]

The database named on the command line is a scratch database: it is dropped and created again
(its name must start with ``minyi_bench``), migrated, and dropped at the end unless ``--keep``.
Django runs with ``config.settings.base`` (DEBUG on for the settings' sake, then off, so that
queries go through the production cursor, not the debug one).

Index contents: N texts. The distinct real messages of the shared files come first; the rest are
20% reposts of real messages (greeting and closing, sentences swapped, punctuation, 10% of
characters changed) and 80% synthetic appeals (3-8 sentences of real messages, 5% of characters
changed). Signatures are computed once per batch and the same entries are put into both storages.

Figures:
- insert: ``DatabaseStorage.put`` of batches of 1,000 entries, one transaction (and commit) each,
  which is the COPY path; the same entries into ``InMemoryStorage``, every fifth batch timed alone
  (see MEMORY_SAMPLE). entries/s, median over the batches, and over the first and last tenth of
  them (the B-tree grows); the WAL that PostgreSQL wrote meanwhile.
- after a ``VACUUM (ANALYZE)`` of the two tables (what autovacuum does later on its own):
  ``len()`` cost; ``DuplicateIndex.query`` one text at a time (p50, p99), the texts being all-edits
  reposts of indexed texts; ``query_many`` of 512 texts, per query; whether both storages return
  the same answers; one batch of 1,000 replacements.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

c.pin_one_core()

BATCH = 1000
QUERY_BATCH = 512
# Every 5th batch goes into InMemoryStorage alone and is timed; the four before it go in as one
# untimed put. Each put merges into sorted arrays at a cost that grows with the index (quadratic
# over a fill by batches of 1,000), so this keeps a 1,000,000 fill within minutes while the timed
# batches still cost what a batch of 1,000 costs at that size.
MEMORY_SAMPLE = 5


class _Recorder:
    """A Storage that keeps what ``DuplicateIndex.add_many`` hands it (to put the same entries into both)."""

    def __init__(self) -> None:
        self.entries: list = []

    def get_meta(self):
        return None

    def set_meta(self, meta) -> None:
        pass

    def put(self, entries) -> None:
        self.entries = list(entries)

    def delete(self, ids) -> int:
        return 0

    def signatures(self, ids):
        return [None] * len(ids)

    def candidates(self, key_lists):
        return [set() for _ in key_lists]

    def __len__(self) -> int:
        return 0


def scratch_database(url: str) -> tuple[str, str]:
    """Drop and create the scratch database; returns (its URL, its name)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        sys.exit(f"needs a PostgreSQL URL (postgres://...), not {parts.scheme or url!r}")
    name = parts.path.lstrip("/")
    if not name.startswith("minyi_bench"):
        sys.exit(
            f"the database is dropped and created again: its name must start with minyi_bench, not {name!r}"
        )
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url, name


def drop_database(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def median_rate(times: list[float]) -> float:
    return BATCH / statistics.median(times) if times else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url", help="postgres://.../minyi_bench_dedupe (dropped and created again)")
    parser.add_argument("--n", type=int, default=1_000_000, help="entries in the index")
    parser.add_argument("--queries", type=int, default=1000, help="single queries timed")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database at the end")
    args = parser.parse_args()

    url, name = scratch_database(args.database_url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["DJANGO_DEBUG"] = "1"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    settings.DEBUG = False  # the production cursor: no query log, no SQL formatting

    from minyi.intake.dedupe_storage import DatabaseStorage
    from minyi.text.dedupe import DuplicateIndex, InMemoryStorage, shingle_text
    from minyi.text.normalize import normalize

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    print(f"{version}, shared_buffers {buffers}; database {name}; N = {args.n:,}, batches of {BATCH:,}")

    rng = random.Random(7)
    real = [normalize(t) for t in c.all_messages()]
    real = [t for t in real if len(shingle_text(t, normalized=True)) >= 20]
    pool = c.cjk_chars(real)
    sentences = c.sentences_of(real)
    sources = set(rng.sample(range(args.n), min(args.n, max(args.queries, QUERY_BATCH))))
    print(f"real messages: {len(real):,}; query sources: {len(sources):,} indexed texts, reposted")

    def text_of(i: int) -> str:
        if i < len(real):
            return real[i]
        if rng.random() < 0.2:
            return c.repost(rng.choice(real), rng, pool)
        return c.synthesize(1, sentences, rng, pool)[0]

    recorder = _Recorder()
    signer = DuplicateIndex(storage=recorder)
    db_storage, mem_storage = DatabaseStorage(), InMemoryStorage()
    db_index, mem_index = DuplicateIndex(storage=db_storage), DuplicateIndex(storage=mem_storage)
    db_index.add(-1, "预热")  # writes the meta row; removed again below
    db_index.remove(-1)
    mem_index.add(-1, "预热")
    mem_index.remove(-1)

    def wal_counters() -> tuple[int, int, int]:
        """Cluster-wide: WAL bytes, full-page images, requested checkpoints (the cost of random B-tree writes)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wal_bytes, wal_fpi, (SELECT checkpoints_req FROM pg_stat_bgwriter) FROM pg_stat_wal"
            )
            return tuple(int(v) for v in cursor.fetchone())

    wal_before = wal_counters()
    kept: dict[int, str] = {}
    db_times: list[float] = []
    mem_times: list[float] = []
    sign_seconds = 0.0
    pending: list = []  # in-memory entries not yet put (see MEMORY_SAMPLE)
    start = time.perf_counter()
    for first in range(0, args.n, BATCH):
        batch = [(i, text_of(i)) for i in range(first, min(first + BATCH, args.n))]
        kept.update((i, t) for i, t in batch if i in sources)
        t0 = time.perf_counter()
        signer.add_many(batch, normalized=True)
        sign_seconds += time.perf_counter() - t0
        entries = recorder.entries
        t0 = time.perf_counter()
        with transaction.atomic():
            db_storage.put(entries)
        db_times.append(time.perf_counter() - t0)
        if len(db_times) % MEMORY_SAMPLE == 0:  # timed alone, after the untimed batches before it
            if pending:
                mem_storage.put(pending)
                pending = []
            t0 = time.perf_counter()
            mem_storage.put(entries)
            mem_times.append(time.perf_counter() - t0)
        else:
            pending.extend(entries)
        done = first + len(batch)
        if done % max(BATCH, args.n // 10 // BATCH * BATCH) == 0 or done == args.n:
            print(
                f"  {done:>10,} entries ({time.perf_counter() - start:.0f} s): last batch "
                f"{BATCH / db_times[-1]:,.0f} entries/s PostgreSQL, last timed {BATCH / mem_times[-1]:,.0f} in memory",
                flush=True,
            )
    if pending:
        mem_storage.put(pending)
    wal_bytes, wal_fpi, checkpoints = (b - a for a, b in zip(wal_before, wal_counters(), strict=True))
    tenth = max(1, len(db_times) // 10)
    mem_tenth = max(1, len(mem_times) // 10)
    db_rate, mem_rate = median_rate(db_times), median_rate(mem_times)
    print(
        f"\n== insert, batches of {BATCH:,} (entries/s, median)\n"
        f"PostgreSQL (COPY, a commit a batch): {db_rate:,.0f}  (first tenth {median_rate(db_times[:tenth]):,.0f}, "
        f"last tenth {median_rate(db_times[-tenth:]):,.0f}); total {sum(db_times):.0f} s\n"
        f"InMemoryStorage (every {MEMORY_SAMPLE}th batch): {mem_rate:,.0f}  (first tenth {median_rate(mem_times[:mem_tenth]):,.0f}, "
        f"last tenth {median_rate(mem_times[-mem_tenth:]):,.0f})\n"
        f"ratio in memory / PostgreSQL: {mem_rate / db_rate:.1f}x; signatures (both): "
        f"{args.n / sign_seconds:,.0f} texts/s\n"
        f"PostgreSQL wrote {wal_bytes / 2**30:.1f} GiB of WAL during the fill ({wal_fpi:,} full-page images), "
        f"{checkpoints} checkpoints requested by WAL volume (cluster-wide figures)"
    )

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) intake_duplicatesignature, intake_duplicatebucket")
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('intake_duplicatesignature')), "
            "pg_size_pretty(pg_total_relation_size('intake_duplicatebucket'))"
        )
        sig_size, bucket_size = cursor.fetchone()
    print(
        f"VACUUM (ANALYZE): {time.perf_counter() - t0:.0f} s; sizes with indexes: signatures {sig_size}, "
        f"buckets {bucket_size}; exact count {db_storage.count():,}"
    )

    len_times = []
    for _ in range(200):
        t0 = time.perf_counter()
        len(db_storage)
        len_times.append(time.perf_counter() - t0)
    print(
        f"len(DatabaseStorage): median {statistics.median(len_times) * 1e3:.3f} ms (returns {len(db_storage):,})"
    )

    order = sorted(kept)
    rng.shuffle(order)
    queries = [normalize(c.repost(kept[i], rng, pool)) for i in order]
    for text in queries[:50]:  # warm both up
        db_index.query(text, normalized=True)
        mem_index.query(text, normalized=True)
    db_lat, mem_lat = [], []
    same = found_db = found_mem = 0
    for i, text in zip(order[: args.queries], queries[: args.queries], strict=True):
        t0 = time.perf_counter()
        db_result = db_index.query(text, normalized=True)
        db_lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mem_result = mem_index.query(text, normalized=True)
        mem_lat.append(time.perf_counter() - t0)
        same += dict(db_result) == dict(mem_result)
        found_db += i in dict(db_result)
        found_mem += i in dict(mem_result)
    n_q = len(db_lat)
    db_p50, db_p99 = c.percentile(db_lat, 50), c.percentile(db_lat, 99)
    mem_p50, mem_p99 = c.percentile(mem_lat, 50), c.percentile(mem_lat, 99)
    print(
        f"\n== query one text at a time ({n_q:,} all-edits reposts of indexed texts)\n"
        f"PostgreSQL:      p50 {db_p50 * 1e3:.2f} ms, p99 {db_p99 * 1e3:.2f} ms\n"
        f"InMemoryStorage: p50 {mem_p50 * 1e3:.2f} ms, p99 {mem_p99 * 1e3:.2f} ms\n"
        f"ratio PostgreSQL / in memory: p50 {db_p50 / mem_p50:.1f}x, p99 {db_p99 / mem_p99:.1f}x\n"
        f"same answers: {same:,} of {n_q:,}; source found: {found_db / n_q:.3f} PostgreSQL, "
        f"{found_mem / n_q:.3f} in memory"
    )

    batch_texts = queries[:QUERY_BATCH]
    db_seconds, db_batch = c.timed(lambda: db_index.query_many(batch_texts, normalized=True), repeat=5)
    mem_seconds, mem_batch = c.timed(lambda: mem_index.query_many(batch_texts, normalized=True), repeat=5)
    same_batch = sum(dict(a) == dict(b) for a, b in zip(db_batch, mem_batch, strict=True))
    candidates = sum(map(len, mem_batch))
    print(
        f"\n== query_many of {len(batch_texts)} texts (median of 5)\n"
        f"PostgreSQL:      {db_seconds / len(batch_texts) * 1e3:.3f} ms a query ({db_seconds * 1e3:.0f} ms a batch)\n"
        f"InMemoryStorage: {mem_seconds / len(batch_texts) * 1e3:.3f} ms a query ({mem_seconds * 1e3:.0f} ms a batch)\n"
        f"ratio PostgreSQL / in memory: {db_seconds / mem_seconds:.1f}x; same answers {same_batch} of "
        f"{len(batch_texts)}; {candidates:,} results above the threshold"
    )

    replaced = sorted(rng.sample(range(args.n), min(BATCH, args.n)))
    signer.add_many([(i, c.repost(real[i % len(real)], rng, pool)) for i in replaced], normalized=True)
    t0 = time.perf_counter()
    with transaction.atomic():
        db_storage.put(recorder.entries)
    db_replace = time.perf_counter() - t0
    t0 = time.perf_counter()
    mem_storage.put(recorder.entries)
    mem_replace = time.perf_counter() - t0
    print(
        f"\n== one batch of {len(replaced):,} replacements: PostgreSQL {db_replace * 1e3:.0f} ms, "
        f"in memory {mem_replace * 1e3:.0f} ms; PostgreSQL rows now {db_storage.count():,}"
    )

    connection.close()
    if not args.keep:
        drop_database(url, name)


if __name__ == "__main__":
    main()
