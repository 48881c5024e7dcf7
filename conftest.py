"""Root fixtures shared by every test package."""

from __future__ import annotations

import importlib
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


@pytest.fixture(autouse=True)
def _data_migration_rows(request):
    """The rows that data migrations wrote (the default SLA policies), present in every test that uses the database.

    Tests run in parallel, one database per worker, and a transactional test flushes every table when it ends. In
    one process Django runs those tests last; across workers a later file may follow one on the same worker. So
    when the rows are gone they are loaded again, exactly as the migration loads them."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if transactional or (marker is None and "db" not in request.fixturenames):
        return
    request.getfixturevalue("db")
    from django.apps import apps

    from minyi.routing.models import SlaPolicy

    if not SlaPolicy.objects.exists():
        importlib.import_module("minyi.routing.migrations.0002_default_sla_policies").load(apps, None)
