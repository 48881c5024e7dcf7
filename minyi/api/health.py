"""GET /healthz: 200 while the database answers a trivial query, 503 (in the API's error shape) when not."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from minyi.api.errors import json_error

logger = logging.getLogger("minyi.api")


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError as exc:
        logger.warning("health check: database error %s", type(exc).__name__)
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    if not database_answers():
        return json_error(503, "database_unavailable", _("数据库无响应。"), Retry_After="5")
    return JsonResponse({"status": "ok", "database": "ok"})
