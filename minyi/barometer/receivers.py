"""What the barometer does when a case changes (minyi.cases.signals.case_changed): score a reply's quality."""

from __future__ import annotations


def connect() -> None:
    """Connect the barometer's case_changed receivers (called from BarometerConfig.ready)."""
