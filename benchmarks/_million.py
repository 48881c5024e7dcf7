"""The public-accountability benchmark's data set: 1,000,000 cases in a PostgreSQL scratch database.

`ensure(url, count=..., regenerate=...)` creates the database if it is missing, migrates it, and fills it
once; later runs reuse it (a row in the table `bench_million_meta`, outside Django's models, records what was
made and when: the data end at that moment, so "the last month" means the month before generation). Generation
uses our own code only: regions, departments and categories of a fictional city; texts read at run time from
../shared/data (the real appeals) when present, else composed from minyi/demo/phrases.py; 24 months of cases
with realistic timestamps and statuses; for ~70% of them a published disclosure.Publication with a masked copy
and its search tokens (minyi.disclosure.search.index_text, computed once per distinct text and reused), the
published replies, evaluations for ~60% of the replied cases, supports, Open311 requests for the cases that
came through Open311, and CaseEvent histories for 1% of the cases (the ones whose pages are fetched).

Rows go in by binary COPY (psycopg), in batches of --batch cases, each batch one transaction; the tables'
secondary indexes are dropped for the load and rebuilt from their own definitions afterwards, foreign-key
triggers are skipped (session_replication_role = replica: the generator writes consistent keys), sequences are
moved past the largest keys, and VACUUM (ANALYZE) runs at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import sys
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minyi_bench"
META = "bench_million_meta"
LOCAL = ZoneInfo("Asia/Shanghai")
MONTHS = 24
#: The tables the generator fills (their secondary indexes are rebuilt after the load).
TABLES = (
    "cases_case",
    "cases_reply",
    "cases_evaluation",
    "cases_caseevent",
    "disclosure_publication",
    "disclosure_publishedreply",
    "disclosure_support",
    "intake_open311request",
)

# --------------------------------------------------------------------------------------------- the database


def database_url() -> str:
    import os

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not url.startswith("postgres"):
        sys.exit("this benchmark needs PostgreSQL: DATABASE_URL=postgres://…/minyi_bench")
    if not name.startswith("minyi_bench"):
        sys.exit(f"refusing to fill {name!r}: the scratch database's name must start with minyi_bench")
    return url


def _admin_url(url: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path="/postgres"))


def _db_name(url: str) -> str:
    return urllib.parse.urlsplit(url).path.lstrip("/")


def create_database(url: str, *, drop: bool) -> bool:
    """Create the scratch database if it is missing (dropped first when `drop`); True if it was created."""
    import psycopg

    name = _db_name(url)
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and drop:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            return True
    return False


def read_meta() -> dict | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [META])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT value FROM {META} WHERE key = 'dataset'")
        row = cursor.fetchone()
    if not row:
        return None
    value = row[0]
    return value if isinstance(value, dict) else json.loads(value)


def write_meta(value: dict) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {META} (key text PRIMARY KEY, value jsonb NOT NULL)")
        cursor.execute(
            f"INSERT INTO {META} (key, value) VALUES ('dataset', %s::jsonb) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [json.dumps(value, ensure_ascii=False)],
        )


def ensure(url: str, *, count: int, regenerate: bool, batch: int, seed: int = 20261201) -> dict:
    """The data set's description (meta), generating it first when needed. Django must be set up."""
    from django.core.management import call_command
    from django.db import connection

    connection.close()
    meta = None
    if not regenerate:
        create_database(url, drop=False)
        call_command("migrate", "--noinput", verbosity=0)
        meta = read_meta()
        if meta and meta.get("complete") and meta.get("count") == count:
            print(
                f"reusing {_db_name(url)}: {meta['count']:,} cases generated {meta['generated_at']} "
                f"in {meta['seconds']:.0f} s (--regenerate to make them again)",
                flush=True,
            )
            return meta
        if meta:
            print(f"{_db_name(url)} holds an incomplete or different data set: making it again", flush=True)
    connection.close()
    create_database(url, drop=True)
    began = time.perf_counter()
    call_command("migrate", "--noinput", verbosity=0)
    print(f"created and migrated {_db_name(url)} in {time.perf_counter() - began:.0f} s", flush=True)
    meta = Generator(count=count, seed=seed, batch=batch).run()
    meta["seconds"] = time.perf_counter() - began
    meta["complete"] = True
    write_meta(meta)
    print(f"generation took {meta['seconds']:.0f} s ({meta['seconds'] / 60:.1f} min) in all", flush=True)
    return meta


