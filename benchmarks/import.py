"""`minyi import` of 1,000,000 appeals into PostgreSQL with full triage: rows/s, peak memory, kill -9 and resume.

    .venv/bin/python benchmarks/import.py [--rows 1000000] [--pg postgres://postgres@127.0.0.1:5432/postgres]
                                          [--no-kill] [--latency 300] [--keep] [--file existing.csv]

1. Builds a CSV of --rows appeals by resampling and editing the real messages of ../shared/data (our own edits:
   3–8 sentences recombined with 5% of characters changed, or a repost of a real message with a greeting,
   swapped sentences and punctuation; ids 1..N, users drawn from 300,000, times 2018–2020 in three formats
   including spreadsheet serial numbers, a category and department where the source message had a label, a
   real reply for 40%).
2. Baseline, same file: `minyi import --dry-run` (read, parse and validate every row; no triage, no writes).
3. Full import into a fresh PostgreSQL database (`minyi import --batch-size 1000`), as a child process: wall
   time, rows/s, the child's peak RSS, the database's size.
4. Triage latency on arrival with the million-appeal index: --latency new appeals submitted through
   minyi.intake.services and triaged by minyi.intake.triage.triage_case in this process; p50/p99, against the
   text part alone (analyse) in the same process.
5. kill -9 at 50% on a second fresh database, then the rerun: how long until it imports its first new row
   (the resume overhead), how long it takes to finish, and that no row is lost or doubled.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

REPO = Path(__file__).resolve().parent.parent
DEPARTMENTS = {
    "城乡建设": "市住房和城乡建设局",
    "劳动和社会保障": "市人力资源和社会保障局",
    "教育文体": "市教育局",
    "商贸旅游": "市商务局",
    "环境保护": "市生态环境局",
    "卫生计生": "市卫生健康委员会",
    "交通运输": "市交通运输局",
}
EPOCH = datetime(1899, 12, 30)


def sources() -> list[dict[str, str]]:
    """Every real message with what the files say of it: text, label, reply."""
    out = []
    for r in c.read_csv("appeals_labeled.csv"):
        out.append({"title": r["title"], "detail": r["detail"], "label": r["label"], "reply": ""})
    for r in c.read_csv("appeals_with_replies.csv"):
        out.append({"title": r["留言主题"], "detail": r["留言详情"], "label": "", "reply": r["答复意见"]})
    for name in ("hot_messages.csv", "appeals_unlabeled.csv"):
        for r in c.read_csv(name):
            out.append({"title": r["留言主题"], "detail": r["留言详情"], "label": "", "reply": ""})
    return out


def fmt_time(moment: datetime, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.7:
        return (
            f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:{moment.minute:02d}:{moment.second:02d}"
        )
    if roll < 0.9:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{(moment - EPOCH).total_seconds() / 86400:.6f}"


def build_file(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    pool_rows = sources()
    texts = [f"{s['title']}。{s['detail']}" for s in pool_rows]
    sentences = c.sentences_of(texts)
    chars = c.cjk_chars(texts)
    replies = [s["reply"] for s in pool_rows if s["reply"]]
    start = datetime(2018, 1, 1)
    span = int((datetime(2020, 12, 31) - start).total_seconds())
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "留言编号",
                "留言用户",
                "留言主题",
                "留言时间",
                "留言详情",
                "一级分类",
                "承办单位",
                "答复意见",
                "答复时间",
            ]
        )
        for i in range(1, rows + 1):
            base = rng.choice(pool_rows)
            if rng.random() < 0.1:
                detail = c.repost(base["detail"], rng, chars)
            else:
                detail = c.change_chars(
                    "".join(rng.choice(sentences) for _ in range(rng.randint(3, 8))), rng, chars, share=0.05
                )
            title = base["title"] or detail[:20]
            moment = start + timedelta(seconds=rng.randrange(span))
            label = base["label"]
            reply, replied = "", ""
            if rng.random() < 0.4:
                reply = rng.choice(replies)
                replied = fmt_time(
                    moment + timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 600)), rng
                )
            writer.writerow(
                [i, f"U{rng.randrange(300_000):06d}", title, fmt_time(moment, rng), detail, label,
                 DEPARTMENTS.get(label, ""), reply, replied]
            )  # fmt: skip


# ---------------------------------------------------------------------------------------------- databases


class Database:
    def __init__(self, admin_url: str, name: str) -> None:
        self.admin_url = admin_url
        self.name = name
        self.url = urlparse(admin_url)._replace(path=f"/{name}").geturl()

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> Database:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')
        code = minyi(self, "migrate", "--noinput", stdout=subprocess.DEVNULL).wait()
        if code:
            sys.exit(f"migrate failed ({code})")
        return self

    def query(self, sql: str):
        import psycopg

        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchall()

    def size(self) -> str:
        return self.query(f"SELECT pg_size_pretty(pg_database_size('{self.name}'))")[0][0]

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def env_for(db: Database) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db.url,
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "MINYI_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }


def minyi(db: Database, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "minyi", *args], env=env_for(db), cwd=popen.pop("cwd", "/tmp"), **popen
    )


def run_child(db: Database, *args: str, out: Path) -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in KiB) of one `minyi` child process."""
    with open(out, "wb") as handle:
        start = time.perf_counter()
        process = minyi(db, *args, stdout=handle, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    return seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss


# ---------------------------------------------------------------------------------------------- parts


def latency(db: Database, count: int) -> None:
    os.environ.update(env_for(db))
    import django

    django.setup()
    from django.db import transaction

    from minyi.intake.services import submission_ingest
    from minyi.intake.triage import analyse, triage_case

    rng = random.Random(7)
    texts = [f"{s['title']}\n{s['detail']}" for s in sources()]
    samples = [rng.choice(texts) for _ in range(count)]
    analyse([("预热", samples[0], None)])  # load the model, the gazetteer and the segmenter first
    text_only, full = [], []
    for text in samples:
        title, _sep, body = text.partition("\n")
        start = time.perf_counter()
        analyse([(title[:100], body or title, None)])
        text_only.append(time.perf_counter() - start)
        with transaction.atomic():
            receipt = submission_ingest(
                channel="web", data={"title": (title or "无标题")[:100], "content": body or title}
            )
        start = time.perf_counter()
        triage_case(case_id=receipt.case.pk, force=True)
        full.append(time.perf_counter() - start)
    p = c.percentile
    print(
        f"\n== triage latency on arrival, index of {db.query('SELECT count(*) FROM intake_duplicatesignature')[0][0]:,} appeals ({count} appeals)"
    )
    print(
        f"  triage_case (text + database)  p50 {p(full, 50) * 1000:7.1f} ms   p99 {p(full, 99) * 1000:7.1f} ms"
    )
    print(
        f"  analyse alone (baseline)       p50 {p(text_only, 50) * 1000:7.1f} ms   p99 {p(text_only, 99) * 1000:7.1f} ms"
    )
    print(f"  ratio full / text-only (p50)   {statistics.median(full) / statistics.median(text_only):.2f}")


def kill_and_resume(admin_url: str, path: Path, rows: int, keep: bool) -> None:
    db = Database(admin_url, f"minyi_bench_kill_{uuid.uuid4().hex[:6]}").create()
    try:
        started = time.perf_counter()
        process = minyi(db, "import", str(path), "--batch-size", "1000", "-q", stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)  # fmt: skip
        checkpoint = 0
        while process.poll() is None:
            got = db.query("SELECT checkpoint_row FROM intake_importjob")
            checkpoint = got[0][0] if got else 0
            if checkpoint - 1 >= rows // 2:
                break
            time.sleep(0.5)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        killed_at = time.perf_counter() - started
        cases = db.query("SELECT count(*) FROM cases_case")[0][0]
        print(
            f"\n== kill -9 at 50%: killed after {killed_at:.0f} s, checkpoint row {checkpoint:,}, {cases:,} cases committed"
        )
        start = time.perf_counter()
        rerun = minyi(db, "import", str(path), "--batch-size", "1000", "-q", stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)  # fmt: skip
        first_new = None
        while rerun.poll() is None:
            now_cases = db.query("SELECT count(*) FROM cases_case")[0][0]
            if first_new is None and now_cases > cases:
                first_new = time.perf_counter() - start
            time.sleep(0.5)
        total = time.perf_counter() - start
        final = db.query(
            "SELECT count(*), count(DISTINCT external_number), count(DISTINCT tracking_number) FROM cases_case"
        )[0]
        identities = db.query("SELECT count(*) FROM intake_importrow")[0][0]
        status = db.query("SELECT status FROM intake_importjob")[0][0]
        print(
            f"  rerun: first new row committed after {first_new or float('nan'):.1f} s (skipping the committed rows); finished in {total:.0f} s"
        )
        print(
            f"  cases {final[0]:,}, distinct numbers {final[1]:,}, distinct tracking numbers {final[2]:,}, identities {identities:,}; job {status}"
        )
        print(f"  no row lost or doubled: {final[0] == final[1] == final[2] == identities == rows}")
    finally:
        if not keep:
            db.drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres", help="an admin URL")
    parser.add_argument("--file", help="use this CSV instead of building one")
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--tune", action="store_true",
        help="for the run, raise max_wal_size (16GB) and checkpoint_timeout (30min) and turn on wal_compression "
        "(ALTER SYSTEM, reset afterwards), as docs/deployment.md recommends for bulk imports",
    )  # fmt: skip
    args = parser.parse_args()
    c.need_data()
    out_dir = REPO / "bench-out"
    out_dir.mkdir(exist_ok=True)
    path = Path(args.file) if args.file else out_dir / f"import-{args.rows}.csv"
    if not args.file and not path.exists():
        start = time.perf_counter()
        build_file(path, args.rows)
        print(
            f"built {path} ({path.stat().st_size / 1e6:,.0f} MB, {args.rows:,} rows) in {time.perf_counter() - start:.0f} s"
        )
    print(f"file: {path} ({path.stat().st_size / 1e6:,.0f} MB); machine: {os.cpu_count()} cores")

    if args.tune:
        tune(args.pg, on=True)
    try:
        measure(args, path, out_dir)
    finally:
        if args.tune:
            tune(args.pg, on=False)


