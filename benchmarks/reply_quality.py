"""Benchmark of minyi.text.quality: score distribution, per-part means, real vs mismatched replies, speed.

On ../shared/data/appeals_with_replies.csv (real appeals with the department's reply; columns 留言编号,
留言用户, 留言主题, 留言时间, 留言详情, 答复意见, 答复时间):

- the distribution of the scores (deciles, a histogram by tens) and the mean of each part where it
  applies, with the share of pairs where it applies; the most common reasons per severity;
- real vs mismatched: each appeal is scored with its own reply and with another appeal's reply
  (seeded shuffle, same times), and the share of appeals whose real reply scores strictly above the
  mismatched one is printed for the total score and for the relevance part (ties counted apart);
  also the same share for a plain token cosine with a corpus IDF fitted on the whole file (an
  oracle that the scorer does not have) and without, to show what the generic-word weights give;
- throughput: assess_reply over the pairs, replies/s, median of ``--runs`` runs, and the baseline in
  the same process: normalising and segmenting the same texts alone (what any scorer must do).

Usage: .venv/bin/python benchmarks/reply_quality.py [--runs 3] [--seed 6] [--limit 0]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import percentile, pin_one_core, read_csv
from minyi.text.normalize import normalize
from minyi.text.quality import PARTS, WEIGHTS, _content_tokens, _cosine, _vector, assess_reply
from minyi.text.segment import segment

FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%Y-%m-%d")


def parse_time(value: str) -> datetime | None:
    value = (value or "").strip()
    for fmt in FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def load(limit: int) -> list[dict]:
    rows = read_csv("appeals_with_replies.csv")
    pairs = [
        {
            "title": r["留言主题"],
            "appeal": r["留言详情"],
            "reply": r["答复意见"],
            "received_at": parse_time(r["留言时间"]),
            "replied_at": parse_time(r["答复时间"]),
        }
        for r in rows
    ]
    return pairs[:limit] if limit else pairs


def score(pair: dict, reply: str | None = None):
    return assess_reply(
        pair["appeal"],
        pair["reply"] if reply is None else reply,
        title=pair["title"],
        received_at=pair["received_at"],
        replied_at=pair["replied_at"],
    )


def share_above(real: list[float], fake: list[float]) -> tuple[float, float]:
    n = len(real)
    above = sum(1 for a, b in zip(real, fake, strict=True) if a > b)
    ties = sum(1 for a, b in zip(real, fake, strict=True) if a == b)
    return above / n, ties / n


def idf_cosines(pairs: list[dict], mismatch: list[int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Plain token cosines, flat and with a corpus IDF (an oracle), real vs mismatched."""
    appeal_tokens = [_content_tokens(segment(normalize(p["title"] + "\n" + p["appeal"]))) for p in pairs]
    reply_tokens = [_content_tokens(segment(normalize(p["reply"]))) for p in pairs]
    df: Counter[str] = Counter()
    for tokens in appeal_tokens + reply_tokens:
        df.update(set(tokens))
    n_docs = 2 * len(pairs)

    def vec(tokens: list[str], idf: bool) -> dict[str, float]:
        counts = Counter(tokens)
        return {
            t: (1 + math.log(c)) * (math.log((n_docs + 1) / (df[t] + 1)) + 1 if idf else 1.0)
            for t, c in counts.items()
        }

    out = []
    for idf in (False, True):
        av = [vec(t, idf) for t in appeal_tokens]
        rv = [vec(t, idf) for t in reply_tokens]
        real = [_cosine(av[i], rv[i]) for i in range(len(pairs))]
        fake = [_cosine(av[i], rv[mismatch[i]]) for i in range(len(pairs))]
        out.append(share_above(real, fake))
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--limit", type=int, default=0, help="only the first N pairs (0: all)")
    args = parser.parse_args()
    pin_one_core()
    pairs = load(args.limit)
    n = len(pairs)
    print(f"pairs: {n} (appeals_with_replies.csv)")
    segment("预热")  # build the segmenter outside the timings

    results = [score(p) for p in pairs]
    scores = [q.score for q in results]
    print("\nscore distribution")
    print(
        "  mean {:.1f}  p10 {}  p25 {}  p50 {}  p75 {}  p90 {}".format(
            statistics.mean(scores), *(percentile(scores, q) for q in (10, 25, 50, 75, 90))
        )
    )
    hist = Counter(min(s // 10, 9) for s in scores)
    for b in range(10):
        count = hist.get(b, 0)
        print(f"  {b * 10:3d}-{b * 10 + 9 if b < 9 else 100:<3d} {count:5d}  {'#' * round(60 * count / n)}")
    below60 = sum(1 for s in scores if s < 60) / n
    print(f"  below 60: {below60:.1%}")

    print("\nparts (mean where it applies; share of pairs where it applies; nominal weight)")
    for key in PARTS:
        values = [q.parts[key].score for q in results if q.parts[key].score is not None]
        mean = statistics.mean(values) if values else float("nan")
        print(f"  {key:<13} mean {mean:.3f}  applies {len(values) / n:6.1%}  weight {WEIGHTS[key]:.2f}")

    print("\nmost common reasons (share of replies with the code)")
    for severity in ("bad", "warn", "good"):
        counts = Counter(
            code for q in results for code in {r.code for r in q.reasons if r.severity == severity}
        )
        shown = ", ".join(f"{code} {c / n:.0%}" for code, c in counts.most_common(8))
        print(f"  {severity:<5} {shown}")

    rng = random.Random(args.seed)
    mismatch = []
    for i in range(n):
        j = rng.randrange(n - 1)
        mismatch.append(j if j < i else j + 1)
    fake_results = [score(pairs[i], pairs[mismatch[i]]["reply"]) for i in range(n)]
    above, ties = share_above(scores, [q.score for q in fake_results])
    rel_real = [q.parts["relevance"].score or 0.0 for q in results]
    rel_fake = [q.parts["relevance"].score or 0.0 for q in fake_results]
    rel_above, rel_ties = share_above(rel_real, rel_fake)
    sims = [
        (
            _cosine(
                _vector(segment(normalize(p["title"] + "\n" + p["appeal"]))),
                _vector(segment(normalize(p["reply"]))),
            )
        )
        for p in pairs
    ]
    print(f"\nreal vs mismatched reply for the same appeal (seed {args.seed})")
    print(
        f"  score:      real above {above:.1%}  ties {ties:.1%}  (mean real {statistics.mean(scores):.1f}, "
        f"mismatched {statistics.mean(q.score for q in fake_results):.1f})"
    )
    print(
        f"  relevance:  real above {rel_above:.1%}  ties {rel_ties:.1%}  (mean real {statistics.mean(rel_real):.3f}, "
        f"mismatched {statistics.mean(rel_fake):.3f})"
    )
    print(
        f"  cosine of real pairs: p25 {percentile(sims, 25):.3f}  p50 {percentile(sims, 50):.3f}  "
        f"p75 {percentile(sims, 75):.3f}"
    )
    flat, idf = idf_cosines(pairs, mismatch)
    print(f"  plain token cosine, flat weights:  real above {flat[0]:.1%}  ties {flat[1]:.1%}")
    print(f"  plain token cosine, corpus IDF:    real above {idf[0]:.1%}  ties {idf[1]:.1%}  (oracle)")
    short = sum(1 for q in results if "too_short" in q.codes) / n
    print(f"  bare one-liners (too_short) among the real replies: {short:.1%}")

    def run_scorer() -> None:
        for p in pairs:
            score(p)

    def run_baseline() -> None:
        for p in pairs:
            segment(normalize(p["title"]))
            segment(normalize(p["appeal"]))
            segment(normalize(p["reply"]))

    def median_time(fn) -> float:
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    scorer = median_time(run_scorer)
    baseline = median_time(run_baseline)
    print(f"\nthroughput (one core, median of {args.runs} runs)")
    print(f"  assess_reply:            {n / scorer:8.0f} replies/s  ({1000 * scorer / n:.2f} ms each)")
    print(f"  baseline (normalise + segment only): {n / baseline:8.0f} replies/s")
    print(f"  ratio scorer / baseline time: {scorer / baseline:.2f}")


if __name__ == "__main__":
    main()
