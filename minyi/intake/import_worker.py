"""The analysis worker of a bulk import (a separate process: `minyi import --workers 1`).

It imports nothing of Django at module level, so that a spawned process can unpickle its functions before
`init` has set Django up; then it analyses batches of rows (minyi.intake.triage.analyse) with its own
database connection, its own classifier and gazetteer, while the importing process writes the previous batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def init() -> None:
    import django

    django.setup()
    _watch_parent()


def _watch_parent() -> None:
    """Exit when the importing process is gone (killed with SIGKILL, it cannot tell the worker to stop)."""
    import os
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="minyi-import-parent-watch", daemon=True).start()


def analyse_numbered(items: list[tuple[int, str, str, datetime]]) -> dict[int, Any]:
    """Triage's text analysis of (row number, title, content, when) items, by row number."""
    from minyi.intake.triage import analyse

    analyses = analyse([(title, content, when) for _n, title, content, when in items])
    return {number: a for (number, *_rest), a in zip(items, analyses, strict=True)}
