"""Only minyi/cases/services.py changes a case's status (ARCHITECTURE.md §1, STYLE.md §3.6).

An AST check over every module under minyi/ (migrations and tests excluded). It reports:

- an assignment whose target is an attribute named ``status`` (``x.status = ...``, ``x.status += ...``,
  ``x.status: str = ...``, also inside tuples: ``a, x.status = ...``);
- ``setattr(x, "status", ...)``;
- ``.update(status=...)``, ``.update_or_create(status=...)`` / ``defaults={"status": ...}``,
  ``.bulk_update(..., ["status"])``, and ``Case(status=...)`` / ``Case.objects.create(status=...)``;
- raw SQL that updates ``cases_case`` ... ``status``.

A line that sets the status of something that is not a case may carry the pragma ``# not-a-case-status``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "minyi"
ALLOWED = {Path("minyi/cases/services.py")}
PRAGMA = "not-a-case-status"
FIELD = "status"
_RAW_SQL = re.compile(r"update\s+[\"'`]?cases_case[\"'`]?\s+set\b[^;]*\bstatus\b", re.IGNORECASE | re.DOTALL)
_CREATORS = {"create", "get_or_create", "update_or_create", "bulk_create"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _chain_names(node: ast.AST) -> set[str]:
    """Names and attributes along a call chain: Case.objects.filter(...).update -> {Case, objects, filter, update}."""
    names: set[str] = set()
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            names.add(node.id)
            return names
        else:
            return names


def _targets(node: ast.AST):
    if isinstance(node, (ast.Tuple, ast.List)):
        for element in node.elts:
            yield from _targets(element)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)
    else:
        yield node


def _dict_has_status(node: ast.AST) -> bool:
    return isinstance(node, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value == FIELD for k in node.keys if k is not None
    )


def _mentions_status(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and n.value == FIELD for n in ast.walk(node))


def find_violations(source: str, path: str = "<string>") -> list[Violation]:
    """Every place in `source` that sets a case status outside the service."""
    tree = ast.parse(source, filename=path)
    lines = source.splitlines()
    found: list[Violation] = []

    def report(node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        end = getattr(node, "end_lineno", line) or line
        if any(PRAGMA in lines[i - 1] for i in range(line, end + 1) if 0 < i <= len(lines)):
            return
        found.append(Violation(path, line, what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in _targets(target)]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.comprehension)):
            targets = list(_targets(node.target))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets = list(_targets(node.optional_vars))
        else:
            targets = []
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == FIELD:
                report(target, f"assigns .{FIELD}")

        if isinstance(node, ast.Call):
            func = node.func
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and name.value == FIELD:
                    report(node, 'setattr(..., "status", ...)')
            attr = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if attr == "update" and FIELD in keywords:
                report(node, ".update(status=...)")
            if attr in _CREATORS:
                defaults = keywords.get("defaults") or keywords.get("create_defaults")
                if attr == "update_or_create" and (
                    FIELD in keywords or (defaults and _dict_has_status(defaults))
                ):
                    report(node, ".update_or_create(status=...)")
                elif FIELD in keywords and "Case" in _chain_names(func):
                    report(node, f"Case.{attr}(status=...)")
            if attr == "Case" and FIELD in keywords:
                report(node, "Case(status=...)")
            if attr == "bulk_update" and any(
                _mentions_status(a) for a in [*node.args[1:], *keywords.values()]
            ):
                report(node, ".bulk_update(..., ['status'])")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _RAW_SQL.search(node.value):
            report(node, "raw SQL updates cases_case.status")
    return sorted(found, key=lambda v: v.line)


def checked_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT)
        parts = set(relative.parts)
        if "migrations" in parts or "tests" in parts or path.name.startswith("test_"):
            continue
        if path.name == "conftest.py" or relative in ALLOWED:
            continue
        files.append(path)
    return files


def test_no_status_assignment_outside_the_case_service():
    violations = []
    for path in checked_files():
        relative = str(path.relative_to(ROOT))
        violations += find_violations(path.read_text(encoding="utf-8"), relative)
    assert not violations, "case status set outside minyi/cases/services.py:\n" + "\n".join(
        map(str, violations)
    )


def test_the_walk_covers_the_package():
    names = {str(p.relative_to(ROOT)) for p in checked_files()}
    assert "minyi/cases/models.py" in names and "minyi/intake/services.py" in names
    assert "minyi/cases/services.py" not in names
    assert not any("/migrations/" in n or "/tests/" in n for n in names)


def test_the_checker_finds_the_real_assignment_in_the_service():
    """Run on the one allowed file, the checker must find what the service does: it proves the check bites."""
    source = (ROOT / "minyi/cases/services.py").read_text(encoding="utf-8")
    assert any(v.what == "assigns .status" for v in find_violations(source))


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("case.status = 'closed'\n", "assigns .status"),
        ("self.case.status = CaseStatus.CLOSED\n", "assigns .status"),
        ("case.status += 'x'\n", "assigns .status"),
        ("case.status: str = 'closed'\n", "assigns .status"),
        ("a, case.status = 1, 'closed'\n", "assigns .status"),
        ("for case.status in ['closed']:\n    pass\n", "assigns .status"),
        ("setattr(case, 'status', 'closed')\n", 'setattr(..., "status", ...)'),
        ("Case.objects.filter(pk=1).update(status='closed')\n", ".update(status=...)"),
        ("qs.update(status=S.CLOSED, due_at=None)\n", ".update(status=...)"),
        ("Case.objects.update_or_create(pk=1, defaults={'status': 'closed'})\n", ".update_or_create(status=...)"),
        ("Case.objects.update_or_create(pk=1, status='closed')\n", ".update_or_create(status=...)"),
        ("Case.objects.create(title='x', status='closed')\n", "Case.create(status=...)"),
        ("Case(title='x', status='closed').save()\n", "Case(status=...)"),
        ("models.Case(status='closed')\n", "Case(status=...)"),
        ("Case.objects.bulk_update(cases, ['status', 'due_at'])\n", ".bulk_update(..., ['status'])"),
        ("Case.objects.bulk_update(cases, fields=('status',))\n", ".bulk_update(..., ['status'])"),
        ("cursor.execute('UPDATE cases_case SET status = %s WHERE id = %s', [s, i])\n", "raw SQL updates cases_case.status"),
        ('sql = """update "cases_case"\n   set due_at = null, status = \'closed\'"""\n', "raw SQL updates cases_case.status"),
    ],
)  # fmt: skip
def test_the_checker_detects_each_kind_of_violation(source, what):
    violations = find_violations(source)
    assert [v.what for v in violations] == [what]
    assert violations[0].line >= 1


@pytest.mark.parametrize(
    "source",
    [
        "status = case.status\n",
        "if case.status == 'closed':\n    pass\n",
        "Case.objects.filter(status='closed').update(due_at=None)\n",
        "Reply.objects.filter(pk=1).update(state='sent')\n",
        "job.status = 'done'  # not-a-case-status: import jobs have their own status\n",
        "Case.objects.filter(status__in=OPEN).count()\n",
        "services.case_transition(case_id=1, action='close', actor=a)\n",
        "getattr(case, 'status')\n",
        "ImportJob.objects.create(status='queued')\n",
    ],
)
def test_the_checker_allows_reads_and_other_fields(source):
    assert find_violations(source) == []
