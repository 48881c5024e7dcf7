"""Placeholder: filled in by the helper that owns this module (see /work/notes/barometer_spec.md)."""

from __future__ import annotations

urlpatterns: list = []
