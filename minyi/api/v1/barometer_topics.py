"""/api/v1/barometer/… (barometer: hot topics (staff)). Placeholder: the owner of this module fills it in."""

from __future__ import annotations

from ninja import Router

from minyi.api.auth import TokenAuth

router = Router(tags=["barometer: hot topics (staff)"], auth=TokenAuth())
