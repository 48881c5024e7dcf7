"""Export benchmark: the staff case list as CSV and XLSX (/staff/export.csv|.xlsx) for 100,000 cases.

What it does:
1. makes a scratch database: a temporary SQLite file, or, when DATABASE_URL is set, a database named
   --db-name (default minyi_bench_export) on that PostgreSQL server (dropped and recreated unless
   --keep-db; the database DATABASE_URL itself names is never touched); migrates it (call_command);
2. fills it with --rows cases (bulk_create: regions, departments, categories, triage for 80% of them,
   some duplicates and merges), all visible to one supervisor;
3. checks once that both downloads hold every row;
4. for each of --repeats rounds, measures in a fresh Python process each (so that each peak RSS is the
   process's own: VmHWM):
   - baseline: iterating the export's queryset (same filters, joins and chunk size) without rendering,
   - rows: building the export rows (minyi.cases.exports.case_export_rows) without writing a file,
   - csv and xlsx: the full download through Django's test Client (middleware, view, streaming),
   the time to the first byte, to the second chunk (the first that needed rows, for the downloads), the
   total time, rows/s, the peak RSS and how much of it the run added;
5. prints the medians and each step's ratios (time, peak RSS) to the baseline.

    .venv/bin/python benchmarks/export.py                      # SQLite, 100,000 rows, 3 repeats
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/minyi_ci .venv/bin/python benchmarks/export.py
    .venv/bin/python benchmarks/export.py --rows 10000 --repeats 1   # a quick look

Everything shares the machine, so absolute figures depend on it; the ratios are the comparable part.
A sync gunicorn worker is killed after GUNICORN_TIMEOUT (30 s by default) of one request, so the total time
of a download is what must stay well under it. Never run by `make test`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PHRASES = [
    "小区电梯已经停运两周",
    "老人上下楼非常困难",
    "物业公司一直推诿不处理",
    "夜间施工噪音扰民严重",
    "道路井盖缺失存在安全隐患",
    "供水水压不足，高层住户无法正常用水",
    "楼下餐馆油烟直排",
    "公交站台损坏无人维修",
    "工资被拖欠三个月",
    "孩子入学报名遇到困难",
    "路灯不亮，晚上出行不便",
    "垃圾清运不及时，气味难闻",
    "希望相关部门尽快核实处理",
    "多次拨打电话未得到答复",
    "请尽快安排人员到现场查看",
    "违章停车堵塞消防通道",
]


@dataclass
class Run:
    name: str
    rows: int
    seconds: float
    first_byte: float | None = None
    first_data: float | None = None
    rss_growth_mb: float = 0.0
    size: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    """The resident memory of this process now."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    return _status_mb("VmHWM")


# ---------------------------------------------------------------------------------------------- database


def scratch_database(args: argparse.Namespace) -> tuple[str, tempfile.TemporaryDirectory | None]:
    """The scratch database's URL (created empty unless --keep-db), and the temp dir to clean up."""
    given = os.environ.get("DATABASE_URL", "")
    if not given.startswith("postgres"):
        tmp = tempfile.TemporaryDirectory(prefix="minyi-export-bench-")
        return f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}", tmp
    import psycopg

    parts = urllib.parse.urlsplit(given)
    name = args.db_name
    if name == parts.path.lstrip("/"):
        sys.exit(f"--db-name {name} is the database DATABASE_URL names: choose a scratch name")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not args.keep_db:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}")), None


