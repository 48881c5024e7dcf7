"""The barometer's background jobs at 1,000,000 cases on PostgreSQL (the scratch database minyi_bench of
benchmarks/_million.py): hot topics (``bench_topics``) and early warnings (``bench_alerts``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/minyi_bench .venv/bin/python benchmarks/barometer_jobs.py
    ... --only alerts --repeat 3
    ... --only topics [--repeat 3] [--window 30] [--long-window 365] [--no-triage]

The database must exist and be migrated (``DJANGO_DEBUG=1 DATABASE_URL=... .venv/bin/minyi migrate``). Every
measurement runs in a transaction that is rolled back at its end, so the data set is left as it was.

``bench_topics``: ``minyi.barometer.hot.run_topics`` with ``now`` = the newest case's ``created_at``: the settings'
window (30 days) a first time and ``--repeat`` - 1 re-runs that match its topics, then a 365-day window once
(``--long-window``); before each window's runs, in the same transaction and untimed, every case read gets a Triage
row with its tokens (as intake stores them for each new case; the data set has none; ``--no-triage`` measures
the fallback, where the job normalises and segments every text). It prints cases read, topics (matched, new,
gone), members, the seconds of each phase (read: the streamed query; mine: minyi.text.topics.mine_topics; write:
matching and every write), the queries, the peak memory, the five hottest topics, the medians, and the baseline:
the job's query alone, streamed, in the same process.

``bench_alerts``: ``minyi.barometer.warnings.run_detection`` with ``now`` = the newest case's ``created_at``, a
first run (raises the alerts) and a re-run right after it in the same transaction (updates nothing, or little),
``--repeat`` times, each after injecting a burst (``--inject`` existing cases moved into the last three days, in one
category and one street, a tenth at a new place, three triaged high; 0: none) in the same transaction; it prints the series, surges and alerts of each run, the milliseconds of each phase (series:
the aggregate queries; detect: minyi.text.surge.detect_many; cases: the appeals behind each finding and their risk;
alerts: the writes and notifications), the queries, and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _million

PHASES = ("series_ms", "detect_ms", "cases_ms", "alerts_ms", "total_ms")


def _setup() -> None:
    os.environ["DATABASE_URL"] = _million.database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def _load() -> str:
    try:
        one, five, _fifteen = os.getloadavg()
    except OSError:
        return "load n/a"
    return f"load {one:.1f}/{five:.1f}, {os.cpu_count()} cores"


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _triage_tokens(start, end, now) -> tuple[int, int, float]:
    """Inside the measuring transaction: a Triage row with the normalised text and the tokens for every case of
    [start, end) that has none, as minyi.intake.triage stores them for every new case (the data set has no
    triage rows, so without this run_topics would normalise and segment every text itself: the fallback path).
    Each distinct text is segmented once. Returns (rows, distinct texts, seconds); not part of any timing."""
    from django.db import connection

    from minyi.cases.models import Case
    from minyi.core.bulk import bulk_insert
    from minyi.intake.models import Triage
    from minyi.intake.triage import case_text
    from minyi.text.normalize import normalize
    from minyi.text.segment import segment

    began = time.perf_counter()
    cache: dict[str, tuple[str, str]] = {}
    batch: list = []
    count = 0
    # the cases that have one already (none in the generated data set), without an anti-join: a join planned on
    # the statistics of an empty table can go very wrong once rows are added in this transaction
    existing = set(
        Triage.objects.filter(case__created_at__gte=start, case__created_at__lt=end).values_list(
            "case_id", flat=True
        )
    )
    rows = (
        Case.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values_list("pk", "title", "content")
        .iterator(chunk_size=5000)
    )
    for pk, title, content in rows:
        if pk in existing:
            continue
        text = case_text(title, content)
        done = cache.get(text)
        if done is None:
            normalized = normalize(text)
            done = cache[text] = (normalized, " ".join(segment(normalized)))
        batch.append(Triage(case_id=pk, normalized_text=done[0], tokens=done[1], triaged_at=now))
        if len(batch) >= 20_000:
            bulk_insert(batch, batch_size=20_000)
            count += len(batch)
            batch = []
    bulk_insert(batch, batch_size=20_000)
    count += len(batch)
    with connection.cursor() as cursor:  # what autovacuum would know by the time the hourly job runs
        cursor.execute("ANALYZE intake_triage")
    return count, len(cache), time.perf_counter() - began


def _read_only(start, end) -> tuple[int, float]:
    """The baseline: the job's query alone, streamed to the end (no mining, no writes)."""
    from minyi.barometer import hot

    began = time.perf_counter()
    n = sum(1 for _row in hot._rows(start, end))
    return n, time.perf_counter() - began