TUNING = {"max_wal_size": "16GB", "checkpoint_timeout": "30min", "wal_compression": "on"}


def tune(admin_url: str, *, on: bool) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name, value in TUNING.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'" if on else f"ALTER SYSTEM RESET {name}")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(1)  # the reload reaches new sessions; this one keeps its settings
    with psycopg.connect(admin_url, autocommit=True) as conn:
        shown = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in TUNING}
    print(f"PostgreSQL settings {'for the run' if on else 'restored'}: {shown}")


def measure(args, path: Path, out_dir: Path) -> None:
    db = Database(args.pg, f"minyi_bench_import_{uuid.uuid4().hex[:6]}").create()
    try:
        seconds, code, rss = run_child(db, "import", str(path), "--dry-run", "--batch-size", "2000", "-q",
                                       out=out_dir / "import-dry-run.txt")  # fmt: skip
        dry_rate = args.rows / seconds
        print("\n== baseline: minyi import --dry-run (read, parse, validate; no triage, no writes)")
        print(f"  {seconds:.0f} s, {dry_rate:,.0f} rows/s, peak RSS {rss / 1024:.0f} MiB, exit {code}")
        seconds, code, rss = run_child(db, "import", str(path), "--batch-size", "1000", "-q",
                                       out=out_dir / "import-full.txt")  # fmt: skip
        rate = args.rows / seconds
        cases = db.query("SELECT count(*) FROM cases_case")[0][0]
        print(f"\n== minyi import into PostgreSQL with full triage ({args.rows:,} rows)")
        print(
            f"  {seconds:.0f} s ({seconds / 60:.1f} min), {rate:,.0f} rows/s, peak RSS {rss / 1024:.0f} MiB, exit {code}"
        )
        print(f"  cases {cases:,}; database size {db.size()}; ratio to the dry run {rate / dry_rate:.3f}")
        for line in (out_dir / "import-full.txt").read_text(encoding="utf-8").splitlines():
            if line.strip().startswith(("rows read", "time per stage")):
                print("  minyi: " + line.strip())
        if args.latency:
            latency(db, args.latency)
    finally:
        if not args.keep:
            db.drop()
    if not args.no_kill:
        kill_and_resume(args.pg, path, args.rows, args.keep)


if __name__ == "__main__":
    main()
