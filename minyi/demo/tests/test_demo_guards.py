"""`minyi demo` and `minyi demo_reset_passwords`: the guards (DEBUG, --force, --if-empty) and passwords."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from minyi.accounts.models import Department, User
from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import create_case

PASSWORD = "demo-password-for-tests"


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def demo_settings(settings):
    settings.DEBUG = True
    settings.MINYI_DEMO_PASSWORD = PASSWORD
    return settings


def test_refuses_with_debug_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError) as info:
        run("demo", "--cases", "5")
    assert info.value.returncode != 0
    assert "DEBUG" in str(info.value)
    assert not Case.objects.exists() and not Department.objects.exists()


def test_force_runs_with_debug_off(db, settings):
    settings.DEBUG = False
    settings.MINYI_DEMO_PASSWORD = PASSWORD
    run("demo", "--cases", "12", "--force")
    assert Case.objects.count() == 12


def test_if_empty_is_a_no_op_when_cases_exist(db, demo_settings):
    run("demo", "--cases", "8")
    before = (Case.objects.count(), CaseEvent.objects.count(), User.objects.count())
    out, _err = run("demo", "--if-empty")
    assert (Case.objects.count(), CaseEvent.objects.count(), User.objects.count()) == before
    assert "exists" in out
    assert PASSWORD in out  # known from MINYI_DEMO_PASSWORD
    demo_settings.MINYI_DEMO_PASSWORD = ""
    out, _err = run("demo", "--if-empty")
    assert "demo_reset_passwords" in out and PASSWORD not in out
    # a configured password that the accounts no longer have is not printed as if it worked
    demo_settings.MINYI_DEMO_PASSWORD = "changed-since-the-first-run"
    out, _err = run("demo", "--if-empty")
    assert "changed-since-the-first-run" not in out and "demo_reset_passwords" in out


def test_without_if_empty_a_full_database_is_refused(db, demo_settings):
    create_case()
    with pytest.raises(CommandError) as info:
        run("demo", "--cases", "5")
    assert "already holds" in str(info.value)
    assert Case.objects.count() == 1
    assert not Department.objects.filter(code="hotline").exists()


def test_if_empty_on_a_database_without_demo_accounts(db, demo_settings):
    create_case()
    out, _err = run("demo", "--if-empty")
    assert "exists" in out and Case.objects.count() == 1


def test_bad_case_count(db, demo_settings):
    with pytest.raises(CommandError) as info:
        run("demo", "--cases", "0")
    assert info.value.returncode == 2


def test_random_password_when_none_configured(db, demo_settings):
    demo_settings.MINYI_DEMO_PASSWORD = ""
    out, _err = run("demo", "--cases", "8")
    match = re.search(r"\| intake\s+\|[^|]+\|[^|]+\| (\S+)\s+\|", out)
    assert match
    assert User.objects.get(username="intake").check_password(match.group(1))
    assert "demo_reset_passwords" in out


def test_reset_passwords(db, demo_settings):
    run("demo", "--cases", "8")
    out, _err = run("demo_reset_passwords")
    new = re.search(r"\| admin\s+\|[^|]+\|[^|]+\| (\S+)\s+\|", out).group(1)
    assert new != PASSWORD
    for username in ("admin", "handler", "rsj-handler", "citizen"):
        user = User.objects.get(username=username)
        assert user.check_password(new) and not user.check_password(PASSWORD)


def test_reset_passwords_without_demo(db, demo_settings):
    with pytest.raises(CommandError):
        run("demo_reset_passwords")


@pytest.mark.parametrize("bad", ["tomorrow", "2999-01-01T00:00"])
def test_bad_now(db, demo_settings, bad):
    with pytest.raises(CommandError) as info:
        run("demo", "--cases", "5", "--now", bad)
    assert info.value.returncode == 2 and "--now" in str(info.value)
    assert not Case.objects.exists()
