"""Throughput of the full triage of one appeal, on one core.

    .venv/bin/python benchmarks/text_pipeline.py [--index-size 100000] [--repeat 3]

Triage = normalize -> segment -> find_pii -> classify -> duplicate query against an
index of --index-size appeals (all distinct real messages of the shared files plus
synthetic ones: 3-8 sentences of real messages with 5% of characters changed). It runs
over every message of appeals_unlabeled.csv, batched (256 at a time: segment_many,
Classifier on token lists, query_many) and one at a time. The same pipeline built on
jieba (pure Python) instead of rjieba runs in the same process, with a classifier
trained the same way on jieba's tokens; the ratio of the two is printed. Segmentation
alone (rjieba, on normalised text) is the ceiling.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

c.pin_one_core()

BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import jieba

    from minyi.text.classify import Classifier
    from minyi.text.dedupe import DuplicateIndex
    from minyi.text.normalize import normalize
    from minyi.text.pii import find_pii
    from minyi.text.segment import segment, segment_many

    jieba.setLogLevel(60)
    jieba_tokenizer = jieba.Tokenizer()
    jieba_tokenizer.initialize()

    def jieba_cut(text: str) -> list[str]:
        return [t for t in jieba_tokenizer.lcut(text) if t and not t.isspace()]

    rng = random.Random(0)
    texts = c.unlabelled()
    raw, labels = c.labelled()
    token_rows, token_labels = c.tokens_labelled()
    from minyi.text.classify import pretokenized

    tokens = [pretokenized(t) for t in token_rows]
    print(f"messages to triage: {len(texts)} (appeals_unlabeled.csv)", flush=True)

    start = time.perf_counter()
    model = Classifier().fit(raw + tokens, labels + token_labels)
    print(f"classifier (rjieba) trained in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    model_jieba = Classifier(segmenter=jieba_cut).fit(raw + tokens, labels + token_labels)
    print(f"classifier (jieba) trained in {time.perf_counter() - start:.1f} s", flush=True)

    start = time.perf_counter()
    real = [normalize(t) for t in c.all_messages()]
    pool = c.cjk_chars(real)
    synthetic = c.synthesize(max(0, args.index_size - len(real)), c.sentences_of(real), rng, pool)
    index = DuplicateIndex()
    history = (real + synthetic)[: args.index_size]
    for lo in range(0, len(history), 10_000):
        index.add_many([(i, t) for i, t in enumerate(history[lo : lo + 10_000], start=lo)], normalized=True)
    print(f"duplicate index: {len(index)} appeals, built in {time.perf_counter() - start:.1f} s", flush=True)

    def batched(cut_many, clf):
        def run() -> int:
            found = 0
            for lo in range(0, len(texts), BATCH):
                normal = [normalize(t) for t in texts[lo : lo + BATCH]]
                words = cut_many(normal)
                for n in normal:
                    find_pii(n)
                clf.predict_with_confidence(words)
                found += sum(1 for r in index.query_many(normal, normalized=True) if r)
            return found

        return run

    def one_at_a_time(cut, clf):
        def run() -> int:
            found = 0
            for t in texts:
                n = normalize(t)
                words = cut(n)
                find_pii(n)
                clf.predict_with_confidence([words])
                found += bool(index.query(n, normalized=True))
            return found

        return run

    def jieba_many(normal: list[str]) -> list[list[str]]:
        return [jieba_cut(n) for n in normal]

    n = len(texts)
    variants = {
        "rjieba batched": batched(segment_many, model),
        "rjieba one at a time": one_at_a_time(segment, model),
        "jieba batched": batched(jieba_many, model_jieba),
        "jieba one at a time": one_at_a_time(jieba_cut, model_jieba),
    }
    # interleaved, so that every variant sees the same background load; medians per variant
    runs: dict[str, list[float]] = {name: [] for name in variants}
    found: dict[str, object] = {}
    for _ in range(args.repeat):
        for name, fn in variants.items():
            seconds, found[name] = c.timed(fn, repeat=1)
            runs[name].append(seconds)
    results = {}
    for name, times in runs.items():
        results[name] = n / statistics.median(times)
        print(
            f"{name:24s} {results[name]:8.0f} appeals/s   ({found[name]} of {n} had a near-duplicate)",
            flush=True,
        )

    normal = [normalize(t) for t in texts]
    stages = {
        "normalize": lambda: [normalize(t) for t in texts],
        "segment (rjieba)": lambda: segment_many(normal),
        "segment (jieba)": lambda: [jieba_cut(x) for x in normal],
        "find_pii": lambda: [find_pii(x) for x in normal],
    }
    words = segment_many(normal)
    stages["classify (tokens, batched)"] = lambda: [
        model.predict_with_confidence(words[lo : lo + BATCH]) for lo in range(0, n, BATCH)
    ]
    stages["duplicate query (batched)"] = lambda: [
        index.query_many(normal[lo : lo + BATCH], normalized=True) for lo in range(0, n, BATCH)
    ]
    print("\nper-stage cost (median of runs), microseconds per appeal:")
    cost = {}
    for name, fn in stages.items():
        seconds, _ = c.timed(fn, repeat=args.repeat)
        cost[name] = seconds / n * 1e6
        print(f"  {name:28s} {cost[name]:8.1f} us   ({n / seconds:8.0f} /s)")
    shared = cost["normalize"] + cost["find_pii"] + cost["classify (tokens, batched)"]
    shared += cost["duplicate query (batched)"]
    stage_ratio = (shared + cost["segment (jieba)"]) / (shared + cost["segment (rjieba)"])
    ceiling, _ = c.timed(stages["segment (rjieba)"], repeat=args.repeat)

    print("\n== summary (one core)")
    print(f"pipeline, batched            {results['rjieba batched']:8.0f} appeals/s   (target >= 1,500)")
    print(f"pipeline, one at a time      {results['rjieba one at a time']:8.0f} appeals/s")
    print(f"jieba pipeline, batched      {results['jieba batched']:8.0f} appeals/s")
    print(
        f"rjieba / jieba (batched)     {results['rjieba batched'] / results['jieba batched']:8.2f} x   (target >= 5x)"
    )
    print(f"rjieba / jieba from stages   {stage_ratio:8.2f} x   (sum of the per-stage medians)")
    print(f"segmentation alone (ceiling) {n / ceiling:8.0f} appeals/s")


if __name__ == "__main__":
    main()
