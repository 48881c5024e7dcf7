"""Benchmark of minyi.text.pii: recall, false positives and throughput.

Generated numbers (valid and invalid resident IDs, mobile numbers, bank cards and
landlines, in mixed formats) are set inside real citizens' messages (column 留言详情 of
../shared/data/appeals_unlabeled.csv), one number per message.

- recall: valid numbers found with the right kind, the span covering the number;
- false positives: invalid numbers flagged as any number kind; and, as a sanity count,
  spans flagged in the untouched real messages (their phone numbers are masked with
  zeros by the publisher, so number spans there are suspect; names and addresses are real);
- throughput: find_pii and mask_pii over the 10,000 texts, median of several runs, with
  the ratio to a baseline run in the same process (one compiled regex for 11-digit runs).

Usage: .venv/bin/python benchmarks/pii.py [--count 10000] [--runs 5] [--seed 20200]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import median_seconds
from minyi.text.pii import BANK_CARD, ID_CARD, LANDLINE, MOBILE, find_pii, mask_pii

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "appeals_unlabeled.csv"
NUMBER_KINDS = {ID_CARD, BANK_CARD, MOBILE, LANDLINE}
REGIONS = ["110105", "310115", "430104", "430111", "440305", "510107", "610113", "650102"]
LEADS = ["", "", "电话", "手机：", "身份证号", "卡号", "联系方式：", "（", "号码 "]
FULL_WIDTH = str.maketrans({str(i): chr(0xFF10 + i) for i in range(10)})


def id_check(body: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    r = (12 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11) % 11
    return "X" if r == 10 else str(r)


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body + "0")):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def birth(rng: random.Random) -> date:
    return date(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 85))


def make_id(rng: random.Random, valid: bool) -> str:
    body = rng.choice(REGIONS) + birth(rng).strftime("%Y%m%d") + digits(rng, 3)
    check = id_check(body)
    if not valid:
        if rng.random() < 0.5:
            check = rng.choice([c for c in "0123456789X" if c != check])  # wrong check digit
        else:
            body = body[:10] + "1332" + body[14:]  # 32 December
            check = id_check(body)
    number = body + check
    if number.endswith("X") and rng.random() < 0.3:
        number = number[:-1] + "x"
    if rng.random() < 0.1:
        number = f"{number[:6]} {number[6:14]} {number[14:]}"
    return number


def make_id15(rng: random.Random, valid: bool) -> str:
    born = birth(rng)
    while born.year >= 2000:
        born = birth(rng)
    month = born.strftime("%m") if valid else "13"
    return rng.choice(REGIONS) + born.strftime("%y") + month + born.strftime("%d") + digits(rng, 3)


def make_mobile(rng: random.Random, valid: bool) -> str:
    number = "1" + rng.choice("3456789") + digits(rng, 9)
    if not valid:
        number = rng.choice(["1" + rng.choice("012") + digits(rng, 9), number[:10], number + digits(rng, 1)])
    if len(number) == 11:
        sep = rng.choice(["", "", "", " ", "-"])
        number = f"{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"
    return rng.choice(["", "", "", "+86", "+86 ", "0086", "86"]) + number if valid else number


def make_card(rng: random.Random, valid: bool) -> str:
    length = rng.choice([16, 16, 19, 19, 17, 18])
    prefix = rng.choice(["62", "621700", "4", "5"])
    body = prefix + digits(rng, length - len(prefix) - 1)
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randrange(1, 10)) % 10)
    number = body + check
    if rng.random() < 0.3 and length in (16, 19):
        sep = rng.choice([" ", "-"])
        number = sep.join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def make_landline(rng: random.Random, valid: bool) -> str:
    area = rng.choice(["010", "020", "0731", "0755", "0571"])
    local = rng.choice("2345678") + digits(rng, rng.choice([6, 7]))
    if not valid:
        local = rng.choice("01") + local[1:]  # local numbers never start with 0 or 1
    form = rng.choice(["{a}-{l}", "({a}){l}", "（{a}）{l}", "{a} {l}", "{a}-{l}-{e}"])
    return form.format(a=area, l=local, e=digits(rng, 3))


MAKERS: list[tuple[str, Callable[[random.Random, bool], str]]] = [
    (ID_CARD, make_id),
    (ID_CARD, make_id15),
    (MOBILE, make_mobile),
    (BANK_CARD, make_card),
    (LANDLINE, make_landline),
]


def load_messages() -> list[str]:
    if not DATA.exists():
        sys.exit(f"benchmarks/pii.py needs the shared data set: {DATA} is missing (absent in a plain clone).")
    with DATA.open(encoding="utf-8", newline="") as handle:
        messages = [row["留言详情"] for row in csv.DictReader(handle)]
    return [m for m in messages if m and m.strip()]


def insertion_point(rng: random.Random, text: str) -> int:
    for _ in range(20):
        pos = rng.randrange(0, len(text) + 1)
        before = text[pos - 1 : pos]
        after = text[pos : pos + 1]
        if not re.match(r"[0-9A-Za-z０-９]", before) and not re.match(r"[0-9A-Za-z０-９]", after):
            return pos
    return len(text)


def build(rng: random.Random, messages: list[str], count: int) -> list[tuple[str, str, bool, int, int]]:
    """(text, kind, valid, start, end) with the number at text[start:end]."""
    items = []
    for _ in range(count):
        kind, maker = rng.choice(MAKERS)
        valid = rng.random() < 0.6
        number = maker(rng, valid)
        if rng.random() < 0.1:
            number = number.translate(FULL_WIDTH)
        message = rng.choice(messages)
        pos = insertion_point(rng, message)
        lead = rng.choice(LEADS)
        head = message[:pos] + lead
        items.append((head + number + message[pos:], kind, valid, len(head), len(head) + len(number)))
    return items


def median_rate(fn: Callable[[str], object], texts: list[str], runs: int) -> tuple[float, float]:
    best = median_seconds(fn, texts, runs)
    return len(texts) / best, sum(map(len, texts)) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20200)
    args = parser.parse_args()

    messages = load_messages()
    rng = random.Random(args.seed)
    items = build(rng, messages, args.count)

    found = Counter()
    wrong_kind = Counter()
    total_valid = Counter()
    flagged_invalid = Counter()
    flagged_as = Counter()
    total_invalid = Counter()
    leaks = 0
    for text, kind, valid, start, end in items:
        spans = [s for s in find_pii(text) if s.start < end and start < s.end]
        if valid:
            total_valid[kind] += 1
            if any(s.kind == kind and s.start <= start and s.end >= end for s in spans):
                found[kind] += 1
            elif spans:
                wrong_kind[kind] += 1
            if any(s.kind in NUMBER_KINDS for s in find_pii(mask_pii(text))):
                leaks += 1
        else:
            total_invalid[kind] += 1
            flagged = [s.kind for s in spans if s.kind in NUMBER_KINDS]
            if flagged:
                flagged_invalid[kind] += 1
                flagged_as[f"{kind} as {flagged[0]}"] += 1

    print(
        f"minyi.text.pii benchmark: {len(items)} generated numbers in real messages ({len(messages)} messages)"
    )
    print(
        f"{'kind':<10} {'valid':>6} {'found':>6} {'recall':>7} {'wrong kind':>10}   {'invalid':>7} {'flagged':>7} {'FP rate':>7}"
    )
    for kind in (ID_CARD, MOBILE, BANK_CARD, LANDLINE):
        tv, fv, ti, fi = total_valid[kind], found[kind], total_invalid[kind], flagged_invalid[kind]
        print(
            f"{kind:<10} {tv:>6} {fv:>6} {fv / max(tv, 1):>7.2%} {wrong_kind[kind]:>10}   "
            f"{ti:>7} {fi:>7} {fi / max(ti, 1):>7.2%}"
        )
    tv, fv = sum(total_valid.values()), sum(found.values())
    ti, fi = sum(total_invalid.values()), sum(flagged_invalid.values())
    print(
        f"{'all':<10} {tv:>6} {fv:>6} {fv / tv:>7.2%} {sum(wrong_kind.values()):>10}   {ti:>7} {fi:>7} {fi / ti:>7.2%}"
    )

    print(f"invalid numbers flagged, by kind found: {dict(sorted(flagged_as.items()))}")
    print(f"texts with a valid number where find_pii(mask_pii(text)) still finds a number: {leaks}")
    real = Counter(s.kind for m in messages for s in find_pii(m))
    print(f"sanity: spans in the {len(messages)} untouched real messages: {dict(sorted(real.items()))}")

    texts = [item[0] for item in items]
    baseline_re = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
    base_rate, _ = median_rate(baseline_re.findall, texts, args.runs)
    find_rate, find_chars = median_rate(find_pii, texts, args.runs)
    mask_rate, mask_chars = median_rate(mask_pii, texts, args.runs)
    real_find, _ = median_rate(find_pii, messages, args.runs)
    real_mask, _ = median_rate(mask_pii, messages, args.runs)
    print(f"throughput (median of {args.runs} runs, one core):")
    print(f"  baseline one-regex scan: {base_rate:>10,.0f} texts/s")
    print(
        f"  find_pii:  {find_rate:>10,.0f} texts/s  {find_chars:>12,.0f} chars/s  ({base_rate / find_rate:.1f}x baseline time)"
    )
    print(
        f"  mask_pii:  {mask_rate:>10,.0f} texts/s  {mask_chars:>12,.0f} chars/s  ({base_rate / mask_rate:.1f}x baseline time)"
    )
    print(
        f"  on the untouched real messages: find_pii {real_find:,.0f} texts/s, mask_pii {real_mask:,.0f} texts/s"
    )


if __name__ == "__main__":
    main()
