"""The "Done when" of issue 2: 200 appeals, each sent three times at once by different concurrent clients
with the same Idempotency-Key — 600 requests across 50 clients — store exactly 200 cases; every repeat
returns the first response (same tracking number and query code); no request answers 5xx.

Two variants, one per database the project supports:
- PostgreSQL: a threaded live server (Django's, with a longer listen queue) on the test database;
- SQLite: the embedded default cannot be shared between a live server's threads while it is pytest's
  in-memory test database, so this variant migrates a database file of its own and serves it with
  gunicorn (2 processes x 25 threads), as a small deployment would.
Each runs only when the configured database is of its kind, so `make test` on either database runs one.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.db import connection

REPO = Path(__file__).resolve().parent.parent
APPEALS, REPEATS, CLIENTS = 200, 3, 50


def _body(i: int) -> dict:
    return {
        "title": f"并发测试第{i}件：小区路灯不亮",
        "content": f"第{i}号楼门口的路灯已经坏了一周，夜间出行不便。",
        "kind": "complaint",
    }


def hammer(base_url: str) -> dict[str, list[tuple[int, bytes, bool]]]:
    """Send every appeal REPEATS times, the repeats released together by a barrier, from CLIENTS threads."""
    barriers = {i: threading.Barrier(REPEATS, timeout=60) for i in range(APPEALS)}
    results: dict[str, list[tuple[int, bytes, bool]]] = defaultdict(list)
    senders: dict[str, set[str]] = defaultdict(set)
    lock = threading.Lock()

    def send(i: int) -> None:
        key = f"concurrency-{i:04d}"
        data = json.dumps(_body(i), ensure_ascii=False).encode()
        barriers[i].wait()  # the three sends of one key leave together, from three different threads
        try:
            response = requests.post(
                f"{base_url}/api/v1/appeals",
                data=data,
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
                timeout=60,
            )
            outcome = (
                response.status_code,
                response.content,
                response.headers.get("Idempotent-Replayed") == "true",
            )
        except requests.RequestException as exc:
            outcome = (599, repr(exc).encode(), False)
        with lock:
            results[key].append(outcome)
            senders[key].add(threading.current_thread().name)

    with ThreadPoolExecutor(max_workers=CLIENTS, thread_name_prefix="client") as pool:
        futures = [pool.submit(send, i) for i in range(APPEALS) for _ in range(REPEATS)]
        for future in futures:
            future.result()
    assert all(len(names) == REPEATS for names in senders.values()), "each repeat came from another client"
    return results


def check(results: dict[str, list[tuple[int, bytes, bool]]]) -> set[str]:
    """Every answer 201; per key, three identical bodies of which two are replays. Returns the tracking numbers."""
    assert sum(len(v) for v in results.values()) == APPEALS * REPEATS
    statuses = [status for outcomes in results.values() for status, _body, _replayed in outcomes]
    assert not [s for s in statuses if s >= 500], "no request may answer 5xx"
    assert set(statuses) == {201}, sorted(set(statuses))
    numbers = set()
    for key, outcomes in results.items():
        bodies = {body for _status, body, _replayed in outcomes}
        assert len(bodies) == 1, f"{key}: the repeats did not replay the first response"
        assert sorted(replayed for _status, _body, replayed in outcomes) == [False, True, True], key
        receipt = json.loads(bodies.pop())
        assert receipt["query_code"] and receipt["tracking_number"]
        numbers.add(receipt["tracking_number"])
    assert len(numbers) == APPEALS
    return numbers


# ---------------------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def big_queue_live_server(settings):
    """pytest-django's LiveServer, with a listen queue that holds 50 clients connecting at once."""
    from django.core.servers.basehttp import ThreadedWSGIServer
    from pytest_django.live_server_helper import LiveServer

    class Server(ThreadedWSGIServer):
        request_queue_size = 256

    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL variant: set DATABASE_URL=postgres://... (the SQLite variant below runs on SQLite)"
        )
    settings.MINYI_RATE_LIMIT_ENABLED = False
    server = LiveServer("127.0.0.1:0", start=False)
    server.thread.server_class = Server
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_create_each_appeal_once_postgresql(big_queue_live_server):
    from minyi.cases.models import Case
    from minyi.intake.models import IdempotencyRecord

    numbers = check(hammer(big_queue_live_server.url))

    assert Case.objects.count() == APPEALS
    assert set(Case.objects.values_list("tracking_number", flat=True)) == numbers
    assert IdempotencyRecord.objects.count() == APPEALS


# ---------------------------------------------------------------------------------------------- SQLite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sqlite_gunicorn(tmp_path):
    database = tmp_path / "concurrency.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{database}",
        "MINYI_RATE_LIMIT_ENABLED": "0",
        "MINYI_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--worker-class", "gthread", "--threads", "25", "--backlog", "256",
         "--timeout", "120"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn did not start: {(tmp_path / 'gunicorn.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield base, database
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_concurrent_repeats_create_each_appeal_once_sqlite(request):
    if connection.vendor != "sqlite":
        pytest.skip(
            "SQLite variant: runs when the configured database is SQLite (the PostgreSQL variant runs here)"
        )
    base, database = request.getfixturevalue("sqlite_gunicorn")

    numbers = check(hammer(base))

    with sqlite3.connect(database) as db:
        stored = [row[0] for row in db.execute("SELECT tracking_number FROM cases_case")]
        records = db.execute("SELECT COUNT(*) FROM intake_idempotencyrecord").fetchone()[0]
    assert len(stored) == APPEALS
    assert set(stored) == numbers
    assert records == APPEALS
