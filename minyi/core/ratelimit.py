"""A fixed-window rate limiter over Django's cache (Redis in production, local memory by default).

Used on every anonymous endpoint: submission, tracking, token exchange, evaluation.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext as _

from minyi.core.exceptions import RateLimited

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'10/m' -> (10, 60). Raises ValueError on a malformed rate."""
    count, _sep, unit = rate.partition("/")
    return int(count), _UNITS[unit.strip()[:1] or "m"]


def client_ip(request: HttpRequest) -> str:
    # Behind nginx, REMOTE_ADDR is set from X-Real-IP by the proxy config in docs/deployment.md.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def check_rate(*, scope: str, key: str, rate: str | None = None) -> None:
    """Count one hit for (scope, key); raise RateLimited once the window's allowance is spent."""
    if not settings.MINYI_RATE_LIMIT_ENABLED:
        return
    limit, window = parse_rate(rate or settings.MINYI_RATE_LIMITS[scope])
    bucket = int(time.time() // window)
    cache_key = f"rl:{scope}:{key}:{bucket}"
    if cache.add(cache_key, 1, timeout=window + 1):
        hits = 1
    else:
        try:
            hits = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window + 1)
            hits = 1
    if hits > limit:
        raise RateLimited(_("请求过于频繁，请稍后再试。"))


def check_request_rate(request: HttpRequest, scope: str) -> None:
    check_rate(scope=scope, key=client_ip(request))
