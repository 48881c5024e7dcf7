"""The project's own plumbing: configuration schema, Makefile wiring, CI script, deployment files, i18n."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import environ
import polib
import pytest
from django.core.management import call_command, get_commands
from django.test import override_settings
from django.utils import translation

from config.env import env as project_env
from minyi.core.management.commands import i18n_build

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


# ---------------------------------------------------------------- configuration


def test_env_example_lists_every_variable_of_the_schema_and_nothing_else():
    listed = set(ASSIGNMENT.findall((ROOT / ".env.example").read_text(encoding="utf-8")))
    schema = set(project_env.scheme)
    assert schema - listed == set(), "variables of config/env.py missing from .env.example"
    assert listed - schema == set(), "variables in .env.example that config/env.py does not read"


def test_env_example_explains_each_variable_with_a_comment():
    # A variable, or a block of related variables on consecutive lines, sits right under a comment.
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        match = re.match(r"([A-Z][A-Z0-9_]*)=", line)
        if match:
            above = number - 1
            while above >= 0 and re.match(r"[A-Z][A-Z0-9_]*=", lines[above]):
                above -= 1
            assert above >= 0 and lines[above].startswith("#"), (
                f"{match.group(1)} (line {number + 1}) is unexplained"
            )


def test_env_example_copied_to_dot_env_gives_a_working_development_configuration():
    class Isolated(environ.Env):
        ENVIRON: dict[str, str] = {}

    Isolated.read_env(str(ROOT / ".env.example"))
    env = Isolated(**project_env.scheme)
    values = {name: env(name) for name in project_env.scheme}  # every value parses with its declared type
    assert values["DJANGO_DEBUG"] is True
    assert values["DJANGO_SECURE_SSL"] is False
    assert values["DJANGO_ALLOWED_HOSTS"] == []
    assert env.db("DATABASE_URL")["ENGINE"] == "django.db.backends.sqlite3"
    assert values["CELERY_BROKER_URL"] == ""  # tasks inline: the embedded default
    assert values["MINYI_RATE_LIMIT_ENABLED"] is True


def test_readme_configuration_table_has_every_variable():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", readme, re.MULTILINE))
    assert set(project_env.scheme) - rows == set()
    assert rows - set(project_env.scheme) == set()


@pytest.mark.parametrize(
    "document", ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("docs/**/*.md"))]
)
def test_relative_links_in_the_documentation_resolve(document):
    path = ROOT / document
    for target in re.findall(r"\]\(([^)#:]+?)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
        assert (path.parent / target).exists(), f"{document} links to missing {target}"


# ---------------------------------------------------------------- Makefile

_MAKE_VARS = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}  # when pytest itself runs under make
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def _make(*args: str, cwd: Path = ROOT, **env: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env={**{k: v for k, v in os.environ.items() if k not in _MAKE_VARS}, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_make
def test_make_run_installs_compiles_migrates_loads_the_demo_and_serves_on_port():
    plan = _make("-n", "-B", "run", "PORT=8765")  # -B: as on a fresh machine; -n: print, run nothing
    steps = [
        "-m venv .venv",
        "pip --disable-pip-version-check install -q -e .",
        "npm ci",
        "i18n_build --compile-only",
        "migrate --noinput",
        "demo --if-empty",
        "runserver 127.0.0.1:8765",
    ]
    positions = [plan.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions), "make run does its steps out of order"
    assert ".[test]" not in plan, "make run must not install the test extras"
    assert "DJANGO_DEBUG=${DJANGO_DEBUG:-1}" in plan


@needs_make
def test_make_test_runs_lint_migration_check_and_pytest_without_browser_tests():
    plan = _make("-n", "-B", "test")
    for step in (
        "install -q -e '.[test]'",
        "ruff check .",
        "ruff format --check .",
        "manage.py makemigrations --check --dry-run",
        'pytest -m "not e2e"',
    ):
        assert step in plan
    assert plan.index("ruff check .") < plan.index("makemigrations") < plan.index("pytest")
    assert "pytest -m e2e tests/e2e" in _make("-n", "-B", "e2e")


@needs_make
def test_make_reinstalls_only_when_the_dependency_files_change(tmp_path):
    for name in ("Makefile", "pyproject.toml", "package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").mkdir()
    (tmp_path / "node_modules").mkdir()
    stamps = [
        tmp_path / ".venv/.stamp-venv",
        tmp_path / ".venv/.stamp-install",
        tmp_path / ".venv/.stamp-install-test",
        tmp_path / "node_modules/.stamp-npm-ci",
    ]
    old = time.time() - 100
    for name in ("pyproject.toml", "package.json", "package-lock.json"):
        os.utime(tmp_path / name, (old, old))
    for stamp in stamps:
        stamp.touch()

    second_run = _make("-n", "run", cwd=tmp_path)
    assert "pip" not in second_run and "npm ci" not in second_run and "-m venv" not in second_run
    assert "runserver 127.0.0.1:8000" in second_run

    os.utime(tmp_path / "package-lock.json")  # the lock file changed: npm ci again, pip still not
    after_lock = _make("-n", "run", cwd=tmp_path)
    assert "npm ci" in after_lock and "pip" not in after_lock

    os.utime(tmp_path / "pyproject.toml")
    assert "install -q -e ." in _make("-n", "run", cwd=tmp_path)


@needs_make
def test_make_bench_lists_the_benchmark_scripts_with_their_summary(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "normalize_speed.py").write_text('"""Normalise 10k messages: median ms."""\n')
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    for stamp in (".venv/.stamp-venv", ".venv/.stamp-install"):
        (tmp_path / stamp).touch()
    (tmp_path / "pyproject.toml").touch()
    os.utime(tmp_path / "pyproject.toml", (time.time() - 100, time.time() - 100))
    listing = _make("bench", cwd=tmp_path)
    assert re.search(r"normalize_speed\s+Normalise 10k messages: median ms\.", listing)


# ---------------------------------------------------------------- CI script


def test_ci_script_is_valid_bash_and_runs_both_databases_then_the_browser_tests():
    script = ROOT / ".ci" / "run"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    sqlite = text.index("env -u DATABASE_URL make test")
    postgres = text.index('DATABASE_URL="$PG_URL"')
    e2e = text.index("make e2e", postgres)
    assert sqlite < postgres < e2e
    assert "postgres://postgres@127.0.0.1:5432/minyi_ci" in text


# ---------------------------------------------------------------- deployment: the client address


def _load_gunicorn_conf() -> dict:
    namespace: dict = {"__file__": str(ROOT / "deploy" / "gunicorn.conf.py")}
    exec(compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        (("127.0.0.1", 5000), [("X-REAL-IP", "203.0.113.9")], "203.0.113.9"),
        (("::1", 5000), [("X-REAL-IP", " 2001:db8::7 ")], "2001:db8::7"),
        ("", [("X-REAL-IP", "203.0.113.9")], "203.0.113.9"),  # unix socket: only local processes connect
        (("198.51.100.4", 5000), [("X-REAL-IP", "203.0.113.9")], None),  # not a trusted proxy
        (("127.0.0.1", 5000), [("X-REAL-IP", "203.0.113.9, 10.0.0.1")], None),  # not one address
        (("127.0.0.1", 5000), [("X-REAL-IP", "<script>")], None),
        (("127.0.0.1", 5000), [("X-REAL-IP", "1.1.1.1"), ("X-REAL-IP", "2.2.2.2")], None),  # ambiguous
        (("127.0.0.1", 5000), [], None),
    ],
)
def test_gunicorn_hook_takes_the_client_address_only_from_a_trusted_proxy(peer, headers, expected):
    conf = _load_gunicorn_conf()
    req = SimpleNamespace(peer_addr=peer, headers=headers, proxy_protocol_info=None)
    worker = SimpleNamespace(cfg=SimpleNamespace(forwarded_allow_ips=["127.0.0.1", "::1"]))
    conf["pre_request"](worker, req)
    got = req.proxy_protocol_info["client_addr"] if req.proxy_protocol_info else None
    assert got == expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_with_the_shipped_config_sets_remote_addr_from_x_real_ip(tmp_path):
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed in this environment")
    (tmp_path / "echo_app.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [environ['REMOTE_ADDR'].encode()]\n"
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            str(gunicorn),
            "-c",
            str(ROOT / "deploy/gunicorn.conf.py"),
            "--chdir",
            str(tmp_path),
            "echo_app:app",
        ],
        env={**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def get(headers: dict[str, str]) -> str:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read().decode()

        deadline = time.monotonic() + 20
        while True:
            try:
                assert get({}) == "127.0.0.1"
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert get({"X-Real-IP": "203.0.113.9"}) == "203.0.113.9"
        assert get({"X-Real-IP": "not-an-address"}) == "127.0.0.1"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_systemd_units_run_the_shipped_configuration():
    units = {p.name: p.read_text() for p in (ROOT / "deploy" / "systemd").iterdir()}
    assert "gunicorn -c deploy/gunicorn.conf.py config.wsgi:application" in units["minyi-web.service"]
    assert "celery -A config worker" in units["minyi-worker.service"]
    assert "celery -A config beat" in units["minyi-beat.service"]
    for job, command in [
        ("mark-overdue", "cases_mark_overdue"),
        ("close-unrated", "cases_close_unrated"),
        ("purge-idempotency", "intake_purge_idempotency"),
        ("triage-pending", "intake_triage_pending"),
        ("routing-history", "intake_routing_history"),
        ("disclosure-rollup", "disclosure_rollup"),
        ("disclosure-publish", "disclosure_publish_pending"),
        ("barometer-rollup", "barometer_rollup"),
        ("barometer-topics", "barometer_topics"),
        ("barometer-alerts", "barometer_alerts"),
        ("barometer-quality", "barometer_quality --backfill"),
        ("barometer-weekly-report", "barometer_report --kind weekly"),
        ("barometer-monthly-report", "barometer_report --kind monthly"),
    ]:
        assert command.split()[0] in get_commands(), f"{command} is not a management command"
        assert f"/.venv/bin/minyi {command}\n" in units[f"minyi-{job}.service"]
        assert "OnCalendar=" in units[f"minyi-{job}.timer"]
    nginx = (ROOT / "deploy" / "nginx" / "minyi.conf").read_text()
    assert "proxy_set_header X-Real-IP $remote_addr;" in nginx
    assert (
        "$request " not in nginx
        and "$args" not in nginx
        and "$remote_addr " not in nginx.split("server {")[0]
    )


# ---------------------------------------------------------------- i18n

LOCALE = ROOT / "locale"


def _catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(i18n_build.po_path(language, LOCALE)))


def _msgids(po: polib.POFile) -> set[tuple[str, str]]:
    return {i18n_build.entry_key(e) for e in po if not e.obsolete}


def test_traditional_catalogue_covers_every_msgid_of_the_english_one():
    english, traditional = _catalogue("en"), _catalogue("zh_Hant")
    assert _msgids(english) - _msgids(traditional) == set()
    assert _msgids(traditional) - _msgids(english) == set()


def test_traditional_catalogue_is_the_opencc_conversion_except_manual_entries():
    import opencc

    convert = opencc.OpenCC(i18n_build.OPENCC_CONFIG).convert
    for entry in _catalogue("zh_Hant"):
        if entry.obsolete or i18n_build.MANUAL_MARK in (entry.tcomment or ""):
            continue
        if entry.msgid_plural:
            assert entry.msgstr_plural == {0: convert(entry.msgid_plural)}
        else:
            assert entry.msgstr == convert(entry.msgid), entry.msgid


def test_every_english_entry_is_translated_with_the_same_placeholders():
    english = _catalogue("en")
    assert i18n_build.untranslated(english) == [], "translate these in locale/en/LC_MESSAGES/django.po"
    assert i18n_build.placeholder_errors(english) == []
    assert i18n_build.placeholder_errors(_catalogue("zh_Hant")) == []


@pytest.mark.skipif(not i18n_build.gettext_available(), reason="GNU gettext (xgettext) is not installed")
def test_catalogues_hold_every_string_in_the_code():
    # Extracts the msgids from the code as it is now; writes nothing.
    call_command("i18n_build", check=True, verbosity=0)


def test_known_strings_render_in_traditional_chinese_and_english(tmp_path):
    from minyi.cases.workflow import ACTION_LABELS, CaseAction

    shutil.copytree(LOCALE, tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo"))
    written = i18n_build.compile_catalogues(tmp_path / "locale")  # polib, no msgfmt
    assert {p.parent.parent.name for p in written} == {"en", "zh_Hant"}
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):  # the setting change resets the caches
        with translation.override("en"):
            assert str(ACTION_LABELS[CaseAction.ACCEPT]) == "Accept"
            assert translation.gettext("交办") == "Assign"
        with translation.override("zh-hant"):
            assert str(ACTION_LABELS[CaseAction.ASSIGN]) == "交辦"
            assert translation.gettext("受理编号") == "受理編號"
        with translation.override("zh-hans"):
            assert str(ACTION_LABELS[CaseAction.ASSIGN]) == "交办"


# ---------------------------------------------------------------- i18n pipeline, on made-up catalogues


def _entry(msgid: str, msgstr: str = "", **kw) -> polib.POEntry:
    return polib.POEntry(msgid=msgid, msgstr=msgstr, **kw)


def test_merge_keeps_translations_adds_new_msgids_and_keeps_removed_ones_as_obsolete():
    current = polib.POFile()
    current.append(_entry("受理", "Accept"))
    current.append(_entry("旧文字", "Old text"))
    current.append(_entry("模糊", "Fuzzy guess", flags=["fuzzy"]))
    template = [_entry("受理", occurrences=[("a.py", "3")]), _entry("新文字"), _entry("模糊")]

    merged = i18n_build.merge_english(template, current)

    live = {e.msgid: e.msgstr for e in merged if not e.obsolete}
    assert live == {"受理": "Accept", "新文字": "", "模糊": ""}  # a fuzzy guess is not a translation
    assert [(e.msgid, e.msgstr) for e in merged.obsolete_entries()] == [("旧文字", "Old text")]
    assert i18n_build.untranslated(merged) == ["新文字", "模糊"]
    again = i18n_build.merge_english([*template, _entry("旧文字")], merged)  # a string comes back
    assert {e.msgid: e.msgstr for e in again if not e.obsolete}["旧文字"] == "Old text"


def test_traditional_is_regenerated_but_manual_entries_are_kept():
    current = polib.POFile()
    current.append(_entry("程序", "程式"))  # an old automatic value: regenerated
    current.append(_entry("后台", "後臺（手改）", tcomment="manual: our wording"))
    template = [_entry("程序"), _entry("后台"), _entry("%(n)s 件诉求", msgid_plural="%(n)s 件诉求")]

    built = {e.msgid: e for e in i18n_build.build_traditional(template, current)}

    assert built["程序"].msgstr == "程序"
    assert built["后台"].msgstr == "後臺（手改）"
    assert built["%(n)s 件诉求"].msgstr_plural == {0: "%(n)s 件訴求"}


def test_placeholder_mismatch_is_reported_and_blocks_compiling(tmp_path):
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    po.append(
        _entry("您的诉求 %(no)s 已受理", "Your appeal %(number)s was accepted", flags=["python-format"])
    )
    assert i18n_build.placeholder_errors(po)
    path = tmp_path / "en" / "LC_MESSAGES" / "django.po"
    path.parent.mkdir(parents=True)
    po.save(str(path))
    with pytest.raises(Exception, match="placeholders"):
        i18n_build.compile_catalogues(tmp_path)
    assert not path.with_suffix(".mo").exists()


def test_a_plural_form_may_leave_the_number_out_but_never_add_a_placeholder():
    po = polib.POFile()
    entry = _entry("已督办 %(n)s 次", msgid_plural="已督办 %(n)s 次", flags=["python-format"])
    entry.msgstr_plural = {0: "Escalated once", 1: "Escalated %(n)s times"}
    po.append(entry)
    assert i18n_build.placeholder_errors(po) == []
    entry.msgstr_plural = {0: "Escalated once by %(who)s", 1: "Escalated %(n)s times"}
    assert i18n_build.placeholder_errors(po)


def test_compile_writes_only_stale_catalogues_and_leaves_out_fuzzy_entries(tmp_path):
    po = polib.POFile()
    po.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Plural-Forms": "nplurals=2; plural=(n != 1);",
    }
    po.append(_entry("受理", "Accept"))
    po.append(_entry("模糊", "Guess", flags=["fuzzy"]))
    path = tmp_path / "en" / "LC_MESSAGES" / "django.po"
    path.parent.mkdir(parents=True)
    po.save(str(path))

    assert i18n_build.compile_catalogues(tmp_path) == [path.with_suffix(".mo")]
    assert i18n_build.compile_catalogues(tmp_path) == []  # up to date: nothing rewritten
    compiled = {e.msgid: e.msgstr for e in polib.mofile(str(path.with_suffix(".mo")))}
    assert compiled == {"受理": "Accept"}


def test_every_periodic_job_names_a_callable_and_valid_arguments():
    import importlib
    import inspect

    from config.celery import app

    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] == "minyi.run", name
        path, kwargs = entry["args"]
        module, _, attr = path.rpartition(".")
        func = getattr(importlib.import_module(module), attr)
        assert callable(func), name
        inspect.signature(func).bind(
            **kwargs
        )  # raises TypeError when the schedule passes arguments it does not take
