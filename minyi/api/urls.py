"""Top-level URLs of the API app (included first by config/urls.py): /healthz and /api/v1/."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path, re_path

from minyi.api.docs import docs_asset
from minyi.api.errors import api_not_found, json_errors_view
from minyi.api.health import healthz
from minyi.api.v1 import api


def _wrap(patterns: list) -> list:
    """Every ninja view answers errors raised outside its operations in the API's error shape too."""
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = json_errors_view(pattern.callback)
        elif isinstance(pattern, URLResolver):
            _wrap(pattern.url_patterns)
    return patterns


_v1_patterns, _app_name, _namespace = api.urls

urlpatterns: list = [
    path("healthz", healthz, name="healthz"),
    path("healthz/", healthz),
    path("api/v1/docs/assets/<str:name>", docs_asset, name="api-v1-docs-asset"),
    path("api/v1/", include((_wrap(_v1_patterns), _app_name), namespace=_namespace)),
    re_path(r"^api/v1(?:/.*)?$", api_not_found, name="api-v1-not-found"),
]


def bench_ping(request: HttpRequest) -> HttpResponse:
    """The baseline of benchmarks/http_submit.py: the cheapest Django view, no database."""
    return HttpResponse(b"ok", content_type="text/plain")


if os.environ.get("MINYI_BENCH_BASELINE") == "1":
    urlpatterns.append(path("bench/ping", bench_ping, name="bench-ping"))
