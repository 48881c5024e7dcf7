"""The `minyi` console script: offline commands without Django, a plain message for a bad environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "minyi", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_missing_secret_key_is_reported_plainly_with_exit_code_2():
    result = _run("check", env={"DJANGO_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "config.settings.base"})
    assert result.returncode == 2
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_offline_commands_need_no_django_settings():
    result = _run("classify", "--help", env={"DJANGO_SETTINGS_MODULE": "config.settings.does_not_exist"})
    assert result.returncode == 0, result.stderr
    assert "--model" in result.stdout


def test_django_commands_run_through_the_same_script():
    result = _run("check", env={"DJANGO_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings.base"})
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
