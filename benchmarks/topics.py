"""Hot-topic mining (minyi.text.topics): the real hot-message set, then a scale run.

    .venv/bin/python benchmarks/topics.py [--runs 3] [--n 100000 1000000] [--noise 0.3]

1. ``../shared/data/hot_messages.csv`` (4,326 messages, title + detail, dates, users, up-votes):
   ``mine_topics`` from raw text (normalize + segment inside), median wall time of ``--runs``;
   the topic count and the ten hottest topics (label, size, people, supports, heat, title).
   Baseline: normalize + segment of the same texts alone (the floor of the text path).
2. Scale, for each ``--n``: N documents made at run time by resampling the real messages of
   ../shared/data (hot_messages, appeals_unlabeled, appeals_with_replies; each segmented once and
   kept as a space-separated string, split afresh for every document as a database row would be),
   each a copy with a random stretch of about a fifth of its tokens left out, with its own id,
   a date in a 60-day span, one of N/3 users, one of 20 regions and a few up-votes; a share
   ``--noise`` are splices of two unrelated messages instead (they rarely form topics). The
   pre-segmented ``tokens`` path is used, with ``since`` 30 days before the end, from a
   generator (no list of N documents is held). Printed: median wall and CPU time, the phases
   (from the module's debug log), the peak memory growth of the process, the topic count, and
   two baselines measured in the same process: (a) the generator plus a bag-of-words count of
   every document's tokens (the floor of any bag-of-words method) and (b) normalize + segment
   of the same number of texts, measured on a sample and scaled (what the pre-segmented path
   saves).
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import re
import resource
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

c.pin_one_core()

TOPIC_LOG: list[str] = []


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        TOPIC_LOG.append(record.getMessage())


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_rows(name: str) -> list[dict[str, str]]:
    with open(c.need_data() / name, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def hot_docs():
    from minyi.text.dates import DateParseError, parse_datetime
    from minyi.text.topics import TopicDoc

    docs = []
    for row in read_rows("hot_messages.csv"):
        try:
            when = parse_datetime(row["留言时间"])
        except DateParseError:
            when = None
        try:
            supports = int(row["点赞数"] or 0)
        except ValueError:
            supports = 0
        docs.append(
            TopicDoc(
                id=row["留言编号"],
                text=f"{row['留言主题']}\n{row['留言详情']}",
                title=row["留言主题"],
                when=when,
                person=row["留言用户"] or None,
                supports=supports,
            )
        )
    return docs


def part_hot(runs: int) -> None:
    from minyi.text.normalize import normalize
    from minyi.text.segment import segment
    from minyi.text.topics import mine_topics, trend

    docs = hot_docs()
    normalize("聯繫")
    segment("热线")
    times = []
    topics = []
    for _ in range(runs):
        start = time.perf_counter()
        topics = mine_topics(docs)
        times.append(time.perf_counter() - start)
    base = []
    for _ in range(runs):
        start = time.perf_counter()
        for d in docs:
            segment(normalize(d.text))
        base.append(time.perf_counter() - start)
    wall, floor = statistics.median(times), statistics.median(base)
    print(f"hot_messages.csv: {len(docs):,} messages, median of {runs} runs")
    print(f"  mine_topics (text path)          {wall:8.2f} s   {len(docs) / wall:>9,.0f} docs/s")
    print(f"  baseline normalize+segment       {floor:8.2f} s   ratio {wall / floor:.2f}x")
    print(f"  topics (>= 3 members): {len(topics)}; {TOPIC_LOG[-1] if TOPIC_LOG else ''}")
    print("  top 10:")
    for rank, t in enumerate(topics[:10], 1):
        print(
            f"  {rank:>3}. heat {t.heat:6.1f}  size {t.size:>3}  people {t.people:>3}  supports {t.supports:>5}  "
            f"{trend(t.growth):<7} {t.label:<22} {t.title[:36]}"
        )


def base_messages() -> list[tuple[str, str]]:
    """(title, space-separated tokens of title + detail) of every distinct real message."""
    from minyi.text.normalize import normalize
    from minyi.text.segment import segment

    seen: set[str] = set()
    out = []
    for name in ("hot_messages.csv", "appeals_unlabeled.csv", "appeals_with_replies.csv"):
        for row in read_rows(name):
            title, detail = row["留言主题"], row["留言详情"]
            key = re.sub(r"\s+", "", title + detail)
            if not key or key in seen:
                continue
            seen.add(key)
            out.append((title, " ".join(segment(normalize(f"{title}\n{detail}")))))
    return out


def scale_docs(base: list[tuple[str, str]], n: int, noise: float, seed: int = 11):
    from minyi.text.topics import TopicDoc

    rng = random.Random(seed)
    end = datetime(2025, 6, 30, 23, 59)
    span = 60 * 86400
    users = max(1, n // 3)
    for i in range(n):
        title, stored = base[rng.randrange(len(base))]
        tokens = stored.split()  # fresh strings, as from Triage.tokens.split() of a database row
        if rng.random() < noise:
            other_title, other_stored = base[rng.randrange(len(base))]
            other = other_stored.split()
            tokens = tokens[: len(tokens) // 2] + other[len(other) // 2 :]
            title = title[: len(title) // 2] + other_title[len(other_title) // 2 :]
        elif len(tokens) > 10:
            cut = len(tokens) // 5
            at = rng.randrange(1, len(tokens) - cut)
            tokens = tokens[:at] + tokens[at + cut :]
        yield TopicDoc(
            id=i,
            text="",
            title=title,
            tokens=tokens,
            when=end - timedelta(seconds=rng.randrange(span)),
            person=f"u{rng.randrange(users)}",
            region=f"r{rng.randrange(20)}",
            supports=rng.choice((0, 0, 0, 1, 2, 5)),
        )


def part_scale(base: list[tuple[str, str]], n: int, runs: int, noise: float) -> None:
    from minyi.text.normalize import normalize
    from minyi.text.segment import segment
    from minyi.text.topics import mine_topics

    since = datetime(2025, 6, 30, 23, 59) - timedelta(days=30)
    walls, cpus, phases = [], [], []
    topics = []
    before = rss_mb()
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        topics = mine_topics(scale_docs(base, n, noise), since=since)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        phases.append(TOPIC_LOG[-1] if TOPIC_LOG else "")
    growth = peak_mb() - before
    start = time.perf_counter()
    for doc in scale_docs(base, n, noise):
        Counter(doc.tokens)
    bag = time.perf_counter() - start
    sample = base[: min(len(base), 3000)]
    texts = [stored.replace(" ", "") for _, stored in sample]
    start = time.perf_counter()
    for text in texts:
        segment(normalize(text))
    seg = (time.perf_counter() - start) / len(texts) * n
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"scale: {n:,} documents (noise {noise:.0%}), pre-segmented tokens, median of {runs}")
    print(
        f"  mine_topics                      {wall:8.1f} s wall  {cpu:8.1f} s CPU   {n / wall:>9,.0f} docs/s"
    )
    print(f"  phases (last run): {phases[-1]}")
    print(f"  peak memory growth               {growth:8.0f} MB   ({growth * 2**20 / n:,.0f} bytes/doc)")
    print(f"  baseline (a) generator + Counter {bag:8.1f} s      ratio {wall / bag:.2f}x")
    print(f"  baseline (b) normalize+segment   {seg:8.1f} s (est.) ratio {wall / seg:.2f}x")
    sizes = [t.size for t in topics]
    print(
        f"  topics: {len(topics):,}; largest {max(sizes, default=0):,}; median size {statistics.median(sizes or [0])}"
    )
    for rank, t in enumerate(topics[:5], 1):
        print(f"  {rank:>3}. heat {t.heat:6.1f}  size {t.size:>6,}  prev {t.previous:>6,}  {t.label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, nargs="*", default=[100_000])
    parser.add_argument(
        "--scale-runs", type=int, default=None, help="runs per scale size (default: --runs, 1 above 200,000)"
    )
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--skip-hot", action="store_true")
    args = parser.parse_args()
    log = logging.getLogger("minyi.text.topics")
    log.setLevel(logging.DEBUG)
    log.addHandler(_Capture())
    c.need_data()
    if not args.skip_hot:
        part_hot(args.runs)
    if args.n:
        base = base_messages()
        print(f"\nscale base: {len(base):,} distinct real messages, segmented once")
        for n in args.n:
            runs = args.scale_runs or (args.runs if n <= 200_000 else 1)
            part_scale(base, n, runs, args.noise)


if __name__ == "__main__":
    main()
