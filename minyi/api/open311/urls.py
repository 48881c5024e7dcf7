"""/open311/v2/ (config/urls.py): GeoReport v2, every method in .xml and .json; the same under test/, where
POST requests checks everything and stores nothing (the discovery document lists it as the test endpoint).

A leading extra slash is tolerated ("…/v2//services.xml"), because clients join the discovery URL, which ends
in a slash, with "/services.xml".
"""

from __future__ import annotations

from django.urls import re_path

from minyi.api.open311 import views

_FMT = r"\.(?P<fmt>[^/.]+)$"


def _patterns(prefix: str, name: str, test: bool) -> list:
    kw = {"test": test}
    start = rf"^[/]?{prefix}/[/]?" if prefix else r"^[/]?"  # "[/]": not "^/", which Django warns of
    return [
        re_path(rf"{start}$", views.root, kw, name=f"{name}root"),
        re_path(rf"{start}discovery{_FMT}", views.discovery, kw, name=f"{name}discovery"),
        re_path(rf"{start}services{_FMT}", views.services, kw, name=f"{name}services"),
        re_path(
            rf"{start}services/(?P<service_code>[^/]+?){_FMT}",
            views.service_definition,
            kw,
            name=f"{name}service",
        ),
        re_path(rf"{start}requests{_FMT}", views.requests, kw, name=f"{name}requests"),
        re_path(
            rf"{start}requests/(?P<service_request_id>[^/]+?){_FMT}",
            views.request_detail,
            kw,
            name=f"{name}request",
        ),
        re_path(rf"{start}tokens/(?P<token>[^/]+?){_FMT}", views.token, kw, name=f"{name}token"),
    ]


urlpatterns: list = [
    re_path(r"^[/]?test$", views.root, {"test": True}),
    *_patterns("test", "open311-test-", True),
    *_patterns("", "open311-", False),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="open311-not-found"),
]
