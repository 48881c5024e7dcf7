"""`minyi import` as real processes against a database of their own: killed with SIGKILL halfway and run again,
nothing is lost and nothing doubled; a file of a million rows streams through in bounded memory.

The database is a scratch one made for this module: a SQLite file, or, when the suite runs on PostgreSQL
(DATABASE_URL=postgres://...), a PostgreSQL database created and dropped here.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[3]
ROWS = 3_000


class ScratchDatabase:
    def __init__(self, folder: Path) -> None:
        main = os.environ.get("DATABASE_URL", "")
        self.postgres = main.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            parsed = urlparse(main)
            self.name = f"minyi_proc_{uuid.uuid4().hex[:10]}"
            self.admin_url = parsed._replace(path="/postgres").geturl()
            self.url = parsed._replace(path=f"/{self.name}").geturl()
            self._admin(f'CREATE DATABASE "{self.name}"')
        else:
            self.path = folder / "scratch.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def query(self, sql: str) -> list[tuple]:
        if self.postgres:
            import psycopg

            with psycopg.connect(self.url) as conn:
                return list(conn.execute(sql).fetchall())
        with sqlite3.connect(self.path, timeout=30) as conn:
            return list(conn.execute(sql).fetchall())

    def drop(self) -> None:
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def minyi(db: ScratchDatabase, *args: str, **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "minyi", *args], cwd=popen.pop("cwd", ROOT), env=env, **popen
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    db = ScratchDatabase(tmp_path_factory.mktemp("scratch-db"))
    try:
        migrate = minyi(db, "migrate", "--noinput", stdout=subprocess.DEVNULL)
        assert finish(migrate) == 0
        yield db
    finally:
        db.drop()


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def write_rows(path: Path, count: int, *, long: bool = True) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["留言编号", "留言主题", "留言时间", "留言详情", "一级分类"])
        for i in range(1, count + 1):
            content = (
                f"第{i}号留言：编号{i * 7919 % 100003}的小区{i % 97}号楼{'电梯停运' if i % 2 else '水管漏水'}，"
                f"已经{i % 30 + 1}天没有人来处理，请相关部门尽快解决。"
                if long
                else f"留言{i}"
            )
            writer.writerow([str(i), f"留言{i}", "2019/4/16 22:05:13", content, "城乡建设"])
    return path


def test_kill_minus_nine_halfway_then_a_rerun_finishes_with_no_row_lost_or_doubled(scratch, tmp_path):
    path = write_rows(tmp_path / "three-thousand.csv", ROWS)
    process = minyi(scratch, "import", str(path), "--batch-size", "100", "-q", cwd=tmp_path,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 300
    checkpoint = 0
    while time.monotonic() < deadline and process.poll() is None:
        rows = scratch.query("SELECT checkpoint_row FROM intake_importjob")
        checkpoint = rows[0][0] if rows else 0
        if checkpoint >= ROWS // 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, f"the import ended before it could be killed: {process.stderr.read()!r}"
    workers = children_of(process.pid)  # the analysis worker (minyi import --workers 1, the default)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert workers, "the import ran without its analysis worker"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), "the analysis worker outlived the killed import"
    # what the killed run left: whole batches only, matching its checkpoint
    (status, checkpoint, imported), = scratch.query("SELECT status, checkpoint_row, imported FROM intake_importjob")  # fmt: skip
    cases = scratch.query("SELECT count(*) FROM cases_case")[0][0]
    assert status == "running" and ROWS // 2 <= checkpoint < ROWS + 1
    assert cases == imported == checkpoint - 1  # the header is row 1
    # the rerun finishes the job
    rerun = minyi(
        scratch, "import", str(path), "--batch-size", "100", "-q", cwd=tmp_path, stdout=subprocess.PIPE
    )
    out, _err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out
    assert b"resumed job" in out
    assert scratch.query("SELECT count(*), count(DISTINCT external_number), count(DISTINCT tracking_number) "
                         "FROM cases_case") == [(ROWS, ROWS, ROWS)]  # fmt: skip
    assert scratch.query("SELECT count(*) FROM intake_importrow") == [(ROWS,)]
    assert scratch.query("SELECT count(*) FROM intake_triage") == [(ROWS,)]
    # the duplicate index's bucket rows, put off during the import, were written at its end
    assert scratch.query("SELECT count(*) FROM intake_duplicatesignature WHERE NOT bucketed") == [(0,)]
    assert scratch.query("SELECT count(DISTINCT case_id) FROM intake_duplicatebucket") == [(ROWS,)]
    assert scratch.query("SELECT count(*) FROM cases_caseevent WHERE action = 'import'") == [(ROWS,)]
    assert scratch.query("SELECT status, imported FROM intake_importjob") == [("finished", ROWS)]
    # and once more: nothing to add
    again = minyi(scratch, "import", str(path), "-q", cwd=tmp_path, stdout=subprocess.PIPE)
    out, _err = again.communicate(timeout=600)
    assert again.returncode == 0 and b"already imported" in out
    assert scratch.query("SELECT count(*) FROM cases_case") == [(ROWS,)]


def peak_rss_kib(process: subprocess.Popen) -> int:
    """The high-water mark of a running child's own memory (VmHWM), polled until it exits.

    Not getrusage: a child's ru_maxrss also counts the parent's pages it shared between fork and exec, so under a
    test runner of several hundred MB it measures the runner."""
    peak = 0
    while process.poll() is None:
        try:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.1)
    return peak


def test_a_million_rows_stream_through_in_bounded_memory(scratch, tmp_path):
    path = write_rows(tmp_path / "million.csv", 1_000_000, long=False)
    with open(tmp_path / "out.txt", "wb") as out:
        process = minyi(scratch, "import", str(path), "--dry-run", "--source", "million", "--batch-size", "2000",
                        "-q", cwd=tmp_path, stdout=out)  # fmt: skip
        peak = peak_rss_kib(process)
    output = (tmp_path / "out.txt").read_bytes()
    assert process.returncode == 0, output
    assert b"rows read 1,000,000; would import 1,000,000" in output
    # The file is 20 MB of text; holding its rows as Python objects would take several hundred MB. What stays in
    # memory per row is the hash of its identity, to count repeats within the file.
    assert 0 < peak < 400 * 1024, f"peak RSS {peak / 1024:.0f} MiB"
    assert scratch.query("SELECT count(*) FROM cases_case WHERE external_number = '999999'") == [(0,)]
