"""The Celery app. With no CELERY_BROKER_URL, minyi.core.tasks runs tasks inline instead."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("minyi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs (run `celery -A config beat` beside the workers; docs/deployment.md). Each calls an idempotent
# service through the generic `minyi.run` task, the same functions the cron-style commands call.
app.conf.beat_schedule = {
    "cases-mark-overdue": {
        "task": "minyi.run",
        "schedule": 15 * 60,
        "args": ("minyi.cases.services.cases_mark_overdue", {}),
    },
    "cases-close-unrated": {
        "task": "minyi.run",
        "schedule": 60 * 60,
        "args": ("minyi.cases.services.cases_close_unrated", {}),
    },
    "intake-triage-pending": {
        "task": "minyi.run",
        "schedule": 5 * 60,
        "args": ("minyi.intake.triage.triage_pending", {}),
    },
    "intake-resume-imports": {
        "task": "minyi.run",
        "schedule": 5 * 60,
        "args": ("minyi.intake.importer.imports_resume", {}),
    },
    "intake-build-deferred-buckets": {
        "task": "minyi.run",
        "schedule": 5 * 60,
        "args": ("minyi.intake.dedupe_storage.build_deferred_buckets", {}),
    },
    "intake-routing-history": {
        "task": "minyi.run",
        "schedule": 24 * 60 * 60,
        "args": ("minyi.intake.triage.routing_history_refresh", {}),
    },
    "disclosure-rollup": {
        "task": "minyi.run",
        "schedule": 10 * 60,
        "args": ("minyi.disclosure.scoreboard.rollup_refresh", {}),
    },
    "disclosure-publish-pending": {
        "task": "minyi.run",
        "schedule": 60 * 60,
        "args": ("minyi.disclosure.publication.refresh_pending", {}),
    },
    "intake-purge-idempotency": {
        "task": "minyi.run",
        "schedule": 60 * 60,
        "args": ("minyi.intake.idempotency.purge_expired", {}),
    },
    "barometer-rollup": {
        "task": "minyi.run",
        "schedule": 10 * 60,
        "args": ("minyi.barometer.rollups.rollup_refresh", {}),
    },
    "barometer-topics-alerts": {
        "task": "minyi.run",
        "schedule": crontab(minute=5),
        "args": ("minyi.barometer.jobs.topics_then_alerts", {}),
    },
    "barometer-quality-backfill": {
        "task": "minyi.run",
        "schedule": crontab(minute=30, hour=2),
        "args": ("minyi.barometer.quality.backfill", {}),
    },
    "barometer-weekly-report": {
        "task": "minyi.run",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
        "args": ("minyi.barometer.jobs.scheduled_report", {"kind": "weekly"}),
    },
    "barometer-monthly-report": {
        "task": "minyi.run",
        "schedule": crontab(minute=0, hour=7, day_of_month=1),
        "args": ("minyi.barometer.jobs.scheduled_report", {"kind": "monthly"}),
    },
}
