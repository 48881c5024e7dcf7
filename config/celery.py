"""The Celery app. With no CELERY_BROKER_URL, minyi.core.tasks runs tasks inline instead."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("minyi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
