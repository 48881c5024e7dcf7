"""Placeholder: filled in by the helper that owns this module (see /work/notes/barometer_spec.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from minyi.barometer.views_common import barometer_required, render_barometer


@require_GET
@barometer_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render_barometer(request, "barometer/dashboard.html", {})


urlpatterns: list = [path("", dashboard, name="dashboard")]
