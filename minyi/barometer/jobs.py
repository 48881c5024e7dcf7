"""The barometer's scheduled jobs, as Celery beat (config/celery.py) and the systemd timers call them.

Topics run before alerts, so that a topic's surge is judged on this hour's topics.
"""

from __future__ import annotations

from typing import Any


def topics_then_alerts() -> dict[str, Any]:
    """Mine the hot topics, then detect surges and raise or update alerts."""
    from minyi.barometer import hot, warnings

    run = hot.run_topics()
    alerts = warnings.run_detection()
    return {"topics": run.topics, "cases": run.cases, "alerts": alerts}


def scheduled_report(kind: str) -> int:
    """Generate the report of the last complete week or month (idempotent: regenerating replaces it)."""
    from minyi.barometer import reports

    return reports.generate_report(kind).pk