def _topic_run(label: str, now, days: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from minyi.barometer import hot

    began = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        run = hot.run_topics(now=now, window_days=days)
    wall = time.perf_counter() - began
    st = run.stats
    print(
        f"  {label:12s} {run.cases:,} cases read ({st.current:,} in the window), {run.topics:,} topics "
        f"({st.matched:,} matched, {st.revived:,} back, {st.created:,} new, {st.gone:,} gone), {st.members:,} "
        f"members; read {st.read_s:.1f} s, mine {st.mine_s:.1f} s, write {st.write_s:.1f} s; {wall:.1f} s in all "
        f"(TopicRun {run.elapsed_ms / 1000:.1f} s); {len(queries)} queries; peak RSS {_rss_mb():,.0f} MB",
        flush=True,
    )
    return {"read": st.read_s, "mine": st.mine_s, "write": st.write_s, "total": wall, "topics": run.topics}


def _top(n: int = 5) -> None:
    from minyi.barometer.models import Topic

    for t in Topic.objects.filter(is_active=True).order_by("rank")[:n]:
        print(
            f"    #{t.rank} {t.label} · size {t.size}, previous {t.previous}, people {t.people}, supports "
            f"{t.supports}, regions {t.regions}, heat {t.heat:.1f}, {t.trend}: {t.title[:40]}",
            flush=True,
        )


def _medians(label: str, runs: list[dict]) -> None:
    parts = ("read", "mine", "write", "total")
    print(
        f"    {label:22s} "
        + ", ".join(f"{p} {statistics.median(r[p] for r in runs):.1f} s" for p in parts)
        + f" (n={len(runs)})",
        flush=True,
    )


def bench_topics(args: argparse.Namespace) -> None:
    """The hot-topic job (minyi.barometer.hot.run_topics) with `now` = the newest case's created_at: the window
    of the settings (30 days) a first time and re-runs that match its topics (``--repeat`` runs in all), then a
    365-day window once (``--long-window``; 0 skips it), each in a transaction rolled back at its end. Triage
    rows (tokens) are made first for the cases read, inside the same transaction (``--no-triage``: measure the
    fallback path, where the job segments every text itself). Prints cases read, topics, the seconds of each
    phase (read: the query, streamed; mine: minyi.text.topics.mine_topics; write: matching and every write),
    the peak memory, and the medians; the baseline is the job's query alone, streamed, in the same process."""
    from datetime import timedelta

    from django.db import transaction
    from django.db.models import Max

    from minyi.barometer.models import BarometerSettings, Topic
    from minyi.cases.models import Case

    now = Case.objects.aggregate(newest=Max("created_at"))["newest"]
    if now is None:
        print("\n== topics: the database holds no cases", flush=True)
        return
    row = BarometerSettings.objects.order_by("pk").first() or BarometerSettings()  # read only
    days = args.window or row.topic_window_days
    print(
        f"\n== hot topics (minyi.barometer.hot.run_topics) ({_load()}); now = newest case "
        f"{now:%Y-%m-%d %H:%M %Z}; min_size {row.topic_min_size}, threshold {row.topic_threshold}; "
        f"{Topic.objects.count():,} topics stored before",
        flush=True,
    )
    windows = [(days, max(args.repeat, 1))]
    if args.long_window:
        windows.append((args.long_window, 1))
    for window_days, runs in windows:
        start = now - 2 * timedelta(days=window_days)
        print(f"  -- {window_days}-day window: cases of {start:%Y-%m-%d} .. {now:%Y-%m-%d %H:%M}", flush=True)
        began = time.perf_counter()
        with transaction.atomic():
            if not args.no_triage:
                made, distinct, seconds = _triage_tokens(start, now, now)
                print(
                    f"  triage rows made for {made:,} cases ({distinct:,} distinct texts) in {seconds:.0f} s "
                    f"(not timed)",
                    flush=True,
                )
            n, seconds = _read_only(start, now)
            print(f"  baseline: the query alone, streamed: {n:,} rows in {seconds:.1f} s", flush=True)
            results = []
            for i in range(runs):
                label = "first run" if i == 0 else f"re-run {i}"
                results.append(_topic_run(label, now, window_days))
                if i == 0:
                    _top()
            print(f"  medians ({_load()}):", flush=True)
            _medians(f"{window_days} d, all runs", results)
            if len(results) > 1:
                _medians(f"{window_days} d, re-runs", results[1:])
            print(
                f"    ratio of the median run to the baseline query: "
                f"{statistics.median(r['total'] for r in results) / max(seconds, 1e-9):.1f}",
                flush=True,
            )
            transaction.set_rollback(True)
        print(f"  ({time.perf_counter() - began:.0f} s with the preparation and the rollback)", flush=True)


def _describe_alerts(now) -> None:
    from datetime import timedelta

    from minyi.barometer.models import BarometerSettings, Topic
    from minyi.barometer.warnings import history_days
    from minyi.cases.models import Case
    from minyi.intake.models import Triage

    row = (
        BarometerSettings.objects.order_by("pk").first() or BarometerSettings()
    )  # read only: no row is created
    config = row.to_surge_config()
    days = history_days(config)
    since = now - timedelta(days=days)
    recent = Case.objects.filter(created_at__gte=since, created_at__lte=now)
    print(
        f"  now = newest case {now:%Y-%m-%d %H:%M %Z}; history {days} days; {recent.count():,} cases in it "
        f"({recent.filter(category__isnull=False).count():,} with a category, "
        f"{recent.filter(region__isnull=False).count():,} with a region); "
        f"{Triage.objects.filter(case__created_at__gte=since, place__isnull=False).count():,} with a place; "
        f"{Triage.objects.filter(case__created_at__gte=since, risk_level='high').count():,} triaged high; "
        f"{Topic.objects.filter(is_active=True).count():,} active topics",
        flush=True,
    )
    print(
        f"  settings: baseline {config.baseline_days} d, window {config.window_days} d, min_count "
        f"{config.min_count}, ratio {config.ratio}, p {config.p_value}, weekday {config.weekday}",
        flush=True,
    )


def _inject(now, size: int) -> str:
    """Inside the measuring transaction: a burst of `size` cases in the last three days in one category and one
    street (a tenth of them at a new place, three triaged high), so that every phase of a run has work.

    The burst is made of existing cases received 30 to 60 days before `now`, moved into the last three days (an
    UPDATE, rolled back with the rest): inserting cases would draw ids from the sequences, which the generator
    of the data set leaves behind the largest ids."""
    from datetime import datetime, timedelta
    from datetime import time as dtime

    from django.db.models import Count
    from django.utils import timezone

    from minyi.accounts.models import Region
    from minyi.cases.models import Case
    from minyi.intake.models import Triage
    from minyi.routing.models import Place

    zone = timezone.get_default_timezone()
    ranked = list(
        Case.objects.filter(created_at__gte=now - timedelta(days=28), category__isnull=False)
        .order_by()
        .values("category_id")
        .annotate(n=Count("pk"))
        .order_by("n")
        .values_list("category_id", "n")
    )
    category_id, per_month = ranked[len(ranked) // 2]
    street = Region.objects.filter(level=Region.Level.STREET).order_by("pk").first()
    place = Place.objects.create(name="基准测试小区", kind=Place.Kind.ESTATE, region=street)
    start = datetime.combine(timezone.localtime(now, zone).date() - timedelta(days=2), dtime.min, tzinfo=zone)
    step = (now - start) / size
    cases = list(
        Case.objects.filter(created_at__gte=now - timedelta(days=60), created_at__lt=now - timedelta(days=30))
        .exclude(status="merged")
        .order_by("pk")[:size]
    )
    for i, case in enumerate(cases):
        case.created_at = start + step * i
        case.category_id = category_id
        case.region_id = street.pk if street else None
    Case.objects.bulk_update(cases, ["created_at", "category", "region"], batch_size=500)
    triages = [Triage(case=case, place=place, triaged_at=now) for case in cases[: max(size // 10, 1)]] + [
        Triage(
            case=case, risk_score=70, risk_level="high", risk_reasons=[{"code": "self_harm"}], triaged_at=now
        )
        for case in cases[-3:]
    ]
    Triage.objects.bulk_create(triages)
    return (
        f"{len(cases)} cases in category {category_id} ({per_month} in the last 28 days) and street "
        f"{street.pk if street else None}, {len(triages) - 3} at a new place, 3 triaged high"
    )


def _one(label: str, now) -> tuple[dict, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from minyi.barometer.warnings import run_detection

    with CaptureQueriesContext(connection) as queries:
        stats = run_detection(now=now)
    t = stats["timings"]
    print(
        f"  {label:8s} series {stats['series']:,}, surges {stats['surges']}, findings {stats['findings']}: "
        f"raised {stats['raised']}, updated {stats['updated']}, escalated {stats['escalated']}, unchanged "
        f"{stats['unchanged']}, suppressed {stats['suppressed']}; notifications {stats['notified']}; "
        f"{len(queries):,} queries; " + ", ".join(f"{name[:-3]} {t.get(name, 0):,.0f} ms" for name in PHASES),
        flush=True,
    )
    return stats, len(queries)


def bench_alerts(args: argparse.Namespace) -> None:
    from django.db import transaction
    from django.db.models import Max

    from minyi.barometer.models import Alert
    from minyi.cases.models import Case

    now = Case.objects.aggregate(newest=Max("created_at"))["newest"]
    if now is None:
        print("\n== alerts: the database holds no cases", flush=True)
        return
    print(f"\n== early warnings (minyi.barometer.warnings.run_detection) ({_load()})", flush=True)
    _describe_alerts(now)
    runs: dict[str, list[dict]] = {"first": [], "re-run": []}
    for repeat in range(args.repeat):
        began = time.perf_counter()
        with transaction.atomic():
            if args.inject:
                injected_at = time.perf_counter()
                what = _inject(now, args.inject)
                print(
                    f"  injected {what} in {time.perf_counter() - injected_at:.1f} s (not timed)", flush=True
                )
            first, _q = _one(f"#{repeat + 1} first", now)
            runs["first"].append(first)
            again, _q = _one(f"#{repeat + 1} re-run", now)
            runs["re-run"].append(again)
            if repeat == 0:
                by = {}
                for source, level in Alert.objects.values_list("source", "level"):
                    by[(source, level)] = by.get((source, level), 0) + 1
                print(
                    "  alerts of the first run by source and level: "
                    + (", ".join(f"{s}/{lv} {n}" for (s, lv), n in sorted(by.items())) or "none"),
                    flush=True,
                )
            transaction.set_rollback(True)
        print(
            f"  (repetition {repeat + 1}: {time.perf_counter() - began:.1f} s with the rollback)", flush=True
        )
    print(f"  medians of {args.repeat} ({_load()}):", flush=True)
    for label, stats in runs.items():
        medians = {name: statistics.median(s["timings"].get(name, 0) for s in stats) for name in PHASES}
        print(
            f"    {label:7s} " + ", ".join(f"{name[:-3]} {medians[name]:,.0f} ms" for name in PHASES),
            flush=True,
        )
    first_total = statistics.median(s["timings"]["total_ms"] for s in runs["first"])
    rerun_total = statistics.median(s["timings"]["total_ms"] for s in runs["re-run"])
    print(f"    re-run / first run: {rerun_total / max(first_total, 1e-9):.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("topics", "alerts"), action="append", help="measure only this job")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians)")
    parser.add_argument("--window", type=int, default=0, help="topics: the window in days (0: the settings')")
    parser.add_argument(
        "--long-window", type=int, default=365, help="topics: a longer window, measured once (0: skip)"
    )
    parser.add_argument(
        "--no-triage", action="store_true", help="topics: no triage rows first (the job segments every text)"
    )
    parser.add_argument(
        "--inject",
        type=int,
        default=600,
        help="cases of an injected burst per repetition (0: the data as it is)",
    )
    args = parser.parse_args()
    _setup()
    print(
        f"machine: {os.cpu_count()} cores; database {_million._db_name(os.environ['DATABASE_URL'])}",
        flush=True,
    )
    wanted = set(args.only or ("topics", "alerts"))
    if "topics" in wanted:
        bench_topics(args)
    if "alerts" in wanted:
        bench_alerts(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