def fill(count: int, seed: int = 12345):
    """`count` cases visible to the returned supervisor (existing rows are reused when there are enough)."""
    from minyi.accounts.models import Department, Membership, Region, Role, User
    from minyi.cases.models import Case
    from minyi.cases.workflow import CaseStatus
    from minyi.core.choices import Channel, Kind, Priority
    from minyi.intake.models import Triage
    from minyi.routing.models import Category

    user, _created = User.objects.get_or_create(username="bench_supervisor")
    existing = Case.objects.count()
    if existing >= count:
        print(f"reusing {existing} cases", flush=True)
        return user, existing
    if existing:
        sys.exit(f"the scratch database holds {existing} cases, fewer than --rows: drop it (no --keep-db)")
    rng = random.Random(seed)
    city = Region.objects.create(name="江城市", code="bench-city", level=Region.Level.CITY)
    regions = [
        Region.objects.create(name=f"第{i}区", code=f"bench-r{i}", parent=city, level=Region.Level.DISTRICT)
        for i in range(12)
    ]
    centre = Department.objects.create(name="市12345热线中心", code="bench-hotline")
    bureaus = [Department.objects.create(name=f"市第{i}局", code=f"bench-d{i}") for i in range(10)]
    sections = [
        Department.objects.create(name=f"{b.name}第{j}科", code=f"{b.code}-{j}", parent=b)
        for b in bureaus
        for j in range(2)
    ]
    departments = bureaus + sections
    categories = [Category.objects.create(name=f"分类{i}", code=f"bench-c{i}") for i in range(40)]
    Membership.objects.get_or_create(user=user, department=centre, role=Role.SUPERVISOR)

    statuses = [
        *[CaseStatus.CLOSED] * 5,
        *[CaseStatus.IN_PROGRESS] * 2,
        CaseStatus.ASSIGNED,
        CaseStatus.REPLIED,
        CaseStatus.SUBMITTED,
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    print(f"creating {count} cases ...", flush=True)
    began = time.perf_counter()
    batch = []
    for i in range(count):
        created = start + timedelta(minutes=5 * i + rng.randrange(5))
        status = statuses[i % len(statuses)]
        dispatched = status != CaseStatus.SUBMITTED
        text = "，".join(rng.choice(PHRASES) for _ in range(rng.randint(3, 12))) + "。"
        batch.append(
            Case(
                tracking_number=f"MY{created:%Y%m%d}{i:07d}",
                external_number=f"HIST{i}" if i % 10 == 0 else "",
                query_code_hash="bench",
                kind=Kind.values[i % len(Kind.values)],
                channel=Channel.values[i % len(Channel.values)],
                priority=Priority.URGENT if i % 17 == 0 else Priority.ORDINARY,
                title=rng.choice(PHRASES),
                content=text,
                status=status,
                category=rng.choice(categories),
                region=rng.choice(regions),
                department=rng.choice(departments) if dispatched else None,
                accepted_at=created + timedelta(hours=2) if dispatched else None,
                replied_at=created + timedelta(days=3)
                if status in (CaseStatus.REPLIED, CaseStatus.CLOSED)
                else None,
                closed_at=created + timedelta(days=5) if status == CaseStatus.CLOSED else None,
                due_at=created + timedelta(days=rng.randint(1, 60)),
                escalation_count=i % 3 if i % 13 == 0 else 0,
                is_repeat=i % 29 == 0,
                created_at=created,
            )
        )
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            batch = []
    if batch:
        Case.objects.bulk_create(batch)
    ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    triage = []
    for n, pk in enumerate(ids):
        if n % 5 == 4:
            continue
        triage.append(
            Triage(
                case_id=pk,
                category=rng.choice(categories),
                category_confidence=round(rng.random(), 3),
                department=rng.choice(departments),
                risk_score=rng.randrange(100),
                risk_level=rng.choice(Triage.RiskLevel.values),
                triaged_at=start,
            )
        )
        if len(triage) == 5000:
            Triage.objects.bulk_create(triage)
            triage = []
    if triage:
        Triage.objects.bulk_create(triage)
    for n in range(50, len(ids), 500):
        Case.objects.filter(pk__in=ids[n : n + 500 : 50]).update(duplicate_of_id=ids[n - 1])
        Case.objects.filter(pk__in=ids[n + 7 : n + 500 : 97]).update(merged_into_id=ids[n - 2])
    print(f"  {count} cases in {time.perf_counter() - began:.1f} s", flush=True)
    return user, count


# ---------------------------------------------------------------------------------------------- runs


def run_baseline(user) -> Run:
    from django.utils import timezone

    from minyi.cases import exports
    from minyi.cases.selectors import CaseFilters

    base = rss_mb()
    peak = base
    began = time.perf_counter()
    queryset = exports.case_export_queryset(user=user, filters=CaseFilters(), now=timezone.now())
    rows = 0
    for _case in queryset.iterator(chunk_size=exports.CHUNK_SIZE):
        rows += 1
        if rows % 2000 == 0:
            peak = max(peak, rss_mb())
    return Run("baseline (queryset)", rows, time.perf_counter() - began, rss_growth_mb=peak - base)


def run_rows(user) -> Run:
    from django.utils import timezone

    from minyi.cases import exports
    from minyi.cases.selectors import CaseFilters

    base = rss_mb()
    peak = base
    began = time.perf_counter()
    _header, rows = exports.case_export_rows(user=user, filters=CaseFilters(), now=timezone.now())
    count = 0
    for _row in rows:
        count += 1
        if count % 2000 == 0:
            peak = max(peak, rss_mb())
    return Run("rows (no file)", count, time.perf_counter() - began, rss_growth_mb=peak - base)


def run_download(client, fmt: str, expected_rows: int) -> Run:
    from django.urls import reverse

    url = reverse(f"cases:export_{fmt}")
    base = rss_mb()
    peak = base
    began = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200 or not response.streaming:
        sys.exit(f"{url}: HTTP {response.status_code}")
    chunks = iter(response.streaming_content)
    first = next(chunks)
    first_byte = time.perf_counter() - began
    size = len(first)
    first_data = None
    for chunk in chunks:
        if first_data is None:
            first_data = time.perf_counter() - began
        size += len(chunk)
        peak = max(peak, rss_mb())
    response.close()
    seconds = time.perf_counter() - began
    return Run(
        fmt, expected_rows, seconds, first_byte=first_byte, first_data=first_data, rss_growth_mb=peak - base,
        size=size,
    )  # fmt: skip


def check_download(client, fmt: str, expected_rows: int) -> None:
    """Once, outside the timings: the file holds every row."""
    import csv
    import io
    import zipfile

    from django.urls import reverse

    body = b"".join(client.get(reverse(f"cases:export_{fmt}")).streaming_content)
    if fmt == "csv":
        rows = sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""))) - 1
    else:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            rows = archive.read("xl/worksheets/sheet1.xml").count(b"<row ") - 1
    if rows != expected_rows:
        sys.exit(f"{fmt}: {rows} rows in the file, expected {expected_rows}")


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


