"""Throughput of Gazetteer.locate_many and assess_many over the real messages, against plain normalize.

Runs over every distinct message of ../shared/data (title + detail of appeals_unlabeled.csv,
hot_messages.csv, appeals_with_replies.csv and appeals_labeled.csv), normalised once, and
prints the median over several runs of messages/s on one core for:

- the baseline, plain ``normalize`` over the raw messages (or raw 300-character cuts);
- ``Gazetteer.locate_many`` with a synthetic gazetteer of 10,000 places (a city, its
  districts, streets, communities, estates, roads and landmarks: names made of random
  place-name syllables and the usual suffixes, plus a handful of real names that occur in
  the data, such as 泉塘街道, 丽发新城小区, 万家丽北路), and ``locate`` one text at a time;
- ``assess_many`` and ``assess_risk`` one at a time (with the message's date as ``when``);
- the same on 300-character texts (messages cut or joined to 300 characters), the size the
  targets (>= 20,000 texts/s each) are stated for.

The variants are interleaved (each round runs every one once), so that load from other processes
touches them alike and the ratios stay meaningful on a busy machine.

It also prints the share of messages at each risk level and how many messages name a place.

Usage: .venv/bin/python benchmarks/locate_risk.py [--runs 5] [--places 10000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DATA, pin_one_core, read_csv

# Characters that Chinese place names are commonly made of.
SYLLABLES = (
    "金银玉翠碧青绿红紫白黄丰盛兴隆昌茂泰康宁安和平顺祥瑞福禄寿喜乐嘉华荣富贵德仁义礼智信"
    "春夏秋冬梅兰竹菊松柏桃李杏桂樟枫杨柳荷莲芙蓉牡丹山水江河湖海溪泉塘湾港洲岛岭峰坡坪"
    "东南西北中上下前后左右新旧大小高长远龙凤鹤鹿麒麟天星月云霞虹光明晨曦景观苑庭园林"
)
STREET_SUFFIXES = ("街道", "街道", "街道", "镇", "乡")
COMMUNITY_SUFFIXES = ("社区", "社区", "村")
ESTATE_SUFFIXES = ("小区", "小区", "花园", "家园", "苑", "新城", "公寓", "名都")
ROAD_SUFFIXES = ("路", "路", "路", "大道", "街", "北路", "南路", "东路", "西路")
LANDMARK_SUFFIXES = ("公园", "广场", "医院", "中学", "小学", "商场", "物业公司")

# Real names that occur in the shared data (the masked A市/A3区 forms are added too, but are not these).
REAL_STREETS = {
    "A7县": ["泉塘街道", "星沙街道", "榔梨街道", "黄花镇", "安沙镇", "黄兴镇"],
    "A5区": ["暮云街道"],
}
REAL_COMMUNITIES = {"泉塘街道": ["泉星社区"], "星沙街道": ["尖山社区"], "暮云街道": ["丽发新城社区"]}
REAL_ESTATES = {"泉星社区": ["魅力之城小区"], "丽发新城社区": ["丽发新城小区"], "尖山社区": ["金晖优步花园"]}
REAL_ROADS = {"A3区": ["万家丽北路", "香樟路"], "A7县": ["远大路"], "A5区": ["洞井路"]}
REAL_LANDMARKS = {"A7县": ["星沙文化公园"], "A2区": ["华润置地广场"]}


def synthetic_places(count: int, seed: int = 0) -> list:
    """A city, 10 districts and ``count`` places in all, ids 0..count-1."""
    from minyi.text.locate import Place

    rng = random.Random(seed)
    places: list[Place] = []
    by_name: dict[str, int] = {}

    def add(name: str, kind: str, parent: int | None) -> int:
        places.append(Place(len(places), name, kind, parent))
        by_name.setdefault(name, len(places) - 1)
        return len(places) - 1

    def word() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 2, 3))))

    city = add("A市", "city", None)
    districts = [add(f"A{i}区", "district", city) for i in range(1, 7)]
    districts += [add("A7县", "district", city), add("A8县", "district", city), add("A9市", "district", city)]
    districts.append(add(word() + "区", "district", city))
    streets, communities, estates = [], [], []
    for parent, names in REAL_STREETS.items():
        streets += [add(n, "street", by_name[parent]) for n in names]
    for parent, names in REAL_COMMUNITIES.items():
        communities += [add(n, "community", by_name[parent]) for n in names]
    for parent, names in REAL_ESTATES.items():
        estates += [add(n, "estate", by_name[parent]) for n in names]
    for parent, names in REAL_ROADS.items():
        for n in names:
            add(n, "road", by_name[parent])
    for parent, names in REAL_LANDMARKS.items():
        for n in names:
            add(n, "landmark", by_name[parent])
    # shares of the rest: streets 2%, communities 18%, estates 50%, roads 22%, landmarks 8%
    rest = count - len(places)
    plan = [("street", 0.02), ("community", 0.18), ("estate", 0.50), ("road", 0.22), ("landmark", 0.08)]
    for kind, share in plan:
        for _ in range(round(rest * share)):
            if len(places) >= count:
                break
            if kind == "street":
                streets.append(add(word() + rng.choice(STREET_SUFFIXES), kind, rng.choice(districts)))
            elif kind == "community":
                communities.append(add(word() + rng.choice(COMMUNITY_SUFFIXES), kind, rng.choice(streets)))
            elif kind == "estate":
                estates.append(add(word() + rng.choice(ESTATE_SUFFIXES), kind, rng.choice(communities)))
            elif kind == "road":
                add(word() + rng.choice(ROAD_SUFFIXES), kind, rng.choice(districts))
            else:
                add(word() + rng.choice(LANDMARK_SUFFIXES), kind, rng.choice(districts + streets))
    while len(places) < count:
        estates.append(add(word() + rng.choice(ESTATE_SUFFIXES), "estate", rng.choice(communities)))
    return places


def messages() -> tuple[list[str], list[date | None]]:
    """Every distinct message (title + detail) with its date, when it parses."""
    seen: set[str] = set()
    texts: list[str] = []
    dates: list[date | None] = []
    sources = [
        ("appeals_unlabeled.csv", "留言主题", "留言详情", "留言时间"),
        ("hot_messages.csv", "留言主题", "留言详情", "留言时间"),
        ("appeals_with_replies.csv", "留言主题", "留言详情", "留言时间"),
        ("appeals_labeled.csv", "title", "detail", "time"),
    ]
    for name, title, detail, when in sources:
        for row in read_csv(name):
            text = f"{row[title]}\n{row[detail]}".strip()
            key = "".join(text.split())
            if key and key not in seen:
                seen.add(key)
                texts.append(text)
                dates.append(parse_date(row.get(when, "")))
    return texts, dates


def parse_date(value: str) -> date | None:
    value = (value or "").strip()
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def to_length(texts: list[str], length: int) -> list[str]:
    """Texts of exactly ``length`` characters: long ones cut, short ones joined with the next."""
    out = []
    pool = "".join(texts)
    for start in range(0, len(pool) - length, length):
        out.append(pool[start : start + length])
        if len(out) >= len(texts):
            break
    return out


def interleaved_medians(variants: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median wall time of each variant over ``runs`` rounds; each round runs every variant once, in
    turn, so that a change of machine load touches all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def line(name: str, seconds: float, count: int, baseline: float | None = None) -> None:
    text = f"  {name:<40} {count / seconds:>10,.0f} texts/s {seconds / count * 1e6:>8.1f} µs/text"
    if baseline is not None:
        text += f"   {seconds / baseline:>5.2f}x normalize time"
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--places", type=int, default=10_000)
    args = parser.parse_args()
    if not (DATA / "appeals_unlabeled.csv").exists():
        sys.exit(
            f"benchmarks/locate_risk.py needs the shared data set: {DATA} is missing (absent in a plain clone)."
        )
    pin_one_core()

    from minyi.text.locate import Gazetteer
    from minyi.text.normalize import normalize
    from minyi.text.risk import LEVELS, assess_many, assess_risk

    raw, dates = messages()
    normalize("聯繫")  # OpenCC probe
    texts = [normalize(t) for t in raw]
    short = to_length(texts, 300)
    start = time.perf_counter()
    gazetteer = Gazetteer(synthetic_places(args.places))
    built = time.perf_counter() - start
    print(
        f"{len(texts)} messages (median {statistics.median(map(len, texts)):.0f} chars, "
        f"mean {statistics.mean(map(len, texts)):.0f}), "
        f"{len(short)} texts of 300 chars; {gazetteer!r} built in {built:.2f} s"
    )
    print(f"median of {args.runs} interleaved runs, one core:")
    short_raw = to_length(raw, 300)
    for label, batch, source, whens in (
        ("real messages", texts, raw, dates),
        ("300-char texts", short, short_raw, None),
    ):
        print(f" {label}:")
        medians = interleaved_medians(
            {
                "baseline normalize": lambda r=source: [normalize(t) for t in r],
                "Gazetteer.locate_many": lambda b=batch: gazetteer.locate_many(b),
                "Gazetteer.locate, one at a time": lambda b=batch: [gazetteer.locate(t) for t in b],
                "assess_many": lambda b=batch, w=whens: assess_many(b, when=w),
                "assess_risk, one at a time": lambda b=batch: [assess_risk(t) for t in b],
            },
            args.runs,
        )
        base = medians.pop("baseline normalize")
        line("baseline normalize", base, len(batch))
        for name, seconds in medians.items():
            line(name, seconds, len(batch), base)

    located = gazetteer.locate_many(texts)
    named = sum(1 for loc in located if loc.place_id is not None)
    kinds = Counter(gazetteer.place(loc.place_id).kind for loc in located if loc.place_id is not None)
    print(
        f"messages with a place: {named / len(texts):.1%} ({', '.join(f'{k} {v}' for k, v in kinds.most_common())})"
    )
    risks = assess_many(texts, when=dates)
    levels = Counter(r.level for r in risks)
    print(
        "risk levels: " + ", ".join(f"{lvl} {levels[lvl] / len(risks):.2%} ({levels[lvl]})" for lvl in LEVELS)
    )
    codes = Counter(reason.code for r in risks for reason in r.reasons)
    print("reasons: " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))


if __name__ == "__main__":
    main()
