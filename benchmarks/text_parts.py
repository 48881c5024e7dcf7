"""Benchmark of minyi.text.normalize and minyi.text.segment on real messages.

Runs over column 留言详情 of ../shared/data/appeals_unlabeled.csv and prints, for each
part, the median over several runs of messages/s and chars/s on one core, with the ratio
to a baseline run in the same process:

- normalize against plain ``unicodedata.normalize("NFKC", text)``;
- segment (on normalised text) against a bare ``rjieba.Jieba().cut`` without the domain
  dictionary or minyi's wrapper;
- the chain normalize → segment → find_pii → mask_pii, for the pipeline budget
  (target for the whole pipeline with classify and dedupe: 1,500 appeals/s).

Usage: .venv/bin/python benchmarks/text_parts.py [--runs 5]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import median_seconds

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "appeals_unlabeled.csv"


def load_messages() -> list[str]:
    if not DATA.exists():
        sys.exit(
            f"benchmarks/text_parts.py needs the shared data set: {DATA} is missing (absent in a plain clone)."
        )
    with DATA.open(encoding="utf-8", newline="") as handle:
        return [row["留言详情"] for row in csv.DictReader(handle)]


def report(name: str, seconds: float, texts: list[str], baseline: float | None = None) -> None:
    chars = sum(map(len, texts))
    line = f"  {name:<34} {len(texts) / seconds:>10,.0f} messages/s {chars / seconds:>13,.0f} chars/s"
    if baseline is not None:
        line += f"   {seconds / baseline:>5.1f}x baseline time"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import rjieba

    from minyi.text.normalize import normalize
    from minyi.text.pii import find_pii, mask_pii
    from minyi.text.segment import default_segmenter, segment

    messages = load_messages()
    start = time.perf_counter()
    normalize("聯繫")  # loads OpenCC and probes its character table
    default_segmenter().cut("热线")  # builds rjieba with the domain dictionary
    warm = time.perf_counter() - start
    normalised = [normalize(m) for m in messages]
    bare = rjieba.Jieba()

    chars = sum(map(len, messages))
    print(
        f"{len(messages)} messages, {chars:,} chars (median {statistics.median(map(len, messages)):.0f} chars)"
    )
    print(f"first use (OpenCC probe + segmenter build): {warm:.2f} s")
    print(f"median of {args.runs} runs, one core:")
    nfkc = median_seconds(lambda t: unicodedata.normalize("NFKC", t), messages, args.runs)
    report("baseline NFKC", nfkc, messages)
    report("normalize", median_seconds(normalize, messages, args.runs), messages, nfkc)
    cut = median_seconds(bare.cut, normalised, args.runs)
    report("baseline bare rjieba cut", cut, normalised)
    report("segment (normalised text)", median_seconds(segment, normalised, args.runs), normalised, cut)

    def chain(text: str) -> None:
        clean = normalize(text)
        segment(clean)
        mask_pii(text, spans=find_pii(text))

    report("normalize+segment+find+mask", median_seconds(chain, messages, args.runs), messages, nfkc)


if __name__ == "__main__":
    main()
