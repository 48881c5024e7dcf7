"""Accounts: memberships, roles and API tokens."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from minyi.accounts.models import ApiToken, Membership, Role
from minyi.cases.tests.factories import DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_roles_are_the_architecture_roles():
    assert set(Role.values) == {"intake", "dispatcher", "handler", "head", "supervisor", "leader", "admin"}
    for role in Role:
        assert str(role.label).strip()


def test_membership_is_unique_per_user_department_role():
    user, dept = UserFactory(), DepartmentFactory()
    Membership.objects.create(user=user, department=dept, role=Role.HANDLER)
    Membership.objects.create(user=user, department=dept, role=Role.HEAD)  # another role is fine
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, department=dept, role=Role.HANDLER)


def test_membership_role_is_constrained_by_the_database():
    user, dept = UserFactory(), DepartmentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, department=dept, role="overlord")


def test_user_str_prefers_display_name():
    assert str(UserFactory(username="li", display_name="李科长")) == "李科长"
    assert str(UserFactory(username="wang")) == "wang"


def test_api_token_stores_only_a_hash():
    user = UserFactory()
    token, raw = ApiToken.issue(user)
    assert len(raw) >= 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in stored.key_hash
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert ApiToken.lookup(raw) == user
    assert ApiToken.lookup(raw + "x") is None
    assert ApiToken.lookup("") is None


def test_two_tokens_differ():
    user = UserFactory()
    _t1, raw1 = ApiToken.issue(user)
    _t2, raw2 = ApiToken.issue(user)
    assert raw1 != raw2
    assert ApiToken.lookup(raw1) == ApiToken.lookup(raw2) == user


def test_api_token_expires(settings):
    user = UserFactory()
    token, raw = ApiToken.issue(user)
    assert token.expires_at - timezone.now() <= settings.MINYI_API_TOKEN_LIFETIME
    with time_machine.travel(token.expires_at - timedelta(seconds=5), tick=False):
        assert ApiToken.lookup(raw) == user
    with time_machine.travel(token.expires_at + timedelta(seconds=1), tick=False):
        assert ApiToken.lookup(raw) is None


def test_token_of_an_inactive_user_is_refused():
    user = UserFactory()
    _token, raw = ApiToken.issue(user)
    user.is_active = False
    user.save()
    assert ApiToken.lookup(raw) is None
