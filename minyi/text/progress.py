"""Progress bars for long CLI runs: tqdm on stderr, off when stderr is not a terminal or with ``--quiet``."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["enabled", "progress"]


def enabled(*, quiet: bool = False) -> bool:
    """Whether a progress bar would be shown."""
    if quiet:
        return False
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def progress(
    iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "rows", quiet: bool = False
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when ``enabled``; otherwise return it unchanged."""
    if not enabled(quiet=quiet):
        return iter(iterable)
    from tqdm import tqdm

    bar: Any = tqdm(
        iterable, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False
    )
    return iter(bar)
