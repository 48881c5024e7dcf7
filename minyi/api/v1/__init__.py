"""/api/v1: the JSON API (django-ninja). OpenAPI at /api/v1/openapi.json, Swagger UI at /api/v1/docs."""

from __future__ import annotations

from ninja import NinjaAPI

from minyi.api import errors
from minyi.api.docs import SelfHostedSwagger
from minyi.api.parser import ReadableJSONRenderer, StrictJSONParser
from minyi.api.v1 import (
    appeals,
    barometer_alerts,
    barometer_dashboard,
    barometer_topics,
    board,
    scoreboard,
    staff,
)

api = NinjaAPI(
    title="minyi API",
    version="1",
    description=(
        "民意 minyi: submit and track public appeals; staff integrations with bearer tokens. "
        'Errors: {"error": {"code", "message", "fields"}}. See docs/api.md.'
    ),
    urls_namespace="api-v1",
    docs=SelfHostedSwagger(),
    docs_url="/docs",
    parser=StrictJSONParser(),
    renderer=ReadableJSONRenderer(),
)
errors.install(api)
api.add_router("", appeals.router)
api.add_router("", staff.auth_router)
api.add_router("", staff.router)
api.add_router("", board.router)
api.add_router("", scoreboard.router)
api.add_router("", barometer_dashboard.router)
api.add_router("", barometer_topics.router)
api.add_router("", barometer_alerts.router)
