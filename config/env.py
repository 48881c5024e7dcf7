"""The whole environment schema. Every variable here is listed in .env.example."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DJANGO_DEBUG=(bool, False),
    DJANGO_SECRET_KEY=(str, ""),
    DJANGO_ALLOWED_HOSTS=(list, []),
    DJANGO_CSRF_TRUSTED_ORIGINS=(list, []),
    DJANGO_SECURE_SSL=(bool, False),
    DATABASE_URL=(str, f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
    DB_CONN_MAX_AGE=(int, 0),
    REDIS_URL=(str, ""),
    CELERY_BROKER_URL=(str, ""),
    EMAIL_URL=(str, "consolemail://"),
    DEFAULT_FROM_EMAIL=(str, "minyi@localhost"),
    MEDIA_ROOT=(str, str(BASE_DIR / "media")),
    STATIC_ROOT=(str, str(BASE_DIR / "staticfiles")),
    MINYI_SITE_NAME=(str, "民意"),
    MINYI_TRACKING_PREFIX=(str, "MY"),
    MINYI_RATE_LIMIT_SUBMIT=(str, "10/m"),
    MINYI_RATE_LIMIT_TRACK=(str, "30/m"),
    MINYI_RATE_LIMIT_AUTH=(str, "10/m"),
    MINYI_RATE_LIMIT_ENABLED=(bool, True),
    MINYI_MAX_CONTENT_CHARS=(int, 20000),
    MINYI_ATTACHMENT_MAX_MB=(int, 10),
    MINYI_ATTACHMENT_MAX_COUNT=(int, 5),
    MINYI_API_TOKEN_HOURS=(int, 12),
    MINYI_EVALUATION_WINDOW_DAYS=(int, 7),
    MINYI_LOGIN_FAILURE_LIMIT=(int, 5),
    MINYI_LOGIN_COOLOFF_MINUTES=(int, 30),
    MINYI_DEMO_PASSWORD=(str, ""),
    MINYI_LOG_LEVEL=(str, "INFO"),
    MINYI_DUPLICATE_THRESHOLD=(float, 0.3),
    MINYI_IMPORT_UPLOAD_MAX_MB=(int, 200),
    MINYI_BACKGROUND_THREADS=(bool, True),
    MINYI_SITE_URL=(str, "http://127.0.0.1:8000"),
    MINYI_PUBLISH_KINDS=(list, ["complaint", "help", "question", "suggestion", "praise"]),
    MINYI_RATE_LIMIT_SUPPORT=(str, "30/h"),
    MINYI_RATE_LIMIT_FEEDBACK=(str, "20/m"),
    MINYI_RATE_LIMIT_OPEN311=(str, "60/m"),
    MINYI_SMS_BACKEND=(str, "minyi.core.senders.ConsoleSMS"),
    MINYI_RESPONSE_HOURS=(int, 24),
    MINYI_OPEN311_JURISDICTION=(str, ""),
    MINYI_OPEN311_TEST_URL=(str, ""),
    # Read by minyi.reports.pdf itself (also offline, by `minyi analyze`), not by the settings.
    MINYI_FONT_DIR=(str, ""),
)

if (BASE_DIR / ".env").exists():
    environ.Env.read_env(str(BASE_DIR / ".env"))