def untouch() -> int:
    """Put back the generated updated_at of the cases a benchmark run touched since (the last change: the
    status change, or the latest evaluation), so that every run's rollup timings start from the same state."""
    from django.db import connection

    meta = read_meta()
    if not meta:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case c SET updated_at = GREATEST(c.status_changed_at, (SELECT max(e.created_at) FROM "
            "cases_evaluation e WHERE e.case_id = c.id)) WHERE c.updated_at > %s",
            [meta["generated_at"]],
        )
        return cursor.rowcount


# --------------------------------------------------------------------------------------------- reference data

BUREAUS = [
    ("fgw", "市发展改革委"), ("gaj", "市公安局"), ("sfj", "市司法局"), ("czj", "市财政局"), ("cgw", "市城管委"),
    ("swj", "市水务局"), ("nyj", "市农业农村局"), ("swuj", "市商务局"), ("wlj", "市文化和旅游局"),
    ("yjj", "市应急管理局"), ("ybj", "市医疗保障局"), ("tyjr", "市退役军人事务局"), ("ylj", "市园林和林业局"),
    ("tjj", "市统计局"), ("swu", "市税务局"), ("gdgs", "市供电公司"), ("zls", "市自来水公司"),
    ("rqjt", "市燃气集团"), ("gjjt", "市公交集团"), ("dtjt", "市地铁集团"), ("bdc", "市不动产登记中心"),
    ("gjj", "市住房公积金中心"), ("cl", "市残联"), ("fl", "市妇联"), ("zgh", "市总工会"), ("jgj", "市交管局"),
    ("xfzd", "市消防救援支队"), ("zwfw", "市政务服务中心"), ("tyj", "市体育局"), ("mzzj", "市民族宗教委"),
]  # fmt: skip
SECTIONS = ["执法支队", "综合科", "服务中心", "监督科", "管理处"]
HOURS = [1, 1, 0.5, 0.5, 0.5, 1, 2, 5, 9, 11, 11, 10, 6, 7, 10, 11, 10, 9, 7, 7, 6, 5, 3, 2]
KIND_WEIGHTS = {"complaint": 45, "help": 22, "question": 14, "suggestion": 7, "praise": 4, "petition": 8}
CHANNEL_WEIGHTS = {"phone": 48, "web": 30, "api": 8, "open311": 4, "letter": 5, "visit": 5}


@dataclass
class City:
    regions: list[int] = field(default_factory=list)  # where cases happen (districts and streets)
    region_weights: list[float] = field(default_factory=list)
    street_office: dict[int, int] = field(
        default_factory=dict
    )  # region id -> its street office or district gov
    leaves: list[int] = field(default_factory=list)  # category ids cases take
    leaf_weights: list[float] = field(default_factory=list)
    leaf_code: dict[int, str] = field(default_factory=dict)
    leaf_of_parent: dict[str, list[int]] = field(default_factory=dict)  # parent name -> leaf ids
    handler: dict[int, list[int]] = field(default_factory=dict)  # category id -> departments
    petition_department: int = 0


def _taxonomy() -> list[tuple[str, list[str]]] | None:
    path = c.DATA / "taxonomy_teddy2020.csv"
    if not path.exists():
        return None
    tree: dict[str, list[str]] = {}
    for row in c.read_csv("taxonomy_teddy2020.csv"):
        children = tree.setdefault(row["一级分类"].strip(), [])
        second = row["二级分类"].strip()
        if second and second not in children:
            children.append(second)
    return [(parent, children[:3] or [parent + "其他"]) for parent, children in tree.items()]


def _demo_taxonomy() -> list[tuple[str, list[str]]]:
    from minyi.demo import city

    names = {spec.code: spec.name for spec in city.CATEGORIES}
    tree: dict[str, list[str]] = {}
    for spec in city.CATEGORIES:
        if spec.parent:
            tree.setdefault(names[spec.parent], []).append(spec.name)
    extra = ["综合事项", "政策咨询", "其他问题"]
    out = []
    for parent, children in tree.items():
        out.append((parent, children + [f"{parent}{e}" for e in extra[: max(0, 4 - len(children))]]))
    return out


def build_city(rng: random.Random) -> City:
    from minyi.accounts.models import Department, Region
    from minyi.demo import city as demo_city
    from minyi.routing.models import Category

    out = City()
    root = Region.objects.create(name=demo_city.CITY[0], code="mb-city", level=Region.Level.CITY)
    districts = []
    for name, code, streets, _centre in demo_city.DISTRICTS[:5]:
        district = Region.objects.create(
            name=name, code=f"mb-{code}", level=Region.Level.DISTRICT, parent=root
        )
        kids = [
            Region.objects.create(
                name=s, code=f"mb-{code}-{k + 1}", level=Region.Level.STREET, parent=district
            )
            for k, s in enumerate(streets[:2])
        ]
        districts.append((district, kids))

    def dept(code: str, name: str, parent=None, region=None) -> Department:
        return Department.objects.create(code=f"mb-{code}", name=name, parent=parent, region=region)

    hotline = dept("hotline", "市12345热线中心", region=root)
    petition = dept("xfj", "市信访局", region=root)
    bureaus = [dept(code, name, region=root) for code, name in BUREAUS]
    bureaus += [
        dept(code, name, region=root) for code, name, parent, _a in demo_city.DEPARTMENTS[2:] if not parent
    ]
    sections = []
    for i, bureau in enumerate(bureaus[:24]):
        for k in range(1 if i % 3 else 2):
            sections.append(
                dept(
                    f"{bureau.code[3:]}-s{k + 1}", f"{bureau.name}{SECTIONS[(i + k) % len(SECTIONS)]}", bureau
                )
            )
    local = []
    for district, streets in districts:
        gov = dept(f"{district.code[3:]}-gov", f"{district.name}人民政府", region=district)
        local.append(gov)
        out.regions.append(district.pk)
        out.region_weights.append(1.0)
        out.street_office[district.pk] = gov.pk
        for street in streets:
            office = dept(f"{street.code[3:]}-jd", f"{district.name}{street.name}办事处", gov, street)
            local.append(office)
            out.regions.append(street.pk)
            out.region_weights.append(2.0 + rng.random() * 3)
            out.street_office[street.pk] = office.pk
    del hotline
    out.petition_department = petition.pk
    handlers = bureaus + sections

    tree = _taxonomy() or _demo_taxonomy()
    order = 0
    for parent_name, children in tree:
        parent = Category.objects.create(name=parent_name, code=f"mb-c{order}", sort_order=order * 10)
        order += 1
        for child in children:
            leaf = Category.objects.create(
                name=child, code=f"mb-c{order}", parent=parent, sort_order=order * 10,
                is_livelihood=rng.random() < 0.4,
            )  # fmt: skip
            order += 1
            out.leaves.append(leaf.pk)
            out.leaf_weights.append(1.0 / (1 + len(out.leaves)) ** 0.7)
            out.leaf_code[leaf.pk] = leaf.code
            out.leaf_of_parent.setdefault(parent_name, []).append(leaf.pk)
            out.handler[leaf.pk] = rng.sample(handlers, rng.randint(1, 3))
            out.handler[leaf.pk] = [d.pk for d in out.handler[leaf.pk]]
    rng.shuffle(out.leaf_weights)
    print(
        f"  city: {len(out.regions)} regions under the city, {Department.objects.count()} departments, "
        f"{Category.objects.count()} categories ({len(out.leaves)} leaves)",
        flush=True,
    )
    return out


# --------------------------------------------------------------------------------------------- texts


@dataclass
class Text:
    title: str
    content: str
    masked_title: str
    masked_content: str
    search_text: str
    label: str  # a first-level category name, or ""
    reply: int  # index of its reply in the reply pool, or -1


def _clean(text: str) -> str:
    return re.sub(r"[ \t\r\u3000]+", " ", re.sub(r"\n\s*\n+", "\n", text)).strip()


def _shared_sources() -> list[tuple[str, str, str, str]]:
    """(title, detail, label, reply) of every distinct real message."""
    rows = []
    for r in c.read_csv("appeals_labeled.csv"):
        rows.append((r["title"], r["detail"], r["label"], ""))
    for r in c.read_csv("appeals_with_replies.csv"):
        rows.append((r["留言主题"], r["留言详情"], "", r["答复意见"]))
    for name in ("hot_messages.csv", "appeals_unlabeled.csv"):
        for r in c.read_csv(name):
            rows.append((r["留言主题"], r["留言详情"], "", ""))
    seen: dict[str, int] = {}
    out: list[tuple[str, str, str, str]] = []
    for title, detail, label, reply in rows:
        title, detail = _clean(title or ""), _clean(detail or "")
        if not detail:
            continue
        key = re.sub(r"\s+", "", title + detail)
        if key in seen:  # keep what another file says of it
            t, d, lab, rep = out[seen[key]]
            out[seen[key]] = (t, d, lab or label, rep or _clean(reply or ""))
            continue
        seen[key] = len(out)
        out.append((title or detail[:20], detail, label, _clean(reply or "")))
    return out


def _demo_sources(rng: random.Random, count: int) -> list[tuple[str, str, str, str]]:
    from minyi.demo import city, plan

    places = plan.places()
    names = {spec.code: spec.name for spec in city.CATEGORIES}
    leaves = [spec for spec in city.CATEGORIES if spec.parent]
    out = []
    for _ in range(count):
        spec = rng.choices(leaves, weights=[s.weight for s in leaves])[0]
        kind = plan.weighted(rng, {"complaint": 50, "help": 25, "question": 12, "suggestion": 8, "praise": 5})
        title, content, _contact, slots, reply = plan.compose(rng, kind, spec.code, rng.choice(places))
        out.append((title, content, names[spec.parent], plan.reply_text(rng, reply, slots)))
    return out


def build_texts(rng: random.Random) -> tuple[list[Text], list[tuple[str, str]], str]:
    """The distinct texts cases reuse (original, masked, search tokens), the replies (original, masked), and
    where they came from."""
    from minyi.disclosure.search import index_text
    from minyi.text.pii import mask_pii

    began = time.perf_counter()
    if (c.DATA / "appeals_labeled.csv").exists():
        sources, origin = _shared_sources(), f"{c.DATA} (real appeals, read at run time)"
    else:
        sources, origin = _demo_sources(rng, 8000), "minyi/demo/phrases.py (no ../shared/data)"
    reply_index: dict[str, int] = {}
    replies: list[tuple[str, str]] = []
    texts = []
    for title, detail, label, reply in sources:
        r = -1
        if reply:
            r = reply_index.setdefault(reply, len(replies))
            if r == len(replies):
                replies.append((reply, mask_pii(reply)))
        masked_title = mask_pii(title)[:200]
        masked_content = mask_pii(detail)
        texts.append(
            Text(
                title[:200], detail, masked_title, masked_content, index_text(masked_title, masked_content),
                label, r,
            )
        )  # fmt: skip
    if not replies:
        replies = [(t, t) for t in ("经核查，您反映的问题已交由相关单位处理，感谢您的监督。",)]
    print(
        f"  texts: {len(texts):,} distinct appeals and {len(replies):,} replies from {origin}, masked and "
        f"indexed in {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    return texts, replies, origin


# --------------------------------------------------------------------------------------------- COPY


class Copier:
    """Binary COPY of tuples into one table, in the column order given."""

    def __init__(self, cursor, table: str, columns: list[str]) -> None:
        cursor.execute(
            "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            [table],
        )
        types = dict(cursor.fetchall())
        self.table, self.columns = table, columns
        self.types = [types[col] for col in columns]
        self.cursor = cursor

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{col}"' for col in self.columns)
        with self.cursor.copy(f'COPY "{self.table}" ({cols}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(self.types)
            for row in rows:
                copy.write_row(row)


CASE_COLUMNS = [
    "id", "tracking_number", "external_number", "query_code_hash", "kind", "channel", "priority", "title",
    "content", "is_anonymous", "category_id", "region_id", "address", "status", "department_id", "is_repeat",
    "accept_due_at", "handle_due_at", "evaluation_due_at", "due_at", "accepted_at", "assigned_at", "replied_at",
    "closed_at", "status_changed_at", "escalation_count", "extension_count", "needs_supervision",
    "reopen_count", "publication_consent", "is_private", "responded_at", "created_at", "updated_at",
]  # fmt: skip
PUBLICATION_COLUMNS = [
    "case_id", "state", "hold_reason", "note", "title", "content", "kind", "category_id", "region_id",
    "department_id", "case_status", "received_at", "replied_at", "published_at", "search_text", "view_count",
    "support_count", "updated_at",
]  # fmt: skip
REPLY_COLUMNS = ["id", "case_id", "text", "department_id", "state", "created_at", "sent_at"]
PUBLISHED_REPLY_COLUMNS = ["id", "publication_id", "reply_id", "text", "department_id", "sent_at"]
EVALUATION_COLUMNS = ["id", "case_id", "reply_id", "rating", "resolved", "reason", "created_at"]
EVENT_COLUMNS = [
    "id", "case_id", "action", "actor_role", "from_status", "to_status", "note", "data", "is_public",
    "created_at",
]  # fmt: skip
SUPPORT_COLUMNS = ["id", "publication_id", "voter", "created_at"]
OPEN311_COLUMNS = [
    "case_id", "token", "service_code", "attributes", "media_url", "device_id", "account_id", "created_at",
]  # fmt: skip


def drop_secondary_indexes(cursor) -> list[str]:
    """Drop the indexes of TABLES that back no constraint; their CREATE statements, to rebuild them."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [list(TABLES)],
    )
    found = cursor.fetchall()
    for name, _definition in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in found]


# --------------------------------------------------------------------------------------------- cases


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


class Generator:
    def __init__(self, *, count: int, seed: int, batch: int) -> None:
        self.count, self.seed, self.batch = count, seed, batch
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.ids = Counter()
        self.stats: Counter = Counter()
        self.text_uses: Counter = Counter()
        self.event_cases: list[int] = []
        self.copy_seconds = 0.0

    # ------------------------------------------------------------------ the schedule of arrivals

    def days(self) -> list[tuple[datetime, int]]:
        """(local midnight as an aware datetime, number of cases) for the MONTHS months before now."""
        last = self.now.astimezone(LOCAL).date()
        first = date(last.year - MONTHS // 12, last.month, 1)
        span = (last - first).days + 1
        weights = []
        for n in range(span):
            day = first + timedelta(n)
            growth = 0.8 + 0.4 * n / span
            weekday = 0.65 if day.weekday() >= 5 else 1.0
            season = 1.0 + 0.15 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 120) / 365)
            weights.append(growth * weekday * season * (0.85 + 0.3 * self.rng.random()))
        total = sum(weights)
        counts = [int(self.count * w / total) for w in weights]
        for n in range(self.count - sum(counts)):
            counts[n % span] += 1
        return [
            (datetime(d.year, d.month, d.day, tzinfo=LOCAL), k)
            for d, k in ((first + timedelta(n), counts[n]) for n in range(span))
        ]

    # ------------------------------------------------------------------ run

    def run(self) -> dict:
        from django.conf import settings
        from django.db import connection, transaction

        from minyi.intake.models import TrackingSequence

        rng = self.rng
        began = time.perf_counter()
        with transaction.atomic():
            self.city = build_city(rng)
        self.texts, self.replies, origin = build_texts(rng)
        self._cum, total = [], 0.0
        for _text in self.texts:  # a few texts are written about very often, most rarely
            total += rng.paretovariate(1.2)
            self._cum.append(total)
        self.by_label: dict[str, list[int]] = {}
        for i, t in enumerate(self.texts):
            self.by_label.setdefault(t.label, []).append(i)
        self.prefix = settings.MINYI_TRACKING_PREFIX
        days = self.days()
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")  # no FK triggers for the load
            cursor.execute("SET synchronous_commit = off")
            indexes = drop_secondary_indexes(cursor)
            raw = cursor.cursor
            self.copiers = {
                "case": Copier(raw, "cases_case", CASE_COLUMNS),
                "publication": Copier(raw, "disclosure_publication", PUBLICATION_COLUMNS),
                "reply": Copier(raw, "cases_reply", REPLY_COLUMNS),
                "published_reply": Copier(raw, "disclosure_publishedreply", PUBLISHED_REPLY_COLUMNS),
                "evaluation": Copier(raw, "cases_evaluation", EVALUATION_COLUMNS),
                "event": Copier(raw, "cases_caseevent", EVENT_COLUMNS),
                "support": Copier(raw, "disclosure_support", SUPPORT_COLUMNS),
                "open311": Copier(raw, "intake_open311request", OPEN311_COLUMNS),
            }
            load_began = time.perf_counter()
            self.rows: dict[str, list[tuple]] = {name: [] for name in self.copiers}
            pending = 0
            sequences = []
            for day, n in days:
                sequences.append(TrackingSequence(day=day.date(), last=n))
                for seq, moment in enumerate(self.arrivals(day, n), start=1):
                    self.case(moment, day, seq)
                    pending += 1
                if pending >= self.batch:
                    self.flush()
                    pending = 0
                    done = self.ids["case"]
                    rate = done / (time.perf_counter() - load_began)
                    print(f"  {done:>9,} cases  ({rate:,.0f}/s)", end="\r", flush=True)
            self.flush()
            print(
                f"  {self.ids['case']:,} cases and their rows made and copied in "
                f"{time.perf_counter() - load_began:.0f} s"
                f" (COPY {self.copy_seconds:.0f} s)" + " " * 20,
                flush=True,
            )
            TrackingSequence.objects.bulk_create(sequences)
            cursor.execute("SET session_replication_role = DEFAULT")
            step = time.perf_counter()
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for definition in indexes:
                cursor.execute(definition)
            print(
                f"  {len(indexes)} secondary indexes rebuilt in {time.perf_counter() - step:.0f} s",
                flush=True,
            )
            for table in TABLES:
                cursor.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND column_default LIKE 'nextval%%' OR (table_name = %s AND is_identity = 'YES')",
                    [table, table],
                )
                for (column,) in cursor.fetchall():
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE((SELECT max({column}) FROM "
                        f"{table}), 0) + 1, false)",
                        [table, column],
                    )
            future = {}
            moments = (
                ("cases_case", "created_at"), ("cases_case", "updated_at"), ("cases_case", "replied_at"),
                ("cases_case", "closed_at"), ("cases_case", "status_changed_at"), ("cases_evaluation", "created_at"),
                ("cases_caseevent", "created_at"), ("disclosure_publication", "published_at"),
                ("disclosure_support", "created_at"),
            )  # fmt: skip
            for table, column in moments:
                cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} > %s", [self.now])
                future[f"{table}.{column}"] = cursor.fetchone()[0]
            if any(future.values()):
                sys.exit(f"the generator wrote moments after {self.now}: {future}")
            step = time.perf_counter()
            cursor.execute("VACUUM (ANALYZE)")  # the visibility map too, as autovacuum leaves a settled table
            print(f"  VACUUM (ANALYZE) in {time.perf_counter() - step:.0f} s", flush=True)
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cursor.fetchone()[0]
        words = self.search_words()
        meta = {
            "count": self.count,
            "seed": self.seed,
            "generated_at": self.now.isoformat(),
            "first_day": days[0][0].date().isoformat(),
            "last_day": days[-1][0].date().isoformat(),
            "texts": len(self.texts),
            "text_origin": origin,
            "rows": dict(self.ids),
            "stats": dict(self.stats),
            "event_cases": self.event_cases[:: max(1, len(self.event_cases) // 400)][:400],
            "words": words,
            "size": size,
            "load_seconds": time.perf_counter() - began,
        }
        write_meta({**meta, "complete": False})
        print(
            "  rows: " + ", ".join(f"{name} {n:,}" for name, n in sorted(self.ids.items()))
            + f"; database {size}",
            flush=True,
        )  # fmt: skip
        return meta

    def arrivals(self, day: datetime, n: int) -> list[datetime]:
        rng = self.rng
        hours = rng.choices(range(24), weights=HOURS, k=n)
        seconds = sorted(h * 3600 + rng.randrange(3600) for h in hours)
        start = day.astimezone(UTC)
        room = min(
            86400, int((self.now - start).total_seconds()) - 60
        )  # today: squeezed into the hours so far
        return [start + timedelta(seconds=s * room // 86400) for s in seconds]

    def flush(self) -> None:
        from django.db import transaction

        began = time.perf_counter()
        with transaction.atomic():
            for name, rows in self.rows.items():
                self.copiers[name].write(rows)
                rows.clear()
        self.copy_seconds += time.perf_counter() - began

    def next_id(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    # ------------------------------------------------------------------ one case

    def case(self, created: datetime, day: datetime, seq: int) -> None:
        rng, city, now, S = self.rng, self.city, self.now, self.stats
        t = rng.choices(range(len(self.texts)), cum_weights=self._cum, k=1)[0]
        text = self.texts[t]
        case_id = self.next_id("case")
        kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
        if kind == "petition" and channel in ("api", "open311"):
            channel = "web"
        leaves = city.leaf_of_parent.get(text.label)
        if leaves and rng.random() < 0.9:
            category = rng.choice(leaves)
        else:
            category = rng.choices(city.leaves, weights=city.leaf_weights)[0]
        region = rng.choices(city.regions, weights=city.region_weights)[0]
        if kind == "petition" and rng.random() < 0.4:
            department = city.petition_department
        elif rng.random() < 0.3:
            department = city.street_office[region]
        else:
            department = rng.choice(city.handler[category])
        urgent = rng.random() < 0.06

        # the life of the case, in hours after submission
        accept_due = created + _h(24 if not urgent else 2)
        accepted = created + _h(rng.lognormvariate(math.log(2), 1.0))
        fate = rng.random()
        declined = fate < 0.02
        referred = 0.02 <= fate < 0.03
        merged = 0.03 <= fate < 0.04
        assigned = accepted + _h(rng.lognormvariate(math.log(3), 1.0))
        handle_days = {"question": 5, "suggestion": 15, "praise": 5}.get(kind, 15)
        handle_due = assigned + timedelta(days=handle_days)
        responded = assigned + _h(rng.lognormvariate(math.log(8), 1.1))
        work = rng.lognormvariate(math.log(handle_days * 0.4), 0.6) * 24
        replied = max(responded, assigned + _h(work))
        evaluated_at = None
        rating = None
        if rng.random() < 0.6:
            evaluated_at = replied + _h(rng.uniform(1, 24 * 6.5))
            rating = rng.choices(["satisfied", "basically_satisfied", "dissatisfied"], weights=[64, 23, 13])[
                0
            ]
        reopened = rating == "dissatisfied" and rng.random() < 0.35
        if reopened:  # handled again after the dissatisfied rating: the case's reply is the second one
            replied = evaluated_at + _h(rng.lognormvariate(math.log(96), 0.6))
            evaluated_at = None if rng.random() < 0.5 else replied + _h(rng.uniform(1, 24 * 6))
            if evaluated_at:
                rating = rng.choices(
                    ["satisfied", "basically_satisfied", "dissatisfied"], weights=[50, 30, 20]
                )[0]
            else:
                rating = None
        evaluation_due = replied + timedelta(days=7)
        closed = evaluated_at if evaluated_at and rating != "dissatisfied" else evaluation_due
        under_review = not reopened and rating == "dissatisfied" and rng.random() < 0.1

        accepted_at = assigned_at = responded_at = replied_at = closed_at = None
        handle_due_at = evaluation_due_at = None
        due_at = accept_due
        if now < accepted:
            status = "submitted"
            changed = created
        elif declined or referred:
            status, accepted_at, changed, due_at = (
                ("declined" if declined else "referred"),
                None,
                accepted,
                None,
            )
            closed_at = accepted if referred else None
        elif merged and now >= accepted + _h(2):
            status, accepted_at, changed, due_at = "merged", accepted, accepted + _h(2), None
        elif now < assigned:
            status, accepted_at, changed = "accepted", accepted, accepted
            due_at = accepted + _h(24)
        else:
            accepted_at, assigned_at, handle_due_at = accepted, assigned, handle_due
            due_at = handle_due
            if now < responded:
                status, changed = "assigned", assigned
            elif now < replied:
                status, changed, responded_at = "in_progress", responded, responded
            else:
                responded_at, replied_at = responded, replied
                evaluation_due_at = evaluation_due
                if evaluated_at and evaluated_at > now:
                    evaluated_at = rating = None
                if now < closed:
                    status, changed, due_at = "replied", replied, evaluation_due
                elif under_review and evaluated_at:
                    status, changed, due_at = "under_review", evaluated_at, evaluated_at + timedelta(days=30)
                else:
                    status, changed, closed_at, due_at = "closed", closed, closed, None
        if status in ("submitted", "declined", "referred", "merged", "accepted"):
            department = None if status != "merged" else department
        S[status] += 1
        escalations = 1 if (replied_at and replied_at > handle_due) or rng.random() < 0.02 else 0
        consent = rng.random() > 0.05
        private = rng.random() < 0.02
        # the last change: the status change, or the evaluation when one was recorded (never in the future)
        updated = max(changed, evaluated_at) if replied_at and rating and evaluated_at else changed
        tracking = f"{self.prefix}{day:%Y%m%d}{seq:05d}"
        self.rows["case"].append((
            case_id, tracking, "", "!bench", kind, channel, "urgent" if urgent else "ordinary", text.title,
            text.content, rng.random() < 0.03, category, region, "", status, department, rng.random() < 0.05,
            accept_due, handle_due_at, evaluation_due_at, due_at, accepted_at, assigned_at, replied_at, closed_at,
            changed, escalations, 1 if work > handle_days * 24 and rng.random() < 0.4 else 0,
            rating == "dissatisfied" and status == "replied", 1 if reopened else 0, consent, private,
            responded_at, created, updated,
        ))  # fmt: skip
        if channel == "open311":
            self.rows["open311"].append((
                case_id, hashlib.sha1(f"{self.seed}:{case_id}".encode()).hexdigest()[:32],
                city.leaf_code[category], {}, "", f"device-{case_id % 997}", "", created,
            ))  # fmt: skip
            self.ids["open311"] += 1

        reply_id = None
        if replied_at:
            reply_id = self.next_id("reply")
            reply_text = self.replies[text.reply if text.reply >= 0 else rng.randrange(len(self.replies))]
            self.rows["reply"].append(
                (reply_id, case_id, reply_text[0], department, "sent", replied_at - _h(1), replied_at)
            )
            if rating:
                reason = ""
                if rating == "dissatisfied":
                    reason = rng.choice(
                        ["问题根本没有解决。", "答复和我反映的不是一回事。", "处理态度敷衍。"]
                    )
                resolved = rng.choices([True, False, None], weights=[70, 18, 12])[0]
                if rating == "dissatisfied" and resolved:
                    resolved = False
                self.rows["evaluation"].append(
                    (self.next_id("evaluation"), case_id, reply_id, rating, resolved, reason, evaluated_at)
                )

        published = False
        if replied_at and status in ("replied", "closed", "under_review"):
            hold = ""
            if kind == "petition":
                hold = "petition"
            elif not consent:
                hold = "no_consent"
            elif private:
                hold = "private"
            elif rng.random() < 0.1:
                hold = "pii" if rng.random() < 0.3 else "staff"
            published_at = min(replied_at + _h(rng.uniform(0.1, 30)), now - timedelta(minutes=1))
            published = not hold
            views = int(rng.lognormvariate(3.2, 1.3)) if published else 0
            supports = 0
            if published and rng.random() < 0.12:
                supports = min(200, int(rng.paretovariate(1.3)))
            state = "published" if published else ("withdrawn" if hold == "staff" else "held")
            self.rows["publication"].append((
                case_id, state, hold, "", text.masked_title, text.masked_content, kind, category, region,
                department, status, created, replied_at, published_at if state != "held" else None,
                text.search_text, views, supports, published_at,
            ))  # fmt: skip
            self.ids["publication"] += 1
            S["published" if published else f"held:{hold}"] += 1
            if published:
                self.text_uses[t] += 1
                masked_reply = reply_text[1]
                self.rows["published_reply"].append(
                    (self.next_id("published_reply"), case_id, reply_id, masked_reply, department, replied_at)
                )
                span = max(60, int((now - published_at).total_seconds()))
                for _ in range(supports):
                    self.rows["support"].append((
                        self.next_id("support"), case_id, f"{rng.getrandbits(256):064x}",
                        published_at + timedelta(seconds=rng.randrange(span)),
                    ))  # fmt: skip

        if case_id % 100 == 7:
            self.events(case_id, channel, status, created, accepted_at, assigned_at, responded_at, department,
                        handle_due_at, reply_id, replied_at, rating, evaluated_at, closed_at,
                        published and published_at)  # fmt: skip
            if published:
                self.event_cases.append(case_id)

    def events(self, case_id, channel, status, created, accepted_at, assigned_at, responded_at, department,
               handle_due_at, reply_id, replied_at, rating, evaluated_at, closed_at, published_at) -> None:  # fmt: skip
        staff = "staff"
        rows = [("submit", "citizen" if channel in ("web", "api", "open311") else staff, "", "submitted", {
            "channel": channel}, created)]  # fmt: skip
        if accepted_at:
            rows.append(("accept", staff, "submitted", "accepted", {}, accepted_at))
        if assigned_at:
            rows.append(("assign", staff, "accepted", "assigned",
                         {"department": department, "handle_due_at": handle_due_at.isoformat()}, assigned_at))  # fmt: skip
        if responded_at and responded_at != replied_at:
            rows.append(("start", staff, "assigned", "in_progress", {}, responded_at))
        if replied_at:
            rows.append(("reply", staff, "in_progress", "replied", {"reply_id": reply_id}, replied_at))
        if published_at:
            rows.append(("publish", staff, "replied", "replied", {}, published_at))
        if rating and evaluated_at:
            to = "closed" if rating != "dissatisfied" else "replied"
            rows.append(("evaluate", "citizen", "replied", to,
                         {"rating": rating, "resolved": None, "reply_id": reply_id}, evaluated_at))  # fmt: skip
        if status == "closed" and closed_at and not (rating and rating != "dissatisfied"):
            rows.append(
                ("close", "system", "replied", "closed", {"reason": "evaluation_window_passed"}, closed_at)
            )
        for action, role, frm, to, data, at in sorted(rows, key=lambda r: r[5]):
            self.rows["event"].append(
                (self.next_id("event"), case_id, action, role, frm, to, "", data, True, at)
            )

    # ------------------------------------------------------------------ search words

    def search_words(self) -> dict:
        """A common word, a rare word and two words, chosen by how many published rows hold them."""
        from minyi.disclosure.search import query_tokens

        freq: Counter = Counter()
        for t, uses in self.text_uses.items():
            for token in self.texts[t].search_text.split():
                freq[token] += uses
        published = self.stats["published"] or 1
        usable = {
            w: n for w, n in freq.items() if 2 <= len(w) <= 3 and not w.isascii() and query_tokens(w) == [w]
        }
        ranked = sorted(usable, key=lambda w: -usable[w])
        common = next((w for w in ranked if usable[w] <= published * 0.2), ranked[0])
        rare = next((w for w in reversed(ranked) if usable[w] >= 20), ranked[-1])
        first = next((w for w in ranked if usable[w] <= published * 0.05), ranked[1])
        together: Counter = Counter()  # the words written beside `first`, by published rows
        for t, uses in self.text_uses.items():
            tokens = set(self.texts[t].search_text.split())
            if first in tokens:
                for token in tokens:
                    together[token] += uses
        second = next(
            (
                w
                for w, _n in together.most_common()
                if w != first and w in usable and usable[w] <= published * 0.1
            ),
            ranked[2],
        )
        return {
            "common": [common, usable[common]],
            "rare": [rare, usable[rare]],
            "two": [f"{first} {second}", together[second]],
        }
