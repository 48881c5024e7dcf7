"""Imports point one way (ARCHITECTURE.md §2, docs/architecture.md): an app may import only the apps below it.

text ← reports ← core ← accounts ← routing ← cases ← intake ← disclosure ← barometer ← api ← demo
(`reports` is the pure-Python charts/PDF/offline-analysis package: like `text`, it never imports Django.)
(`disclosure` reads through intake's citizen lookup; `demo` plays everything and nothing imports it.)
Tests are exempt: they may set up any app's objects.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "minyi"
ORDER = [
    "text",
    "reports",
    "core",
    "accounts",
    "routing",
    "cases",
    "intake",
    "disclosure",
    "barometer",
    "api",
    "demo",
]
RANK = {name: i for i, name in enumerate(ORDER)}


def imported_apps(source: str) -> set[str]:
    apps = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "minyi" and len(parts) > 1 and parts[1] in RANK:
                apps.add(parts[1])
    return apps


def violations(app: str, source: str) -> set[str]:
    return {other for other in imported_apps(source) if RANK[other] > RANK[app]}


def test_the_checker_sees_an_upward_import():
    assert violations("cases", "from minyi.intake.services import submission_ingest\n") == {"intake"}
    assert violations("text", "import minyi.core.models\n") == {"core"}
    assert violations("api", "from minyi.cases import policies\n") == set()


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in RANK or "tests" in rel.parts or "migrations" in rel.parts:
            continue
        yield rel.parts[0], path


@pytest.mark.parametrize(("app", "path"), list(_modules()), ids=lambda v: str(v))
def test_no_app_imports_an_app_above_it(app, path):
    assert violations(app, path.read_text(encoding="utf-8")) == set(), path


def _imports_django(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "django" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "django":
            return True
    return False


def test_the_django_checker_sees_a_django_import():
    assert _imports_django("from django.conf import settings\n")
    assert _imports_django("def f():\n    import django.db\n")
    assert not _imports_django("import djangoish\nfrom minyi.text import normalize\n")


@pytest.mark.parametrize(
    "path",
    [
        p
        for part in ("text", "reports")
        for p in sorted((ROOT / part).rglob("*.py"))
        if "tests" not in p.parts
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_pure_packages_never_import_django(path):
    assert not _imports_django(path.read_text(encoding="utf-8")), path
