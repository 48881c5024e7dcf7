"""Background work. With a broker (CELERY_BROKER_URL) tasks go to Celery workers; without one they run
inline once the surrounding transaction commits, which is the embedded default."""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def _call(path: str, kwargs: dict[str, Any]) -> Any:
    module, func = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), func)(**kwargs)


@shared_task(name="minyi.run", acks_late=True)
def run(path: str, kwargs: dict[str, Any]) -> Any:
    return _call(path, kwargs)


def _in_thread(path: str, kwargs: dict[str, Any]) -> None:
    from django.db import connections

    try:
        _call(path, kwargs)
    except Exception:
        logger.exception("background task %s failed", path)
    finally:
        connections.close_all()


def enqueue(path: str, *, background: bool = False, **kwargs: Any) -> None:
    """Run the function at dotted `path` with JSON-serialisable `kwargs`, after commit.

    Without a broker the function runs inline, or, for long jobs (`background=True`: an import started from the
    staff page), in a thread of this process, so that the request returns at once (MINYI_BACKGROUND_THREADS;
    tests run them inline too). Inline and thread failures are logged, never raised into the request.
    """

    def go() -> None:
        if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            run.delay(path, kwargs)
            return
        if background and getattr(settings, "MINYI_BACKGROUND_THREADS", False):
            threading.Thread(
                target=_in_thread, args=(path, kwargs), name=f"minyi:{path}", daemon=True
            ).start()
            return
        try:
            _call(path, kwargs)
        except Exception:
            logger.exception("inline task %s failed", path)

    transaction.on_commit(go, robust=True)
