"""Helpers shared by the text-engine benchmarks: data loading, one-core pinning, timing, edits."""

from __future__ import annotations

import csv
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def pin_one_core() -> None:
    """Run on one core with single-threaded BLAS/OpenMP (call before importing numpy)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def need_data() -> Path:
    if not (DATA / "appeals_labeled.csv").exists():
        sys.exit(f"needs the shared data set at {DATA}")
    return DATA


def read_csv(name: str) -> list[dict[str, str]]:
    with open(need_data() / name, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def labelled() -> tuple[list[str], list[str]]:
    """appeals_labeled.csv as (title + newline + detail, label)."""
    rows = read_csv("appeals_labeled.csv")
    return [f"{r['title']}\n{r['detail']}".strip() for r in rows], [r["label"] for r in rows]


def tokens_labelled() -> tuple[list[str], list[str]]:
    """appeals_tokens_labeled.csv as (space-separated tokens, label)."""
    rows = read_csv("appeals_tokens_labeled.csv")
    return [r["tokens"] for r in rows], [r["label"] for r in rows]


def unlabelled() -> list[str]:
    rows = read_csv("appeals_unlabeled.csv")
    return [f"{r['留言主题']}\n{r['留言详情']}".strip() for r in rows]


def all_messages() -> list[str]:
    """Every distinct raw message of the shared files (several files repeat messages)."""
    seen: set[str] = set()
    out = []
    texts = unlabelled()
    for name in ("hot_messages.csv", "appeals_with_replies.csv"):
        texts += [f"{r['留言主题']}\n{r['留言详情']}".strip() for r in read_csv(name)]
    texts += labelled()[0]
    for t in texts:
        key = re.sub(r"\s+", "", t)
        if key and key not in seen:
            seen.add(key)
            out.append(t)
    return out


def timed(fn: Callable[[], object], *, repeat: int = 3) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs of ``fn`` and its last result."""
    times = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def median_seconds(fn: Callable[[str], object], texts: list[str], runs: int) -> float:
    """Median wall time of `runs` passes calling `fn` on every text, one at a time."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")
GREETINGS = ("您好！", "尊敬的领导：你好！", "领导好，", "市长您好：", "各位领导：")
CLOSINGS = ("谢谢！", "望尽快处理，谢谢。", "盼复！", "急！！", "")


def cjk_chars(texts: list[str], limit: int = 200_000) -> list[str]:
    return [c for t in texts for c in t if "\u4e00" <= c <= "\u9fff"][:limit]


def add_greeting(text: str, rng: random.Random) -> str:
    return rng.choice(GREETINGS) + text + rng.choice(CLOSINGS)


def reorder_sentences(text: str, rng: random.Random) -> str:
    sentences = [s for s in SENTENCE_END.split(text) if s]
    if len(sentences) > 2:
        i = rng.randrange(len(sentences) - 1)
        sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
    if len(sentences) > 4:
        j = rng.randrange(len(sentences) - 1)
        sentences[j], sentences[j + 1] = sentences[j + 1], sentences[j]
    return "".join(sentences)


def swap_punctuation(text: str, rng: random.Random) -> str:
    table = (
        {"，": ",", "。": ".", "！": "!", "？": "?", "：": ":"}
        if rng.random() < 0.5
        else {"，": "。", "。": "！"}
    )
    return "".join(table.get(c, c) for c in text)


def change_chars(text: str, rng: random.Random, pool: list[str], share: float = 0.1) -> str:
    chars = list(text)
    positions = [i for i, c in enumerate(chars) if not c.isspace()]
    for i in rng.sample(positions, int(len(positions) * share)):
        chars[i] = rng.choice(pool)
    return "".join(chars)


def repost(text: str, rng: random.Random, pool: list[str]) -> str:
    """Every edit at once: greeting and closing, two sentence swaps, punctuation, 10% of characters."""
    return change_chars(swap_punctuation(reorder_sentences(add_greeting(text, rng), rng), rng), rng, pool)


def sentences_of(texts: list[str]) -> list[str]:
    return [s for t in texts for s in SENTENCE_END.split(t) if len(s.strip()) >= 6]


def synthesize(count: int, sentences: list[str], rng: random.Random, pool: list[str]) -> list[str]:
    """Distinct appeal-like texts: 3-8 sentences drawn from real messages, 5% of characters changed."""
    out = []
    for _ in range(count):
        text = "".join(rng.choice(sentences) for _ in range(rng.randint(3, 8)))
        out.append(change_chars(text, rng, pool, share=0.05))
    return out