MEASURES = ("baseline (queryset)", "rows (no file)", "csv", "xlsx")


def child(name: str, count: int) -> int:
    """One measurement in this fresh process; prints it as JSON (the peak RSS is this process's own)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import resolve
    from django.utils import timezone

    from minyi.cases import exports
    from minyi.cases.selectors import CaseFilters

    user = get_user_model().objects.get(username="bench_supervisor")
    client = Client()
    client.force_login(user)
    resolve("/staff/export.csv")  # import every view module now, so no step's RSS counts imports
    # Warm the connection and the query compiler the same way for every step.
    list(exports.case_export_queryset(user=user, filters=CaseFilters(), now=timezone.now())[:100])
    gc.collect()
    before = rss_mb()
    if name == "baseline (queryset)":
        run = run_baseline(user)
    elif name == "rows (no file)":
        run = run_rows(user)
    else:
        run = run_download(client, name, count)
    result = {
        "seconds": run.seconds,
        "rows": run.rows,
        "first_byte": run.first_byte,
        "first_data": run.first_data,
        "size": run.size,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def measure(name: str, count: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, "--rows", str(count)],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        sys.exit(f"{name}: the measuring process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db-name", default="minyi_bench_export", help="the scratch PostgreSQL database")
    parser.add_argument("--keep-db", action="store_true", help="reuse the scratch PostgreSQL database")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ["MINYI_RATE_LIMIT_ENABLED"] = "0"
    if args.child:
        return child(args.child, args.rows)

    url, tmp = scratch_database(args)
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    try:
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
        began = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        print(f"  migrated in {time.perf_counter() - began:.1f} s", flush=True)
        user, count = fill(args.rows)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        client = Client()
        client.force_login(user)
        for fmt in ("csv", "xlsx"):
            check_download(client, fmt, count)
        connection.close()

        runs: dict[str, list[dict]] = {name: [] for name in MEASURES}
        for repeat in range(args.repeats):
            for name in MEASURES:
                run = measure(name, count)
                runs[name].append(run)
                print(
                    f"  run {repeat + 1} {name:20} {run['seconds']:7.3f} s"
                    f"  {count / run['seconds']:9.0f} rows/s  first byte {fmt_seconds(run['first_byte'])} s"
                    f"  peak RSS {run['peak_rss_mb']:.0f} MB (before the run {run['rss_before_mb']:.0f} MB)",
                    flush=True,
                )

        print()
        print(f"{count} rows, {connection.vendor}, medians of {args.repeats} runs (each in a fresh process)")
        print(
            f"{'':21}{'total s':>8}{'rows/s':>9}{'1st byte s':>11}{'1st data s':>11}"
            f"{'peak RSS MB':>12}{'+ in run':>9}{'MB out':>8}{'x time':>7}{'x RSS':>6}"
        )

        def med(name: str, key: str) -> float | None:
            values = [r[key] for r in runs[name] if r[key] is not None]
            return statistics.median(values) if values else None

        base_time = med(MEASURES[0], "seconds")
        base_rss = med(MEASURES[0], "peak_rss_mb")
        for name in MEASURES:
            seconds = med(name, "seconds")
            peak = med(name, "peak_rss_mb")
            growth = statistics.median(r["peak_rss_mb"] - r["rss_before_mb"] for r in runs[name])
            print(
                f"{name:21}{seconds:8.3f}{count / seconds:9.0f}"
                f"{fmt_seconds(med(name, 'first_byte')):>11}{fmt_seconds(med(name, 'first_data')):>11}"
                f"{peak:12.0f}{growth:9.1f}{med(name, 'size') / 1e6:8.1f}"
                f"{seconds / base_time:7.2f}{peak / base_rss:6.2f}"
            )
    finally:
        connection.close()
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
