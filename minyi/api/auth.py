"""Who is calling: bearer tokens for staff integrations, rate limits for anonymous callers.

The API never reads the session cookie, so no request can ride on a logged-in browser, and CSRF tokens
are not needed (django-ninja marks its views csrf_exempt; only cookie-based auth would check CSRF, and
we use none).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from minyi.accounts.models import ApiToken
from minyi.api.errors import LockedOut, Unauthorized
from minyi.cases import policies
from minyi.cases.policies import Actor
from minyi.core.exceptions import Forbidden, RateLimited
from minyi.core.ratelimit import check_request_rate, parse_rate

MAX_TOKEN_CHARS = 200


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`, a token from POST /api/v1/auth/token (only its hash is stored)."""

    def authenticate(self, request: HttpRequest, token: str):
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        return ApiToken.lookup(token)


class ScopeRateLimit(BaseThrottle):
    """minyi.core.ratelimit as a django-ninja throttle, so it runs before the body is even read."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def allow_request(self, request: HttpRequest) -> bool:
        try:
            check_request_rate(request, self.scope)
        except RateLimited:
            return False
        return True

    def wait(self) -> float | None:
        """Seconds until the current fixed window ends (the limiter counts in fixed windows)."""
        _limit, window = parse_rate(settings.MINYI_RATE_LIMITS[self.scope])
        return window - (time.time() % window)


def staff_actor(request: HttpRequest) -> Actor:
    """The staff actor behind the bearer token; 403 when the account holds no role."""
    actor = policies.actor_for_user(request.auth)
    if not actor.is_staff_actor:
        raise Forbidden(_("该账号没有工作人员岗位，不能使用工作人员接口。"))
    return actor


def exchange_password(request: HttpRequest, *, username: str, password: str) -> tuple[ApiToken, str]:
    """Check the credentials through Django's authenticate, so django-axes counts failures and locks out."""
    user = authenticate(request=request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        # Answer in our own shape: AxesMiddleware would replace the response with an HTML page.
        request.axes_locked_out = False
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        raise LockedOut(
            _("登录失败次数过多，账号已暂时锁定，请 %(n)s 分钟后再试。") % {"n": minutes},
            fields={"retry_after_seconds": int(settings.AXES_COOLOFF_TIME.total_seconds())},
        )
    if user is None:
        raise Unauthorized(_("用户名或密码不正确。"))
    if not policies.is_staff(user):
        raise Forbidden(_("该账号没有工作人员岗位，不能申请接口令牌。"))
    return ApiToken.issue(user)
