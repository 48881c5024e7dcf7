"""What every barometer page shares: the access decorator and the staff page renderer."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from minyi.barometer import policies
from minyi.cases.views import render_staff, staff_required
from minyi.core.exceptions import DomainError


def barometer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff only (others get the login page or 404, as the staff area); a staff member without a barometer scope
    gets 403 with a message. The view finds the scope on ``request.barometer_scope``."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            request.barometer_scope = policies.require_barometer(request.user)
        except DomainError as exc:
            return render(request, "403.html", {"message": exc.message}, status=exc.status_code)
        return view(request, *args, **kwargs)

    return staff_required(wrapper)


def render_barometer(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """A barometer page inside the staff layout, with the barometer's sub-navigation."""
    user = request.user
    context = {
        "barometer_tabs": {
            "reports": policies.can_view_reports(user),
        },
        **context,
    }
    return render_staff(request, template, context, status=status)
