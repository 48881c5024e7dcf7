"""Template context for the staff navigation: whether to show the barometer link."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def barometer_nav(request: HttpRequest) -> dict[str, Any]:
    def can_view() -> bool:
        from minyi.barometer import policies

        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and policies.can_view_barometer(user))

    return {"can_view_barometer": SimpleLazyObject(can_view)}
