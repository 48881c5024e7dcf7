"""Recall and false alarms of the surge detector on bursts injected into the real timeline of hot_messages.csv.

The issue's measure: "the detector's recall and false alarms on injected bursts (sizes 10, 20 and 50
over 3 days) in the real timeline of hot_messages.csv". Three kinds of series are built from the
messages' dates (留言时间, spreadsheet serials included, read by ``minyi.text.dates``), from
2019-01-01 (the four stray messages before it are dropped) to the last day:

- ``whole``: one series, every message (about 11 a day, strong weekday pattern);
- ``district``: one series per district named in the title or text (A1区 ... A9市: 0.2-2 a day);
- ``keyword``: one series per title word (rjieba ``segment``, 2+ characters, with Chinese) found in
  30 to 300 titles: topic-sized series, 0.08-0.8 a day, the size of what the barometer watches.

Each per-key series gets a 0 on the timeline's first day (it was watched, and quiet, from there:
``detect`` treats days before a series' first day as unobserved). Days from the 61st on are tested
(``start``); the first 60 are the warm-up of the baseline.

For each kind and burst size, ``--trials`` times: a random series of the kind and a random first day
``s`` (both uniform, fixed seed); ``size`` messages are spread over ``s .. s+2`` (multinomial, equal
odds) and ``detect_many`` runs over all the trials at once. Counted:

- recall: share of trials with a surge overlapping ``s .. s+2``;
- delay: for those, the first day ``d`` such that the data up to ``d`` already gives such a surge,
  as ``d - s`` (0 = on the burst's first day); median and p90;
- chance: the share of those trials whose days the series *without* the burst already alarms on
  (a real surge of the data, which the recall counts too);
- false alarms: surges per 100 series-days on the same series without injection. They include the
  real surges of the data: hot_messages.csv is a set of hot topics, and the whole-city series
  alarms after the Spring Festival and on make-up working days (调休) that fall on a weekend,
  which the weekday model does not know.

Also runs the variants ``weekday=False`` and ``ratio=1`` (the p-value alone) without the delays, and
times ``detect_many`` (median of ``--runs``) on the keyword series and on 10,000 synthetic keys x 400
days (rates resampled from the keyword series, the weekday pattern of the whole timeline) against
the baseline of building their counts with ``daily_counts`` from the events.

Usage: .venv/bin/python benchmarks/surge_recall.py [--trials 200] [--runs 3] [--seed 6]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import need_data, percentile, pin_one_core

SIZES = (10, 20, 50)
FIRST = date(2019, 1, 1)
WARMUP = 60
DISTRICT = re.compile(r"A\d+[区县市]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def load() -> list[tuple[date, str, str]]:
    from minyi.text.dates import parse_datetime
    from minyi.text.tabular import read_table

    rows = []
    with read_table(need_data() / "hot_messages.csv") as table:
        header = table.header
        when, title, detail = header.index("留言时间"), header.index("留言主题"), header.index("留言详情")
        for _, values in table.rows:
            if values[when].strip():
                day = parse_datetime(values[when]).date()
                if day >= FIRST:
                    rows.append((day, values[title], values[detail]))
    return rows


def build_sets(rows: list[tuple[date, str, str]]) -> dict[str, dict[str, dict[date, int]]]:
    from minyi.text import segment
    from minyi.text.surge import daily_counts

    whole = {"all": daily_counts(day for day, _, _ in rows)}
    by_district: dict[str, list[date]] = {}
    by_word: dict[str, list[date]] = {}
    for day, title, detail in rows:
        for name in set(DISTRICT.findall(title + detail)):
            by_district.setdefault(name, []).append(day)
        for word in set(segment(title)):
            if len(word) >= 2 and CJK.search(word):
                by_word.setdefault(word, []).append(day)

    def series(days: list[date]) -> dict[date, int]:
        counts = daily_counts(days)
        counts.setdefault(FIRST, 0)
        return counts

    districts = {name: series(days) for name, days in sorted(by_district.items()) if len(days) >= 30}
    words = {word: series(days) for word, days in sorted(by_word.items()) if 30 <= len(days) <= 300}
    return {"whole": whole, "district": districts, "keyword": words}


def overlaps(surges, key: str, first: date, last: date) -> bool:
    return any(s.key == key and s.start <= last and s.end >= first for s in surges)


def run_set(series_set, clean, config, *, size: int, trials: int, rng, start: date, last: date, delays: bool):
    """(recall, chance, delays): chance is the share of trials whose days the series without the burst
    already alarms on (a real surge of the data there), which the recall includes."""
    from minyi.text.surge import detect_many

    names = sorted(series_set)
    span = (last - start).days - 1  # s from start to last - 2
    injected: dict[str, dict[date, int]] = {}
    where: dict[str, date] = {}
    for n in range(trials):
        name = names[int(rng.integers(len(names)))]
        s = start + timedelta(days=int(rng.integers(span)))
        counts = dict(series_set[name])
        for offset, extra in enumerate(rng.multinomial(size, [1 / 3] * 3)):
            d = s + timedelta(days=offset)
            counts[d] = counts.get(d, 0) + int(extra)
        key = f"{n}:{name}"
        injected[key], where[key] = counts, s
    found = detect_many(injected, config=config, start=start)
    hit = [key for key in injected if overlaps(found, key, where[key], where[key] + timedelta(days=2))]
    chance = (
        sum(
            overlaps(clean, key.split(":", 1)[1], where[key], where[key] + timedelta(days=2))
            for key in injected
        )
        / trials
    )
    lags: list[int] = []
    if delays:
        waiting = set(hit)
        for lag in range(2 + config.window_days):
            if not waiting:
                break
            cut = {
                key: {d: c for d, c in injected[key].items() if d <= where[key] + timedelta(days=lag)}
                for key in waiting
            }
            early = detect_many(cut, config=config, start=start)
            for key in list(waiting):
                if overlaps(early, key, where[key], where[key] + timedelta(days=2)):
                    lags.append(lag)
                    waiting.discard(key)
    return len(hit) / trials, chance, lags


def false_alarms(series_set, config, *, start: date, last: date):
    from minyi.text.surge import detect_many

    surges = detect_many(series_set, config=config, start=start)
    days = len(series_set) * ((last - start).days + 1)
    return surges, 100 * len(surges) / days


def timing(words, whole, runs: int, seed: int) -> None:
    import numpy as np

    from minyi.text.surge import daily_counts, detect_many

    rng = np.random.default_rng(seed)
    start = FIRST + timedelta(days=WARMUP)
    total = sum(whole["all"].values())
    weekday = np.zeros(7)
    for d, c in whole["all"].items():
        weekday[d.weekday()] += c
    weekday = weekday / weekday.mean()
    rates = [sum(s.values()) / ((max(s) - FIRST).days + 1) for s in words.values()]
    keys, days = 10_000, 400
    calendar = [FIRST + timedelta(days=i) for i in range(days)]
    shape = weekday[[d.weekday() for d in calendar]]
    events = []
    for _ in range(keys):
        counts = rng.poisson(rates[int(rng.integers(len(rates)))] * shape)
        events.append([calendar[i] for i in np.flatnonzero(counts) for _ in range(int(counts[i]))])
    n_events = sum(len(e) for e in events)

    def build():
        return {f"k{i}": daily_counts(e) for i, e in enumerate(events)}

    built = build()
    times_build, times_detect, times_words = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        build()
        t1 = time.perf_counter()
        result = detect_many(built, start=start)
        t2 = time.perf_counter()
        detect_many(words, start=start)
        t3 = time.perf_counter()
        times_build.append(t1 - t0)
        times_detect.append(t2 - t1)
        times_words.append(t3 - t2)
    b, d, w = (statistics.median(x) for x in (times_build, times_detect, times_words))
    print(f"\nTiming (median of {runs} runs, one core; whole timeline: {total} messages)")
    print(
        f"  keyword series: detect_many over {len(words)} keys x {(max(whole['all']) - FIRST).days + 1} days: {w * 1000:.0f} ms"
    )
    print(
        f"  10,000 keys x {days} days ({n_events:,} synthetic events, {len(result)} surges after the warm-up):"
    )
    print(
        f"    baseline, daily_counts per key: {b:.2f} s; detect_many: {d:.2f} s ({d / b:.2f}x the baseline)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    pin_one_core()
    import numpy as np

    from minyi.text.surge import RATE_FLOOR, WEEKDAY_DAYS, WEEKDAY_PRIOR, SurgeConfig

    rows = load()
    sets = build_sets(rows)
    last = max(day for day, _, _ in rows)
    start = FIRST + timedelta(days=WARMUP)
    default = SurgeConfig()
    print(
        f"hot_messages.csv: {len(rows)} messages from {FIRST} to {last}; tested from {start} ({WARMUP} days warm-up)"
    )
    print(
        f"defaults: {default}; floor {RATE_FLOOR}/day, weekday history {WEEKDAY_DAYS} days, prior {WEEKDAY_PRIOR}; "
        f"{args.trials} trials per size, seed {args.seed}"
    )
    for kind, series_set in sets.items():
        days = (last - FIRST).days + 1
        rates = sorted(sum(s.values()) / days for s in series_set.values())
        print(
            f"  {kind}: {len(series_set)} series, messages a day: median {statistics.median(rates):.2f}, "
            f"range {rates[0]:.2f}-{rates[-1]:.2f}"
        )
    variants = [("default", default, True), ("weekday=False", SurgeConfig(weekday=False), False)]
    variants.append(("ratio=1 (p-value only)", SurgeConfig(ratio=1.0), False))
    for label, config, with_delays in variants:
        print(f"\n{label}")
        header = f"  {'series':<9} {'false alarms /100 series-days':>30}"
        for size in SIZES:
            header += f" | {'recall ' + str(size):>10} {'(chance)':>8}" + (
                f" {'delay p50/p90':>13}" if with_delays else ""
            )
        print(header)
        for kind, series_set in sets.items():
            rng = np.random.default_rng(args.seed)
            clean, rate = false_alarms(series_set, config, start=start, last=last)
            line = f"  {kind:<9} {f'{rate:.3f} ({len(clean)})':>30}"
            for size in SIZES:
                recall, chance, lags = run_set(
                    series_set,
                    clean,
                    config,
                    size=size,
                    trials=args.trials,
                    rng=rng,
                    start=start,
                    last=last,
                    delays=with_delays,
                )
                line += f" | {recall:>10.1%} {f'({chance:.0%})':>8}"
                if with_delays:
                    line += f" {f'{statistics.median(lags):.0f} / {percentile(lags, 90):.0f} d' if lags else '-':>13}"
            print(line)
    timing(sets["keyword"], sets["whole"], args.runs, args.seed)


if __name__ == "__main__":
    main()
