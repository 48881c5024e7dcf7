"""Board, search, scoreboard, Open311 and public APIs on 1,000,000 cases (PostgreSQL): p50/p99 and queries.

Server time (p50, p99) and SQL queries per request of the public pages and APIs, against /healthz measured in
the same process, and the time of the scoreboard's rollups.

What it does:
1. makes (once) the data set in a scratch database (benchmarks/_million.py: DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/minyi_bench; created and migrated when missing, reused when it already
   holds the rows; --regenerate drops it and makes it again) and prints how long generation took;
2. times the scoreboard's rollups: a full rebuild (minyi.disclosure.scoreboard.rollup_rebuild), a refresh with
   nothing changed, then incremental refreshes (rollup_refresh) after touching 1,000 cases received in the last
   30 days and 1,000 spread over the 24 months (an earlier run's touches are put back first);
3. for every endpoint (a few URLs each, taken in turn), after a warm-up, times --requests requests through
   django.test.Client in this process (middleware, view, template or JSON rendering: the server's time, not the
   network's), counts the SQL queries of each warm-up request (CaptureQueriesContext; the timed requests run
   without it), and prints p50, p99, max, queries per request, and the ratio of each p50 and p99 to those of
   the baseline (GET /healthz: one trivial query). The test client keeps the database connection between
   requests (as DB_CONN_MAX_AGE > 0 does). Views that cache their answer (the scoreboard, 60 s) are measured
   as served and "(cold cache)", with the cache cleared before each request. An endpoint whose requests are
   slow stops after --budget seconds (at least 3 requests), and says so;
4. with --explain, prints EXPLAIN (ANALYZE, BUFFERS) of every query of one request of each endpoint (or only of
   queries slower than --explain-ms; a plain EXPLAIN past 60 s); with --profile N, cProfile's top N of one
   request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/minyi_bench .venv/bin/python benchmarks/public_million.py
    .venv/bin/python benchmarks/public_million.py --generate-only          # make the data set and stop
    .venv/bin/python benchmarks/public_million.py --only board --explain   # the endpoints named board…

Target (issue 5): p99 under 200 ms and at most 10 queries per request. Everything shares the machine, so the
absolute figures depend on it; the ratios to the baseline are the comparable part. Never run by `make test`.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import unescape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c
from benchmarks import _million

REPO = Path(__file__).resolve().parent.parent
BASELINE = "baseline GET /healthz"

TARGET_P99_MS = 200
TARGET_QUERIES = 10
#: The modules the other helpers are writing; measured once none is a placeholder and all import.
VIEW_FILES = (
    "minyi/disclosure/board.py",
    "minyi/disclosure/board_views.py",
    "minyi/disclosure/feeds.py",
    "minyi/disclosure/scoreboard.py",
    "minyi/disclosure/scoreboard_views.py",
    "minyi/api/open311/urls.py",
    "minyi/api/v1/board.py",
    "minyi/api/v1/scoreboard.py",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="cases in the data set")
    parser.add_argument("--regenerate", action="store_true", help="drop the data set and make it again")
    parser.add_argument("--batch", type=int, default=20_000, help="cases per COPY transaction")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed requests per endpoint (queries counted)"
    )
    parser.add_argument("--only", action="append", help="measure only endpoints whose name contains this")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the queries of each endpoint")
    parser.add_argument("--explain-ms", type=float, default=0.0, help="…only the queries slower than this")
    parser.add_argument(
        "--budget",
        type=float,
        default=300,
        help="seconds of timed requests per endpoint before it stops early",
    )
    parser.add_argument("--profile", type=int, default=0, help="cProfile one request per endpoint: top N")
    parser.add_argument("--rollup-only", action="store_true", help="time the rollups, measure no endpoint")
    parser.add_argument("--no-rollup", action="store_true", help="skip timing the rollups (reuse them)")
    parser.add_argument(
        "--wait", type=int, default=0, help="minutes to wait for the views (polls every 2 min)"
    )
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = _million.database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ["MINYI_RATE_LIMIT_ENABLED"] = "0"
    import django

    django.setup()
    print(
        f"machine: {os.cpu_count()} cores; database {_million._db_name(os.environ['DATABASE_URL'])}",
        flush=True,
    )
    meta = _million.ensure(
        os.environ["DATABASE_URL"], count=args.rows, regenerate=args.regenerate, batch=args.batch
    )
    describe(meta)
    if args.generate_only:
        return 0
    missing = wait_for_views(args.wait)
    if missing:
        print("not ready (placeholder or import error): " + "; ".join(missing), flush=True)
    if not args.no_rollup:
        time_rollups(missing)
    print("views measured (sha1 of each file now: the other helpers are still changing them):")
    print("  " + ", ".join(f"{Path(n).name} {file_hash(n)}" for n in VIEW_FILES + EXTRA_FILES), flush=True)
    if args.rollup_only:
        return 0
    endpoints = plan(meta)
    if args.only:
        endpoints = [e for e in endpoints if e.name == BASELINE or any(o in e.name for o in args.only)]
    print(f"\n== measuring {len(endpoints)} endpoints ({load()})", flush=True)
    results = [measure(e, args) for e in endpoints]
    print(f"measured ({load()})", flush=True)
    report(results, args)
    return 0


def describe(meta: dict) -> None:
    rows = meta["rows"]
    print(
        f"data set: {meta['count']:,} cases {meta['first_day']} .. {meta['last_day']} (generated "
        f"{meta['generated_at']}, {meta['seconds']:.0f} s; database {meta['size']})",
        flush=True,
    )
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(rows.items())), flush=True)
    stats = meta["stats"]
    statuses = {k: v for k, v in stats.items() if not k.startswith(("held", "published"))}
    print("  statuses: " + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items(), key=lambda p: -p[1])))
    held = {k: v for k, v in stats.items() if k.startswith("held")}
    print(
        f"  published {stats.get('published', 0):,}; not published: "
        + ", ".join(f"{k[5:]} {v:,}" for k, v in held.items())
    )
    words = meta["words"]
    print(
        f"  search words: common {words['common'][0]!r} ({words['common'][1]:,} rows), rare {words['rare'][0]!r} "
        f"({words['rare'][1]:,}), two {words['two'][0]!r} ({words['two'][1]:,} together)",
        flush=True,
    )


def wait_for_views(minutes: int) -> list[str]:
    deadline = time.monotonic() + minutes * 60
    while True:
        missing = not_ready()
        if not missing or time.monotonic() >= deadline:
            return missing
        print(f"waiting for: {', '.join(missing)}", flush=True)
        time.sleep(120)


EXTRA_FILES = ("minyi/api/open311/selectors.py", "minyi/api/open311/views.py", "minyi/api/open311/render.py")


def file_hash(name: str) -> str:
    import hashlib

    path = REPO / name
    return hashlib.sha1(path.read_bytes()).hexdigest()[:10] if path.exists() else "missing"


def not_ready() -> list[str]:
    import subprocess

    out = []
    for name in VIEW_FILES:
        path = REPO / name
        if not path.exists():
            out.append(f"{name} (missing)")
            continue
        first = (
            path.read_text(encoding="utf-8").lstrip("\"' \n").splitlines()[0] if path.stat().st_size else ""
        )
        if first.startswith("Placeholder"):
            out.append(f"{name} (placeholder)")
    if out:
        return out
    probe = subprocess.run(  # a fresh process: this one may have imported the placeholders already
        [sys.executable, "-c", "import django; django.setup(); from django.urls import resolve; "
         "import minyi.disclosure.urls, minyi.api.open311.urls, minyi.api.v1; resolve('/board/')"],
        env=os.environ.copy(), cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if probe.returncode:
        out.append("import error: " + probe.stderr.strip().splitlines()[-1][:300])
    return out


# --------------------------------------------------------------------------------------------- rollups


def time_rollups(missing: list[str]) -> None:
    """The scoreboard's full rebuild, then incremental refreshes after touching 1,000 cases (recent ones, as the
    day's work touches, and 1,000 spread over the whole 24 months)."""
    if any("scoreboard.py" in m for m in missing):
        print("\n== rollups: minyi/disclosure/scoreboard.py is not ready; skipped", flush=True)
        return
    from django.db import connection
    from django.utils import timezone

    from minyi.disclosure import scoreboard
    from minyi.disclosure.models import ScoreRollup

    print("\n== scoreboard rollups (minyi.disclosure.scoreboard)", flush=True)
    restored = _million.untouch()
    if restored:
        print(f"  (first put back updated_at of {restored:,} cases an earlier run touched)", flush=True)
    began = time.perf_counter()
    days = scoreboard.rollup_rebuild()
    rebuild = time.perf_counter() - began
    print(
        f"  rollup_rebuild: {rebuild:.1f} s, {days} days, {ScoreRollup.objects.count():,} rollup rows",
        flush=True,
    )
    began = time.perf_counter()
    rebuilt = scoreboard.rollup_refresh()
    print(
        f"  rollup_refresh with nothing changed: {time.perf_counter() - began:.3f} s, {rebuilt} days rebuilt "
        f"(the cases updated in the {scoreboard.REFRESH_OVERLAP} before the watermark)",
        flush=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(created_at) FROM cases_case")
        newest = cursor.fetchone()[0]
    for label, where, params in (
        ("1,000 cases received in the last 30 days", "created_at >= %s", [newest - timedelta(days=30)]),
        ("1,000 cases spread over the 24 months", "true", []),
    ):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE cases_case SET updated_at = %s WHERE id IN (SELECT id FROM cases_case WHERE {where} "
                "ORDER BY random() LIMIT 1000)",
                [timezone.now(), *params],
            )
            touched = cursor.rowcount
        began = time.perf_counter()
        rebuilt = scoreboard.rollup_refresh()
        seconds = time.perf_counter() - began
        print(
            f"  rollup_refresh after touching {label} ({touched:,} rows): {seconds:.2f} s, {rebuilt} days rebuilt "
            f"(ratio to the full rebuild {seconds / rebuild:.3f})",
            flush=True,
        )


# --------------------------------------------------------------------------------------------- endpoints


@dataclass
class Endpoint:
    name: str
    urls: list[str]
    cold: bool = False  # clear the cache before each timed request (views that cache their answer)
    follow: str = ""  # "html" or "json": first follow 'next' --follow times, then time the page reached
    note: str = ""


@dataclass
class Result:
    endpoint: Endpoint
    times: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    size: int = 0
    error: str = ""
    slowest: tuple[float, str] = (0.0, "")
    walk: list[float] = field(default_factory=list)
    note: str = ""

    def p(self, q: float) -> float:
        return c.percentile(self.times, q) * 1000


FOLLOW = 50


def plan(meta: dict) -> list[Endpoint]:
    """The URLs to measure, from the data set (the busiest and the quieter categories, regions, departments)."""
    from urllib.parse import quote

    from django.db import connection

    def ranked(column: str, table: str, where: str = "true") -> list[tuple[str, int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT r.code, count(*) FROM disclosure_publication p JOIN {table} r ON r.id = p.{column} "
                f"WHERE p.state = 'published' AND {where} GROUP BY r.code ORDER BY 2 DESC"
            )
            return cursor.fetchall()

    def spread(rows: list[tuple[str, int]], n: int = 6) -> list[str]:
        if len(rows) <= n:
            return [code for code, _count in rows]
        return [rows[round(i * (len(rows) - 1) / (n - 1))][0] for i in range(n)]

    def parents(model_table: str, code_filter: str) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT p.code FROM {model_table} p WHERE EXISTS (SELECT 1 FROM {model_table} k WHERE "
                f"k.parent_id = p.id) AND {code_filter} ORDER BY p.path"
            )
            return [code for (code,) in cursor.fetchall()]

    leaf_categories = spread(ranked("category_id", "routing_category"))
    parent_categories = parents("routing_category", "p.parent_id IS NULL")[:6]
    streets = spread(ranked("region_id", "accounts_region", "r.level = 'street'"))
    districts = parents("accounts_region", "p.level = 'district'")
    departments = spread(ranked("department_id", "accounts_department", "NOT EXISTS (SELECT 1 FROM "
                                "accounts_department k WHERE k.parent_id = r.id)"))  # fmt: skip
    bureaus = parents("accounts_department", "p.parent_id IS NULL AND p.region_id IN (SELECT id FROM "
                      "accounts_region WHERE level = 'city')")[:6]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.id FROM accounts_department d JOIN disclosure_publication p ON p.department_id = d.id "
            "WHERE p.state = 'published' GROUP BY d.id ORDER BY count(*) DESC LIMIT 8"
        )
        trend_departments = [pk for (pk,) in cursor.fetchall()]
        cursor.execute("SELECT code FROM routing_category WHERE id IN (SELECT DISTINCT category_id FROM "
                       "cases_case WHERE id IN (SELECT case_id FROM intake_open311request)) ORDER BY code LIMIT 6")  # fmt: skip
        service_codes = [code for (code,) in cursor.fetchall()]
    last = date.fromisoformat(meta["last_day"])
    month_end = last.replace(day=1) - timedelta(days=1)
    months = [f"{month_end.year}-{month_end.month:02d}"]
    quarter = (month_end.month - 1) // 3 + 1
    q_year, q = (month_end.year, quarter - 1) if month_end.month % 3 else (month_end.year, quarter)
    if q == 0:
        q_year, q = q_year - 1, 4
    quarters = [f"{q_year}-Q{q}"]
    years = [str(last.year - 1)]
    words = meta["words"]

    def qs(name: str, values: list[str], base: str = "/board/") -> list[str]:
        return [f"{base}?{name}={quote(v)}" for v in values]

    cases = meta.get("event_cases") or []
    return [
        Endpoint(BASELINE, ["/healthz"]),
        Endpoint("board newest", ["/board/"]),
        Endpoint("board most viewed", ["/board/?order=views"]),
        Endpoint("board category (leaf)", qs("category", leaf_categories)),
        Endpoint("board category (parent: 3 leaves)", qs("category", parent_categories)),
        Endpoint("board region (street)", qs("region", streets)),
        Endpoint("board region (district: 3 areas)", qs("region", districts)),
        Endpoint("board department (leaf)", qs("department", departments)),
        Endpoint("board department (bureau + sections)", qs("department", bureaus)),
        Endpoint(f"board newest, page {FOLLOW + 1} (cursor)", ["/board/"], follow="html"),
        Endpoint(f"board most viewed, page {FOLLOW + 1} (cursor)", ["/board/?order=views"], follow="html"),
        Endpoint(f"board search common {words['common'][0]}", qs("q", [words["common"][0]])),
        Endpoint(f"board search rare {words['rare'][0]}", qs("q", [words["rare"][0]])),
        Endpoint(f"board search two words {words['two'][0]}", qs("q", [words["two"][0]])),
        Endpoint(
            "board search common + category",
            [f"/board/?q={quote(words['common'][0])}&category={code}" for code in leaf_categories],
        ),
        Endpoint("board case page", [f"/board/{pk}/" for pk in cases[:250]]),
        Endpoint("board feed (all)", ["/board/feed/"]),
        Endpoint("board feed (category)", [f"/board/feed/category/{code}/" for code in leaf_categories]),
        Endpoint(f"scoreboard month {months[0]}", qs("period", months, "/scoreboard/")),
        Endpoint(
            f"scoreboard month {months[0]} (cold cache)", qs("period", months, "/scoreboard/"), cold=True
        ),
        Endpoint(f"scoreboard quarter {quarters[0]}", qs("period", quarters, "/scoreboard/")),
        Endpoint(
            f"scoreboard quarter {quarters[0]} (cold cache)",
            qs("period", quarters, "/scoreboard/"),
            cold=True,
        ),
        Endpoint(f"scoreboard year {years[0]}", qs("period", years, "/scoreboard/")),
        Endpoint(f"scoreboard year {years[0]} (cold cache)", qs("period", years, "/scoreboard/"), cold=True),
        Endpoint(
            "scoreboard department trend", [f"/scoreboard/department/{pk}/" for pk in trend_departments]
        ),
        Endpoint(
            "scoreboard department trend (cold cache)",
            [f"/scoreboard/department/{pk}/" for pk in trend_departments],
            cold=True,
        ),
        Endpoint("open311 requests.json (default 90 days)", ["/open311/v2/requests.json"]),
        Endpoint(
            "open311 requests.json service_code",
            qs("service_code", service_codes, "/open311/v2/requests.json"),
        ),
        Endpoint("open311 requests.json status=open", ["/open311/v2/requests.json?status=open"]),
        Endpoint("open311 requests.xml (default)", ["/open311/v2/requests.xml"]),
        Endpoint("api board", ["/api/v1/board"]),
        Endpoint("api board category", qs("category", leaf_categories, "/api/v1/board")),
        Endpoint(f"api board search {words['common'][0]}", qs("q", [words["common"][0]], "/api/v1/board")),
        Endpoint(f"api board page {FOLLOW + 1} (cursor)", ["/api/v1/board"], follow="json"),
        Endpoint(f"api scoreboard {months[0]}", qs("period", months, "/api/v1/scoreboard")),
        Endpoint(
            f"api scoreboard {months[0]} (cold cache)", qs("period", months, "/api/v1/scoreboard"), cold=True
        ),
        Endpoint(
            f"api scoreboard year {years[0]} (cold cache)",
            qs("period", years, "/api/v1/scoreboard"),
            cold=True,
        ),
        Endpoint(
            "api department trend (cold cache)",
            [f"/api/v1/scoreboard/departments/{pk}/trend" for pk in trend_departments],
            cold=True,
        ),
    ]


_NEXT_HTML = re.compile(r'<a\s+href="([^"]+)"[^>]*\brel="next"')


def next_url(url: str, response, kind: str) -> str | None:
    if kind == "json":
        cursor = response.json().get("next")
        if not cursor:
            return None
        from urllib.parse import urlencode, urlsplit

        return f"{urlsplit(url).path}?{urlencode({'cursor': cursor})}"
    match = _NEXT_HTML.search(response.content.decode())
    return unescape(match.group(1)) if match else None


def measure(endpoint: Endpoint, args: argparse.Namespace) -> Result:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    result = Result(endpoint)
    client = Client()
    urls = list(endpoint.urls)
    if not urls:
        result.error = "no URL (nothing in the data set to ask for)"
        return result
    if endpoint.follow:
        url = urls[0]
        for _step in range(FOLLOW):
            began = time.perf_counter()
            response = client.get(url)
            result.walk.append(time.perf_counter() - began)
            following = next_url(url, response, endpoint.follow) if response.status_code == 200 else None
            if following is None:
                result.error = f"no 'next' after {len(result.walk)} pages (HTTP {response.status_code})"
                return result
            url = following
        urls = [url]
    gc.collect()
    started = time.perf_counter()
    for i in range(args.warmup):
        if i and time.perf_counter() - started > args.budget / 4:
            result.note = f"{i} warm-up requests (budget)"
            break
        url = urls[i % len(urls)]
        if endpoint.cold:
            cache.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        result.queries.append(len(captured.captured_queries))
        result.sql_ms.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        for q in captured.captured_queries:
            if float(q["time"]) * 1000 > result.slowest[0]:
                result.slowest = (float(q["time"]) * 1000, q["sql"])
        if response.status_code >= 400 and i == 0:
            body = re.sub(r"\s+", " ", response.content.decode(errors="replace"))
            result.error = f"HTTP {response.status_code}: {body[:200]}"
    started = time.perf_counter()
    for i in range(args.requests):
        if i >= 3 and time.perf_counter() - started > args.budget:
            result.note = (result.note + "; " if result.note else "") + f"{i} timed requests (budget)"
            break
        url = urls[i % len(urls)]
        if endpoint.cold:
            cache.clear()
        began = time.perf_counter()
        response = client.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        result.times.append(time.perf_counter() - began)
        result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
        result.size = len(response.content) if not getattr(response, "streaming", False) else 0
    if args.explain:
        explain(endpoint, urls[0], client, args.explain_ms)
    if args.profile:
        profile(endpoint, urls[0], client, args.profile)
    print(f"  measured {endpoint.name}: p50 {result.p(50):.1f} ms, p99 {result.p(99):.1f} ms", flush=True)
    return result


def explain(endpoint: Endpoint, url: str, client, slower_than_ms: float) -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if endpoint.cold:
        cache.clear()
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    print(f"\n-- EXPLAIN ANALYZE: {endpoint.name}: GET {url}", flush=True)
    for n, query in enumerate(captured.captured_queries, start=1):
        ms = float(query["time"]) * 1000
        sql = query["sql"]
        if ms < slower_than_ms or not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        plan_lines = explain_lines(sql)
        print(f"[{n}] {ms:.1f} ms: {sql}")
        for line in plan_lines:
            print("    " + line)


EXPLAIN_TIMEOUT_S = 60


def explain_lines(sql: str) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of `sql`; only the plan when it runs longer than EXPLAIN_TIMEOUT_S."""
    from django.db import OperationalError, connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = '{EXPLAIN_TIMEOUT_S}s'")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return [row[0] for row in cursor.fetchall()]
    except OperationalError:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            return [f"(EXPLAIN ANALYZE stopped after {EXPLAIN_TIMEOUT_S} s; the plan:)"] + [
                row[0] for row in cursor.fetchall()
            ]


def profile(endpoint: Endpoint, url: str, client, top: int) -> None:
    import cProfile
    import io
    import pstats

    from django.core.cache import cache

    if endpoint.cold:
        cache.clear()
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats("/minyi/", top)  # our functions, by time inside them
    stats.sort_stats("tottime").print_stats(top)  # where the time itself goes
    print(f"\n-- profile: {endpoint.name}: GET {url}\n{out.getvalue()}", flush=True)


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def report(results: list[Result], args: argparse.Namespace) -> None:
    base = next((r for r in results if r.endpoint.name == BASELINE), None)
    b50 = base.p(50) if base and base.times else float("nan")
    b99 = base.p(99) if base and base.times else float("nan")
    width = max(len(r.endpoint.name) for r in results)
    print(
        f"\n== server time per request over {args.requests} requests after {args.warmup} warm-up requests "
        f"(django.test.Client in-process; queries counted on the warm-up requests)"
    )
    print(
        f"{'endpoint':<{width}}  {'n':>3} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}  {'queries':>7}  {'SQL ms':>6}"
        f"  {'p50/base':>8} {'p99/base':>8}  {'HTTP':<9} target"
    )
    failed = []
    for r in results:
        e = r.endpoint
        if not r.times:
            print(f"{e.name:<{width}}  not measured: {r.error}")
            failed.append(r)
            continue
        lo, hi = (min(r.queries), max(r.queries)) if r.queries else (0, 0)
        queries = f"{lo}" if lo == hi else f"{lo}-{hi}"
        http = ",".join(
            f"{k}" + (f"x{v}" if len(r.statuses) > 1 else "") for k, v in sorted(r.statuses.items())
        )
        ok = r.p(99) < TARGET_P99_MS and hi <= TARGET_QUERIES and set(r.statuses) == {200}
        verdict = "ok" if ok else "MISSED" if set(r.statuses) == {200} else "ERROR"
        if e.name == BASELINE:
            verdict = "-"
        print(
            f"{e.name:<{width}}  {len(r.times):>3} {r.p(50):7.1f} {r.p(99):7.1f} {max(r.times) * 1000:7.1f}  {queries:>7}  "
            f"{statistics.median(r.sql_ms) if r.sql_ms else 0:6.1f}  {r.p(50) / b50:8.1f} {r.p(99) / b99:8.1f}  "
            f"{http:<9} {verdict}"
        )
        if r.error:
            failed.append(r)
    notes = [r for r in results if r.note]
    if notes:
        print(
            "\nstopped early (--budget "
            + f"{args.budget:.0f} s): "
            + "; ".join(f"{r.endpoint.name}: {r.note}" for r in notes)
        )
    walks = [r for r in results if r.walk]
    if walks:
        print(f"\n== walking 'next' {FOLLOW} times from the first page (each step timed once)")
        for r in walks:
            steps = [s * 1000 for s in r.walk]
            print(
                f"  {r.endpoint.name}: steps p50 {statistics.median(steps):.1f} ms, max {max(steps):.1f} ms, "
                f"first {steps[0]:.1f} ms, last {steps[-1]:.1f} ms"
            )
    print("\n== slowest SQL query of each endpoint (warm-up requests)")
    for r in results:
        if r.slowest[1]:
            sql = re.sub(r"\s+", " ", r.slowest[1])
            print(f"  {r.endpoint.name}: {r.slowest[0]:.1f} ms: {sql[:400]}")
    for r in failed:
        print(f"\nproblem: {r.endpoint.name}: {r.error} ({r.endpoint.urls[:2]})")


if __name__ == "__main__":
    sys.exit(main())
