"""Macro-F1 of `minyi train-classifier --from-cases` after `minyi import` of appeals_labeled.csv, by 5-fold CV.

    .venv/bin/python benchmarks/train_from_cases.py [--folds 5] [--seed 0]

For each fold, in a fresh SQLite database of its own (a child process): the training part of
appeals_labeled.csv is imported as history (`minyi.intake.importer`, with triage, as `minyi import` does), then
`train_from_cases` trains on the imported closed cases (their categories come from history, so they count as a
person's; it holds out the most recent 10% to compare against the active model, of which there is none), and the
stored model is scored on the fold's test messages (raw title + detail), as benchmarks/classifier_quality.py
scores the text engine: StratifiedGroupKFold with identical messages (after removing whitespace and punctuation)
in one group, macro-F1 over the seven labels on the model's best label. The baseline, in the same process: the
text engine's Classifier fitted directly on the same training messages (no import, no database).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c
from benchmarks.classifier_quality import squash

REPO = Path(__file__).resolve().parent.parent


def split(folds: int, seed: int):
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    rows = c.read_csv("appeals_labeled.csv")
    texts = [f"{r['title']}\n{r['detail']}".strip() for r in rows]
    labels = [r["label"] for r in rows]
    keys: dict[str, int] = {}
    groups = np.array([keys.setdefault(squash(t), len(keys)) for t in texts])
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return rows, texts, labels, list(splitter.split(np.zeros(len(rows)), np.array(labels), groups))


def child(fold: int, folds: int, seed: int, folder: Path) -> dict:
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'fold.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("MINYI_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from sklearn.metrics import accuracy_score, f1_score

    from minyi.intake.importer import ImportOptions, import_file
    from minyi.intake.learning import _from_bytes, train_from_cases
    from minyi.intake.models import ClassifierVersion
    from minyi.routing.models import Category

    rows, texts, labels, splits = split(folds, seed)
    train, test = splits[fold]
    call_command("migrate", verbosity=0)
    path = folder / "train.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "user", "time", "title", "detail", "label"])
        for i in train:
            r = rows[i]
            writer.writerow([r["id"], r["user"], r["time"], r["title"], r["detail"], r["label"]])
    started = time.perf_counter()
    report = import_file(str(path), options=ImportOptions(source="labeled", batch_size=500))
    imported = time.perf_counter() - started
    started = time.perf_counter()
    result = train_from_cases(note=f"benchmark fold {fold}")
    trained = time.perf_counter() - started
    version = ClassifierVersion.objects.get(pk=result.version.pk)
    model = _from_bytes(bytes(version.model_file), sha256=version.sha256)
    names = dict(Category.objects.values_list("code", "name"))
    best = [names.get(p.best, p.best) for p in model.predict_with_confidence([texts[i] for i in test])]
    truth = [labels[i] for i in test]
    return {
        "fold": fold,
        "imported": report.imported,
        "errors": report.errors,
        "import_seconds": imported,
        "train_seconds": trained,
        "trained_cases": version.trained_cases,
        "holdout_macro_f1": result.metrics.get("macro_f1"),
        "activated": result.activated,
        "test": len(test),
        "macro_f1": f1_score(truth, best, average="macro"),
        "accuracy": accuracy_score(truth, best),
    }


def baseline(folds: int, seed: int) -> list[float]:
    from sklearn.metrics import f1_score

    from minyi.text.classify import Classifier

    _rows, texts, labels, splits = split(folds, seed)
    out = []
    for train, test in splits:
        model = Classifier(random_state=0).fit([texts[i] for i in train], [labels[i] for i in train])
        best = [p.best for p in model.predict_with_confidence([texts[i] for i in test])]
        out.append(f1_score([labels[i] for i in test], best, average="macro"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    c.need_data()
    if args.child is not None:
        print(json.dumps(child(args.child, args.folds, args.seed, Path(args.folder))))
        return
    results = []
    for fold in range(args.folds):
        with tempfile.TemporaryDirectory() as folder:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(fold), "--folds", str(args.folds), "--seed", str(args.seed),
                 "--folder", folder],
                capture_output=True, text=True, check=True, cwd=REPO,
            )  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"fold {fold}: imported {result['imported']} ({result['errors']} bad rows) in {result['import_seconds']:.1f} s, "
            f"trained on {result['trained_cases']} cases in {result['train_seconds']:.1f} s "
            f"(held-out macro-F1 {result['holdout_macro_f1']:.4f}, activated {result['activated']}); "
            f"test {result['test']}: macro-F1 {result['macro_f1']:.4f}, accuracy {result['accuracy']:.4f}",
            flush=True,
        )
    direct = baseline(args.folds, args.seed)
    f1 = [r["macro_f1"] for r in results]
    print()
    print(
        f"== {args.folds}-fold CV on appeals_labeled.csv, imported as history, then train-classifier --from-cases"
    )
    print(f"macro-F1 (mean of folds)            {statistics.mean(f1):.4f} ± {statistics.stdev(f1):.4f}")
    print(f"accuracy (mean of folds)            {statistics.mean(r['accuracy'] for r in results):.4f}")
    print(
        f"baseline: Classifier on the same training messages directly  {statistics.mean(direct):.4f} ± {statistics.stdev(direct):.4f}"
    )
    print(f"ratio from-cases / direct            {statistics.mean(f1) / statistics.mean(direct):.3f}")
    print(f"import (median per fold)            {statistics.median(r['import_seconds'] for r in results):.1f} s; "
          f"training {statistics.median(r['train_seconds'] for r in results):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
