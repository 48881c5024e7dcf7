"""The offline text commands: ``minyi train-classifier``, ``evaluate-classifier`` and ``classify``.

They read CSV (UTF-8, UTF-8 with BOM, GB18030, Big5, UTF-16) and XLSX files through
``minyi.text.tabular`` and need no database. Each ``*_main(argv)`` returns an exit code:
0 on success, 2 for bad input (unreadable file, unknown columns, empty label column,
a label with a single example, a corrupted or wrong-version model), with a message on
stderr that names the file, row or column.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minyi.text.atomic import publish
from minyi.text.tabular import Columns, TableError, detect_columns, output_path_kind, read_table, row_text

__all__ = ["classify_main", "evaluate_classifier_main", "train_classifier_main"]

OUTPUT_COLUMNS = ("category", "confidence", "abstained")
BATCH = 512


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


class CommandError(Exception):
    """Bad input: reported on stderr, exit code 2."""


# --- shared ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise CommandError(message)


def _parser(prog: str, description: str) -> _Parser:
    return _Parser(prog=f"minyi {prog}", description=description)


def _add_column_options(parser: argparse.ArgumentParser, *, label: bool) -> None:
    parser.add_argument(
        "--text-cols",
        help="comma-separated text columns, title first (default: recognised names such as 留言主题,留言详情 or title,detail)",
    )
    if label:
        parser.add_argument(
            "--label-col", help="the label column (default: 一级标签/一级分类/类别/label/category)"
        )
    parser.add_argument(
        "--tokens-col",
        help="a column of pre-segmented text (tokens separated by spaces); used for the input files that have it",
    )
    parser.add_argument("--encoding", help="the encoding of CSV inputs (default: detected)")
    parser.add_argument("--sheet", help="the sheet of XLSX inputs (default: the first)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _split_cols(value: str | None) -> list[str] | None:
    if not value:
        return None
    cols = [c.strip() for c in value.replace("，", ",").split(",") if c.strip()]
    return cols or None


def _run(prog: str, body: Any, argv: Sequence[str]) -> int:
    from minyi.text.classify import ModelFileError

    try:
        return int(body(list(argv)) or 0)
    except (CommandError, TableError, ModelFileError) as exc:
        _err(f"minyi {prog}: error: {exc}")
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int) else 0


@dataclass
class _Rows:
    """Documents read from the input files, with where each came from."""

    docs: list[Any] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    where: list[tuple[str, int]] = field(default_factory=list)
    no_label: list[tuple[str, int]] = field(default_factory=list)
    no_text: list[tuple[str, int]] = field(default_factory=list)


def _document(values: Sequence[str], columns: Columns) -> Any:
    from minyi.text.classify import pretokenized

    if columns.tokens is not None:
        return pretokenized(values[columns.tokens])
    return row_text(values, columns)


def _read_labelled(paths: Sequence[str], args: argparse.Namespace, *, desc: str) -> _Rows:
    from minyi.text.progress import progress

    out = _Rows()
    for path in paths:
        with read_table(path, encoding=args.encoding, sheet=args.sheet) as table:
            columns = detect_columns(
                table.header,
                path=path,
                text_cols=_split_cols(args.text_cols),
                label_col=args.label_col,
                tokens_col=args.tokens_col,
                need_label=True,
            )
            assert columns.label is not None
            labelled = 0
            for number, values in progress(table.rows, desc=f"{desc} {Path(path).name}", quiet=args.quiet):
                label = values[columns.label].strip()
                if not label:
                    out.no_label.append((path, number))
                    continue
                labelled += 1
                doc = _document(values, columns)
                if not doc:
                    out.no_text.append((path, number))
                    continue
                out.docs.append(doc)
                out.labels.append(label)
                out.where.append((path, number))
            if not labelled:
                raise CommandError(
                    f"{path}: the label column {table.header[columns.label]!r} is empty (no row has a label)"
                )
    return out


def _rows_note(what: str, rows: list[tuple[str, int]]) -> str:
    shown = ", ".join(f"{Path(p).name} row {n}" for p, n in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"skipped {len(rows)} row(s) {what}: {shown}{more}"


# --- train-classifier ----------------------------------------------------------------------


def train_classifier_main(argv: Sequence[str]) -> int:
    """``minyi train-classifier --input FILE [--input FILE ...] --out MODEL``."""
    return _run("train-classifier", _train, argv)


def _train(argv: list[str]) -> int:
    from minyi.text.classify import Classifier

    parser = _parser(
        "train-classifier", "Train a text classifier on labelled appeals and save it to one file."
    )
    parser.add_argument(
        "--input", action="append", required=True, help="a labelled CSV or XLSX file (repeatable)"
    )
    parser.add_argument("--out", required=True, help="the model file to write (.npz)")
    _add_column_options(parser, label=True)
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="abstain below this probability (default 0.5)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--C", type=float, default=0.5, help="SVM regularisation (default 0.5)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.threshold <= 1.0:
        raise CommandError("--threshold must be between 0 and 1")

    rows = _read_labelled(args.input, args, desc="reading")
    for what, skipped in (("without a label", rows.no_label), ("without text", rows.no_text)):
        if skipped:
            _err(f"minyi train-classifier: {_rows_note(what, skipped)}")
    counts = Counter(rows.labels)
    if not counts:
        raise CommandError("no labelled rows with text in the input")
    single = sorted(label for label, n in counts.items() if n == 1)
    if single:
        details = "; ".join(
            f"{label!r} ({Path(p).name} row {n})"
            for label in single[:10]
            for (p, n) in [rows.where[rows.labels.index(label)]]
        )
        raise CommandError(
            f"label(s) with a single example: {details}; every label needs at least two examples "
            "(fix the label or add examples)"
        )
    if len(counts) < 2:
        raise CommandError(
            f"only one label in the input ({next(iter(counts))!r}); a classifier needs at least two"
        )

    started = time.perf_counter()
    model = Classifier(threshold=args.threshold, random_state=args.seed, C=args.C).fit(rows.docs, rows.labels)
    seconds = time.perf_counter() - started
    try:
        model.save(args.out)
    except OSError as exc:
        raise CommandError(f"{args.out}: cannot write the model ({exc.strerror or exc})") from exc
    summary = {
        "model": str(args.out),
        "documents": len(rows.docs),
        "labels": dict(sorted(counts.items())),
        "features": len(model.idf_),
        "train_seconds": round(seconds, 2),
        "model_bytes": os.path.getsize(args.out),
    }
    _out(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


# --- evaluate-classifier -------------------------------------------------------------------


def evaluate_classifier_main(argv: Sequence[str]) -> int:
    """``minyi evaluate-classifier --model MODEL --input FILE`` prints metrics as JSON."""
    return _run("evaluate-classifier", _evaluate, argv)


def evaluate(model: Any, docs: Sequence[Any], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class figures and the confusion matrix of ``model`` on ``docs``."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    predictions = model.predict_with_confidence(docs)
    best = [p.best or "" for p in predictions]
    names = sorted(set(labels) | {str(c) for c in model.classes_})
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, best, labels=names, zero_division=0
    )
    kept = [i for i, p in enumerate(predictions) if not p.abstained]
    result: dict[str, Any] = {
        "documents": len(labels),
        "accuracy": round(float(accuracy_score(labels, best)), 4),
        "macro_f1": round(
            float(f1_score(labels, best, labels=sorted(set(labels)), average="macro", zero_division=0)), 4
        ),
        "threshold": float(model.threshold),
        "abstention_rate": round(1 - len(kept) / len(labels), 4) if labels else 0.0,
        "answered_accuracy": round(
            float(accuracy_score([labels[i] for i in kept], [best[i] for i in kept])), 4
        )
        if kept
        else None,
        "answered_macro_f1": round(
            float(
                f1_score([labels[i] for i in kept], [best[i] for i in kept], average="macro", zero_division=0)
            ),
            4,
        )
        if kept
        else None,
        "per_class": {
            name: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        },
        "confusion": {
            "labels": names,
            "matrix": confusion_matrix(labels, best, labels=names).tolist(),
            "note": "rows: true label, columns: predicted label (before abstention)",
        },
    }
    return result


def _evaluate(argv: list[str]) -> int:
    from minyi.text.classify import Classifier

    parser = _parser("evaluate-classifier", "Evaluate a saved classifier on a labelled file; prints JSON.")
    parser.add_argument("--model", required=True, help="a model file written by train-classifier")
    parser.add_argument(
        "--input", action="append", required=True, help="a labelled CSV or XLSX file (repeatable)"
    )
    _add_column_options(parser, label=True)
    parser.add_argument("--threshold", type=float, help="override the model's abstention threshold")
    args = parser.parse_args(argv)
    model = Classifier.load(args.model)
    if args.threshold is not None:
        model.threshold = args.threshold
    rows = _read_labelled(args.input, args, desc="evaluating")
    for what, skipped in (("without a label", rows.no_label), ("without text", rows.no_text)):
        if skipped:
            _err(f"minyi evaluate-classifier: {_rows_note(what, skipped)}")
    if not rows.docs:
        raise CommandError("no labelled rows with text in the input")
    _out(json.dumps(evaluate(model, rows.docs, rows.labels), ensure_ascii=False, indent=2))
    return 0


# --- classify -------------------------------------------------------------------------------


def classify_main(argv: Sequence[str]) -> int:
    """``minyi classify --model MODEL --input FILE --out FILE`` adds category, confidence and abstained."""
    return _run("classify", _classify, argv)


def _batches(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """Writes the output table to a temporary file that replaces ``path`` only on success."""

    def __init__(self, path: str, header: list[str]) -> None:
        self.path = path
        self.kind = output_path_kind(path)
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=".tmp-", suffix=target.suffix or ".csv", dir=target.parent)
        except OSError as exc:
            raise CommandError(f"{path}: cannot write the output ({exc.strerror or exc})") from exc
        if self.kind == "xlsx":
            os.close(fd)
            import openpyxl

            self.workbook = openpyxl.Workbook(write_only=True)
            self.sheet = self.workbook.create_sheet("classified")
            self.sheet.append(header)
        else:
            self.handle = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(header)

    def row(self, values: list[Any]) -> None:
        if self.kind == "xlsx":
            self.sheet.append([_xlsx_safe(v) for v in values])
        else:
            self.writer.writerow(["true" if v is True else "false" if v is False else v for v in values])

    def commit(self) -> None:
        if self.kind == "xlsx":
            self.workbook.save(self.tmp)
        else:
            self.handle.close()
        publish(self.tmp, self.path)

    def abort(self) -> None:
        if self.kind != "xlsx":
            with contextlib.suppress(OSError):
                self.handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


def _xlsx_safe(value: Any) -> Any:
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(("=", "+", "-", "@")) and len(value) > 1:
            value = "'" + value  # no formula injection from citizens' text
    return value


def _classify(argv: list[str]) -> int:
    from minyi.text.classify import Classifier
    from minyi.text.progress import progress

    parser = _parser(
        "classify", "Classify the rows of a file; writes a copy with category, confidence, abstained."
    )
    parser.add_argument("--model", required=True, help="a model file written by train-classifier")
    parser.add_argument("--input", required=True, help="a CSV or XLSX file")
    parser.add_argument("--out", required=True, help="the output file (.csv or .xlsx)")
    _add_column_options(parser, label=False)
    parser.add_argument("--threshold", type=float, help="override the model's abstention threshold")
    args = parser.parse_args(argv)
    if Path(args.out).resolve() == Path(args.input).resolve():
        raise CommandError("--out must differ from --input")
    model = Classifier.load(args.model)
    if args.threshold is not None:
        model.threshold = args.threshold
    with read_table(args.input, encoding=args.encoding, sheet=args.sheet) as table:
        columns = detect_columns(
            table.header, path=args.input, text_cols=_split_cols(args.text_cols), tokens_col=args.tokens_col
        )
        header = list(table.header)
        slots = []
        for name in OUTPUT_COLUMNS:  # an existing column of the same name is overwritten
            if name in header:
                slots.append(header.index(name))
            else:
                header.append(name)
                slots.append(len(header) - 1)
        writer = _Writer(args.out, header)
        counts: Counter[str] = Counter()
        try:
            for batch in _batches(progress(table.rows, desc="classifying", quiet=args.quiet), BATCH):
                docs = [_document(values, columns) for _, values in batch]
                for (_, values), prediction in zip(batch, model.predict_with_confidence(docs), strict=True):
                    out = list(values) + [""] * (len(header) - len(values))
                    out[slots[0]] = prediction.label or ""
                    out[slots[1]] = round(prediction.confidence, 4) if prediction.best is not None else ""
                    out[slots[2]] = prediction.abstained
                    writer.row(out)
                    counts[prediction.label or "(abstained)"] += 1
            writer.commit()
        except OSError as exc:
            writer.abort()
            raise CommandError(f"{args.out}: cannot write the output ({exc.strerror or exc})") from exc
        except BaseException:
            writer.abort()
            raise
    _out(
        json.dumps(
            {"output": args.out, "rows": sum(counts.values()), "categories": dict(counts)}, ensure_ascii=False
        )
    )
    return 0
