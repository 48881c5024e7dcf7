"""Root fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

# Domain fixtures (org, make_case, case_in): minyi/cases/tests/factories.py
pytest_plugins = ["minyi.cases.tests.factories"]

REPO_ROOT = Path(__file__).resolve().parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SHARED_SEED = REPO_ROOT.parent / "shared" / "seed"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real, labelled citizen messages in ../shared/data; skips when absent (a user's clone)."""
    if not (SHARED_DATA / "appeals_labeled.csv").exists():
        pytest.skip(f"needs the shared data set at {SHARED_DATA} (absent in a plain clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_seed() -> Path:
    if not SHARED_SEED.exists():
        pytest.skip(f"needs the shared seed folder at {SHARED_SEED} (absent in a plain clone)")
    return SHARED_SEED


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache: rate-limit counters and cached counts never leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
