"""/api/v1/barometer/… (barometer: early warnings (staff)). Placeholder: the owner of this module fills it in."""

from __future__ import annotations

from ninja import Router

from minyi.api.auth import TokenAuth

router = Router(tags=["barometer: early warnings (staff)"], auth=TokenAuth())
