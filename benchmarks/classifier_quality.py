"""Classifier quality under honest 5-fold cross-validation on the real labelled appeals.

    .venv/bin/python benchmarks/classifier_quality.py [--folds 5] [--seed 0]

Test folds hold raw messages from appeals_labeled.csv only. Every training fold also gets
appeals_tokens_labeled.csv (pre-segmented), minus the token rows that are the same
message as any test-fold message (found by character 4-gram containment >= 0.2 of the
token row in the raw message; about 3,000 of the 8,292 token rows are copies of raw
messages, so without this the test messages would leak into training). Raw messages
that are identical once whitespace and punctuation are removed share a group, and
groups never straddle folds (StratifiedGroupKFold).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import labelled, tokens_labelled


def squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text))


def grams(text: str, n: int = 4) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def token_row_links(raw: list[str], token_rows: list[str], *, containment: float = 0.2) -> list[set[int]]:
    """For each token row, the raw messages it is a copy of."""
    index: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(raw):
        for g in grams(squash(text)):
            index[g].append(i)
    links = []
    for row in token_rows:
        g = grams(squash(row.replace(" ", "")))
        counts: Counter[int] = Counter()
        for x in g:
            members = index.get(x)
            if members and len(members) < 300:  # skip boilerplate grams
                counts.update(members)
        links.append({i for i, c in counts.items() if c / max(1, len(g)) >= containment})
    return links


def main() -> None:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    from minyi.text.classify import Classifier, pretokenized

    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    raw, y_raw = labelled()
    token_rows, y_tok = tokens_labelled()
    print(f"raw labelled messages: {len(raw)}; pre-segmented rows: {len(token_rows)}")
    keys: dict[str, int] = {}
    groups = np.array([keys.setdefault(squash(t), len(keys)) for t in raw])
    print(
        f"groups of identical messages (after removing whitespace/punctuation): {len(raw) - len(keys)} duplicates"
    )
    links = token_row_links(raw, token_rows)
    print(f"token rows that copy a raw message: {sum(1 for s in links if s)}")
    tokens = [pretokenized(t) for t in token_rows]
    y_raw_arr = np.array(y_raw, dtype=object)
    y_tok_arr = np.array(y_tok, dtype=object)

    split = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    best = np.empty(len(raw), dtype=object)
    abstained = np.zeros(len(raw), dtype=bool)
    fold_f1, fold_acc, train_seconds = [], [], []
    model_bytes = 0
    for fold, (train, test) in enumerate(split.split(np.zeros(len(raw)), y_raw_arr, groups), start=1):
        test_set = set(test.tolist())
        extra = [i for i, s in enumerate(links) if not (s & test_set)]
        X = [raw[i] for i in train] + [tokens[i] for i in extra]
        y = list(y_raw_arr[train]) + list(y_tok_arr[extra])
        start = time.perf_counter()
        model = Classifier().fit(X, y)
        train_seconds.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.npz")
            model.save(path)
            model_bytes = os.path.getsize(path)
            model = Classifier.load(path)  # evaluate what a deployment would load
        predictions = model.predict_with_confidence([raw[i] for i in test])
        best[test] = [p.best for p in predictions]
        abstained[test] = [p.abstained for p in predictions]
        fold_f1.append(f1_score(y_raw_arr[test], best[test], average="macro"))
        fold_acc.append(accuracy_score(y_raw_arr[test], best[test]))
        print(
            f"fold {fold}: train {len(X)} docs ({len(train)} raw + {len(extra)} token rows; "
            f"{len(token_rows) - len(extra)} token rows withheld as copies of test messages), "
            f"test {len(test)}; macro-F1 {fold_f1[-1]:.4f}, accuracy {fold_acc[-1]:.4f}, "
            f"train {train_seconds[-1]:.1f} s",
            flush=True,
        )
    answered = ~abstained
    print()
    print(f"== {args.folds}-fold CV on appeals_labeled.csv (+ token rows in every training fold)")
    print(f"macro-F1 (mean of folds)     {statistics.mean(fold_f1):.4f} ± {statistics.stdev(fold_f1):.4f}")
    print(f"accuracy (mean of folds)     {statistics.mean(fold_acc):.4f} ± {statistics.stdev(fold_acc):.4f}")
    print(f"macro-F1 (pooled)            {f1_score(y_raw_arr, best, average='macro'):.4f}")
    print(f"abstention rate @0.5         {abstained.mean():.4f}")
    print(
        f"macro-F1 of answered @0.5    {f1_score(y_raw_arr[answered], best[answered], average='macro'):.4f}"
        f"  (accuracy {accuracy_score(y_raw_arr[answered], best[answered]):.4f})"
    )
    print(f"training time (median)       {statistics.median(train_seconds):.1f} s for ~{len(X)} docs")
    print(f"model file size              {model_bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
