"""HTTP benchmark of the public API: submission (POST /api/v1/appeals) and tracking
(GET /api/v1/appeals/{no}?query_code=...), each next to a baseline served by the same server in the same
run: GET /bench/ping, the cheapest Django view (no database), enabled by MINYI_BENCH_BASELINE=1.

What it does:
1. (re)creates and migrates its own PostgreSQL database (default minyi_bench; --keep-db reuses it);
2. starts gunicorn (2 sync workers by default) with DJANGO_DEBUG=0, rate limits off, persistent DB
   connections (DB_CONN_MAX_AGE=60, as docs/deployment.md advises for PostgreSQL);
3. warms up, then for each repeat measures baseline, submit and track: a fixed number of requests at a fixed
   concurrency from an asyncio load generator on the same machine (one connection per request, since sync
   workers close them), each run bounded in time;
4. prints requests per second and p50/p99 latency per repeat, then the medians, and each endpoint's ratio
   to the baseline of the same run;
5. always stops gunicorn (try/finally).

    .venv/bin/python benchmarks/http_submit.py                       # 2,000 requests each, concurrency 8, 3 repeats
    .venv/bin/python benchmarks/http_submit.py --requests 500 --repeats 1   # a quick look

Load generator, server and PostgreSQL share the machine, so absolute figures depend on it; the ratios to
the baseline are the comparable part. Never run by `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/minyi_bench"


@dataclass
class Run:
    name: str
    count: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000


# ---------------------------------------------------------------------------------------------- setup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(url: str, *, keep: bool, env: dict[str, str]) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not keep:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    print(f"migrating {name} ...", flush=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True
    )


def start_server(env: dict[str, str], port: int, workers: int, log_path: Path) -> subprocess.Popen:
    log = log_path.open("wb")
    return subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--backlog", "2048",
            "--timeout", "60", "--log-level", "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


# ---------------------------------------------------------------------------------------------- load


async def _request(port: int, raw: bytes) -> tuple[int, bytes, float]:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    elapsed = time.perf_counter() - start
    status = int(data[9:12]) if data[:5] == b"HTTP/" else 0
    return status, data.partition(b"\r\n\r\n")[2], elapsed


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def _post_json(path: str, body: dict) -> bytes:
    data = json.dumps(body, ensure_ascii=False).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def load(
    name: str, port: int, make_request, *, count: int, concurrency: int, expect: int, limit_seconds: float
) -> tuple[Run, list[bytes]]:
    """`count` requests, `concurrency` at a time; make_request(i) -> raw bytes. Returns the run and bodies."""
    latencies: list[float] = []
    bodies: list[bytes] = []
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < count:
            i = next_index
            next_index += 1
            try:
                status, body, elapsed = await _request(port, make_request(i))
            except OSError:
                errors += 1
                continue
            if status != expect:
                errors += 1
                continue
            latencies.append(elapsed)
            bodies.append(body)

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout=limit_seconds)
    seconds = time.perf_counter() - start
    return Run(name, len(latencies), seconds, latencies, errors), bodies


def appeal(i: int) -> dict:
    return {
        "title": f"基准测试：第{i}号楼门口路灯不亮",
        "content": f"江北区滨江路{i}号门口的路灯已经坏了一周，晚上出行很不方便，请尽快维修。",
        "kind": "complaint",
    }


# ---------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per endpoint (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--database-url", default=os.environ.get("MINYI_BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--keep-db", action="store_true", help="reuse the database instead of recreating it")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds allowed per measurement")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "benchmark-secret-key-not-for-production-0123456789",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": args.database_url,
        "DB_CONN_MAX_AGE": "60",
        "MINYI_RATE_LIMIT_ENABLED": "0",
        "MINYI_BENCH_BASELINE": "1",
        "MINYI_LOG_LEVEL": "WARNING",
        "EMAIL_URL": "consolemail://",
    }
    prepare_database(args.database_url, keep=args.keep_db, env=env)
    port = _free_port()
    log_path = REPO / "var" / "bench-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    server = start_server(env, port, args.workers, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _body, _t = asyncio.run(_request(port, _get("/healthz")))
                if status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(f"gunicorn did not start; see {log_path}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return asyncio.run(measure(args, port))
    finally:
        stop_server(server)


async def measure(args, port: int) -> int:
    kw = {"concurrency": args.concurrency, "limit_seconds": args.time_limit}
    serial = 0

    def submit_request(i: int) -> bytes:
        nonlocal serial
        serial += 1
        return _post_json("/api/v1/appeals", appeal(serial))

    # Warm-up: imports, connections, caches. Not measured.
    await load("warm-up", port, lambda i: _get("/bench/ping"), count=200, expect=200, **kw)
    _run, warm = await load("warm-up", port, submit_request, count=100, expect=201, **kw)
    receipts = [json.loads(b) for b in warm]
    await load(
        "warm-up",
        port,
        lambda i: _get(f"/api/v1/appeals/{receipts[i % len(receipts)]['tracking_number']}"
                       f"?query_code={receipts[i % len(receipts)]['query_code']}"),
        count=100,
        expect=200,
        **kw,
    )  # fmt: skip

    print(
        f"\n{args.requests} requests per measurement, concurrency {args.concurrency}, "
        f"gunicorn {args.workers} sync workers, PostgreSQL, {os.cpu_count()} CPUs shared with the load generator\n"
    )
    print(f"{'repeat':>6}  {'endpoint':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    runs: dict[str, list[Run]] = {"baseline": [], "submit": [], "track": []}
    for repeat in range(1, args.repeats + 1):
        baseline, _ = await load(
            "baseline", port, lambda i: _get("/bench/ping"), count=args.requests, expect=200, **kw
        )
        submit, bodies = await load("submit", port, submit_request, count=args.requests, expect=201, **kw)
        receipts = [json.loads(b) for b in bodies] or receipts

        def track_request(i: int, receipts=receipts) -> bytes:
            r = receipts[i % len(receipts)]
            return _get(f"/api/v1/appeals/{r['tracking_number']}?query_code={r['query_code']}")

        track, _ = await load("track", port, track_request, count=args.requests, expect=200, **kw)
        for run in (baseline, submit, track):
            runs[run.name].append(run)
            print(
                f"{repeat:>6}  {run.name:<10} {run.rps:>8.0f} {run.percentile(50):>8.1f} "
                f"{run.percentile(99):>8.1f} {run.errors:>6}"
            )

    def med(name: str, key) -> float:
        return statistics.median(key(r) for r in runs[name])

    base_rps = med("baseline", lambda r: r.rps)
    base_p50 = med("baseline", lambda r: r.percentile(50))
    print(f"\nmedians of {args.repeats} repeats (ratio = endpoint / baseline of the same run)")
    print(f"{'endpoint':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s ratio':>12} {'p50 ratio':>10}")
    for name in ("baseline", "submit", "track"):
        rps, p50, p99 = (
            med(name, lambda r: r.rps),
            med(name, lambda r: r.percentile(50)),
            med(name, lambda r: r.percentile(99)),
        )
        print(
            f"{name:<10} {rps:>8.0f} {p50:>8.1f} {p99:>8.1f} {rps / base_rps:>12.3f} {p50 / base_p50:>10.2f}"
        )
    errors = sum(r.errors for rs in runs.values() for r in rs)
    if errors:
        print(f"\n{errors} requests failed or answered an unexpected status", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
