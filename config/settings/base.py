"""The one settings module. Every deployment difference comes from the environment (config/env.py)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, env

DEBUG = env("DJANGO_DEBUG")
SECRET_KEY = env("DJANGO_SECRET_KEY") or ("dev-insecure-key-change-me" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
ALLOWED_HOSTS = env("DJANGO_ALLOWED_HOSTS") or (
    ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "minyi.core",
    "minyi.accounts",
    "minyi.routing",
    "minyi.cases",
    "minyi.intake",
    "minyi.disclosure",
    "minyi.barometer",
    "minyi.api",
    "minyi.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "minyi.core.middleware.SecurityHeadersMiddleware",
    "minyi.core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "minyi.core.context_processors.site",
                "minyi.barometer.context_processors.barometer_nav",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env("DB_CONN_MAX_AGE")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so concurrent writers queue instead of
    # failing with "database is locked" halfway through; WAL lets readers proceed meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:workbench"
LOGOUT_REDIRECT_URL = "disclosure:portal"

# Lockout after repeated failures (django-axes): per username + IP.
AXES_FAILURE_LIMIT = env("MINYI_LOGIN_FAILURE_LIMIT")
AXES_COOLOFF_TIME = timedelta(minutes=env("MINYI_LOGIN_COOLOFF_MINUTES"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
    ("vendor/pico", BASE_DIR / "node_modules" / "@picocss" / "pico" / "css"),
    ("vendor/noto-sans-sc", BASE_DIR / "node_modules" / "@fontsource" / "noto-sans-sc"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env("MEDIA_ROOT")
MEDIA_URL = "/media/"

# Uploads: attachments are limited further by the intake form.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

if env("REDIS_URL"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "minyi"}}

# Background work: with no broker, tasks run inline (after the transaction commits).
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE

vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env("DJANGO_SECURE_SSL"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000

# Content security policy, sent by minyi.core.middleware.SecurityHeadersMiddleware.
MINYI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

MINYI_SITE_NAME = env("MINYI_SITE_NAME")
MINYI_TRACKING_PREFIX = env("MINYI_TRACKING_PREFIX")
MINYI_RATE_LIMITS = {
    "submit": env("MINYI_RATE_LIMIT_SUBMIT"),
    "track": env("MINYI_RATE_LIMIT_TRACK"),
    "auth": env("MINYI_RATE_LIMIT_AUTH"),
    "support": env("MINYI_RATE_LIMIT_SUPPORT"),
    "feedback": env("MINYI_RATE_LIMIT_FEEDBACK"),
    "open311": env("MINYI_RATE_LIMIT_OPEN311"),
}
MINYI_RATE_LIMIT_ENABLED = env("MINYI_RATE_LIMIT_ENABLED")
MINYI_MAX_CONTENT_CHARS = env("MINYI_MAX_CONTENT_CHARS")
MINYI_MAX_TITLE_CHARS = 200
MINYI_ATTACHMENT_MAX_BYTES = env("MINYI_ATTACHMENT_MAX_MB") * 1024 * 1024
MINYI_ATTACHMENT_MAX_COUNT = env("MINYI_ATTACHMENT_MAX_COUNT")
MINYI_ATTACHMENT_TYPES = {
    # extension -> (content type, magic-bytes prefixes); the content is checked, not just the name
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    ".pdf": ("application/pdf", (b"%PDF-",)),
}
MINYI_API_TOKEN_LIFETIME = timedelta(hours=env("MINYI_API_TOKEN_HOURS"))
MINYI_IDEMPOTENCY_TTL = timedelta(hours=24)
MINYI_EVALUATION_WINDOW = timedelta(days=env("MINYI_EVALUATION_WINDOW_DAYS"))
MINYI_DEMO_PASSWORD = env("MINYI_DEMO_PASSWORD")
# Triage: the similarity from which an earlier case counts as a possible duplicate (MinHash estimate, 0..1).
MINYI_DUPLICATE_THRESHOLD = env("MINYI_DUPLICATE_THRESHOLD")
# The staff import page: the largest file it takes.
MINYI_IMPORT_UPLOAD_MAX_BYTES = env("MINYI_IMPORT_UPLOAD_MAX_MB") * 1024 * 1024
# Without a broker, long jobs (an import started from the staff page) run in a thread of the web process.
MINYI_BACKGROUND_THREADS = env("MINYI_BACKGROUND_THREADS")
# Public accountability (issue 5): links, publication defaults, the SMS sender, the scoreboard, Open311.
MINYI_SITE_URL = env("MINYI_SITE_URL").rstrip("/")
MINYI_PUBLISH_KINDS = frozenset(env("MINYI_PUBLISH_KINDS"))
MINYI_SMS_BACKEND = env("MINYI_SMS_BACKEND")
MINYI_RESPONSE_HOURS = env("MINYI_RESPONSE_HOURS")
MINYI_OPEN311_JURISDICTION = env("MINYI_OPEN311_JURISDICTION")
MINYI_OPEN311_TEST_URL = env("MINYI_OPEN311_TEST_URL")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_pii": {"()": "minyi.core.logging.RedactPersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_pii"]},
    },
    "root": {"handlers": ["console"], "level": env("MINYI_LOG_LEVEL")},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# In development and tests, whitenoise serves straight from the finders (node_modules included).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
