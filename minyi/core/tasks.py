"""Background work. With a broker (CELERY_BROKER_URL) tasks go to Celery workers; without one they run
inline once the surrounding transaction commits, which is the embedded default."""

from __future__ import annotations

import importlib
import logging
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


def enqueue(path: str, **kwargs: Any) -> None:
    """Run the function at dotted `path` with JSON-serialisable `kwargs`, after commit.

    Inline (no broker) failures are logged, never raised into the request that caused them.
    """

    def go() -> None:
        if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            run.delay(path, kwargs)
            return
        try:
            _call(path, kwargs)
        except Exception:
            logger.exception("inline task %s failed", path)

    transaction.on_commit(go, robust=True)
