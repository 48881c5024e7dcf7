"""Near-duplicate detection: recall and precision on edited reposts, and query time at scale.

    .venv/bin/python benchmarks/duplicates.py [--sizes 100000,1000000] [--sources 1000]

Index: every distinct real message of the shared files except 1,000 held out as
negatives. Positives: 1,000 indexed real messages, each reposted five ways (greeting and
closing added; sentences reordered; punctuation swapped; 10% of characters changed; all
of these at once). A returned id counts as correct when it is the source, or when its
exact shingle Jaccard with the source is at least the threshold (the data holds some
true near-duplicates). Negatives: the held-out messages; anything they return is a
false positive unless its exact Jaccard with the query reaches the threshold.
Query time: the all-edits reposts queried one at a time (median, p99) and batched, with
the index filled up to each size by synthetic appeals (3-8 sentences of real messages,
5% of characters changed).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

c.pin_one_core()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--sources", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from minyi.text.dedupe import DuplicateIndex, shingle_text
    from minyi.text.normalize import normalize

    rng = random.Random(7)
    real = [normalize(t) for t in c.all_messages()]
    real = [t for t in real if len(shingle_text(t, normalized=True)) >= 20]
    pool = c.cjk_chars(real)
    order = list(range(len(real)))
    rng.shuffle(order)
    negatives = [real[i] for i in order[: args.sources]]
    indexed = [real[i] for i in order[args.sources :]]
    sources = rng.sample(range(len(indexed)), args.sources)
    print(f"real messages: {len(real)}; indexed {len(indexed)}, held out as negatives {len(negatives)}")

    index = DuplicateIndex()
    k = index.shingle
    print(
        f"settings: shingle {k}, num_perm {index.num_perm}, bands {index.bands} x rows {index.rows}, "
        f"threshold {index.threshold}"
    )
    index.add_many(list(enumerate(indexed)), normalized=True)

    def shingles(text: str) -> set[str]:
        s = shingle_text(text, normalized=True)
        return {s[i : i + k] for i in range(max(1, len(s) - k + 1))}

    def exact(a: str, b: str) -> float:
        x, y = shingles(a), shingles(b)
        return len(x & y) / max(1, len(x | y))

    edits = {
        "greeting+closing": lambda t: c.add_greeting(t, rng),
        "sentences reordered": lambda t: c.reorder_sentences(t, rng),
        "punctuation swapped": lambda t: c.swap_punctuation(t, rng),
        "10% chars changed": lambda t: c.change_chars(t, rng, pool),
        "all of these": lambda t: c.repost(t, rng, pool),
    }
    queries = {name: [normalize(fn(indexed[s])) for s in sources] for name, fn in edits.items()}
    threshold = index.threshold
    print("\n== edited reposts (source indexed among", len(index), "real messages)")
    total_returned = total_correct = 0
    for name, texts in queries.items():
        results = index.query_many(texts, normalized=True)
        found = 0
        for s, result in zip(sources, results, strict=True):
            ids = [i for i, _ in result]
            found += s in ids
            for i in ids:
                total_returned += 1
                total_correct += i == s or exact(indexed[s], indexed[i]) >= threshold
        similarity = [exact(indexed[s], t) for s, t in zip(sources, texts, strict=True)]
        print(
            f"{name:22s} recall {found / len(sources):.3f}   exact Jaccard to source: "
            f"median {c.percentile(similarity, 50):.2f}, 1st pct {c.percentile(similarity, 1):.2f}"
        )
    negative_results = index.query_many(negatives, normalized=True)
    false_positive = true_dup = 0
    queries_with_fp = 0
    for text, result in zip(negatives, negative_results, strict=True):
        bad = [i for i, _ in result if exact(text, indexed[i]) < threshold]
        false_positive += len(bad)
        true_dup += len(result) - len(bad)
        queries_with_fp += bool(bad)
    precision = total_correct / max(1, total_correct + (total_returned - total_correct) + false_positive)
    print(
        f"negatives: {len(negatives)} held-out real messages returned {false_positive} false positives "
        f"({queries_with_fp} queries affected) and {true_dup} true near-duplicates (exact Jaccard >= {threshold})"
    )
    print(f"precision over all returned pairs: {precision:.4f}")

    reposts = queries["all of these"]
    filler = c.sentences_of(real)
    next_id = len(indexed)
    for size in sizes:
        start = time.perf_counter()
        while len(index) < size:
            chunk = min(20_000, size - len(index))
            texts = c.synthesize(chunk, filler, rng, pool)
            index.add_many([(next_id + j, t) for j, t in enumerate(texts)], normalized=True)
            next_id += chunk
        built = time.perf_counter() - start
        times = []
        found = 0
        for s, text in zip(sources, reposts, strict=True):
            t0 = time.perf_counter()
            result = index.query(text, normalized=True)
            times.append(time.perf_counter() - t0)
            found += s in [i for i, _ in result]
        seconds, _ = c.timed(lambda: index.query_many(reposts, normalized=True), repeat=3)
        neg = index.query_many(negatives, normalized=True)
        fp = sum(
            1
            for text, r in zip(negatives, neg, strict=True)
            for i, _ in r
            if i < len(indexed) and exact(text, indexed[i]) < threshold
        )
        synthetic_hits = sum(1 for r in neg for i, _ in r if i >= len(indexed))
        print(
            f"\n== {len(index):,} indexed appeals (filled in {built:.0f} s)\n"
            f"query one at a time: median {c.percentile(times, 50) * 1e3:.2f} ms, p99 {c.percentile(times, 99) * 1e3:.2f} ms\n"
            f"query_many (batch of {len(reposts)}): {seconds / len(reposts) * 1e3:.3f} ms per query\n"
            f"recall of all-edits reposts: {found / len(sources):.3f}; negatives: {fp} false positives among real "
            f"messages, {synthetic_hits} hits on synthetic appeals (made of real sentences)"
        )


if __name__ == "__main__":
    main()
