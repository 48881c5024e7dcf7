"""The cases app's tests test the cases app: what later layers do when a case changes (disclosure's publication
copy and feedback invitation, connected to `case_changed`) is muted here and tested in those layers."""

from __future__ import annotations

import pytest

from minyi.cases.signals import case_changed


@pytest.fixture(autouse=True)
def _later_layers_muted():
    saved = list(case_changed.receivers)
    case_changed.receivers.clear()
    case_changed.sender_receivers_cache.clear()
    try:
        yield
    finally:
        case_changed.receivers[:] = saved
        case_changed.sender_receivers_cache.clear()
