"""Tests of the text engine (pure Python: no database, no Django).

``PROPERTY`` is the hypothesis setting shared by the property tests of this package. Its
example count keeps the whole package well under a minute; raise it for a deeper run with
``MINYI_TEXT_EXAMPLES=2000 .venv/bin/pytest minyi/text``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROPERTY = settings(
    max_examples=int(os.environ.get("MINYI_TEXT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
