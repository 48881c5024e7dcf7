"""POST /api/v1/auth/token and bearer tokens on the staff endpoints."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from minyi.accounts.models import ApiToken

PASSWORD = "correct-horse-battery"  # minyi.cases.tests.factories.UserFactory


@pytest.fixture
def client(db):
    return Client()


def token(client: Client, username: str, password: str, **extra):
    return client.post(
        "/api/v1/auth/token",
        data=json.dumps({"username": username, "password": password}),
        content_type="application/json",
        **extra,
    )


def test_staff_exchange_a_password_for_a_token_that_opens_the_staff_endpoints(client, org):
    response = token(client, "t_dispatcher", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "token_type", "expires_at"}
    assert body["token_type"] == "Bearer"
    stored = ApiToken.objects.get(user=org.dispatcher)
    assert body["token"] not in stored.key_hash
    assert abs(stored.expires_at - timezone.now() - timedelta(hours=12)) < timedelta(minutes=1)
    assert not response.cookies  # no session is created

    listing = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {body['token']}"})
    assert listing.status_code == 200
    assert listing.json() == {"items": [], "count": 0, "limit": 50, "offset": 0}


def test_no_csrf_is_needed_for_the_token(org):
    client = Client(enforce_csrf_checks=True)
    assert token(client, "t_dispatcher", PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("t_dispatcher", "wrong"), ("nobody", PASSWORD), ("", "")]
)
def test_wrong_credentials_are_401(client, org, username, password):
    response = token(client, username, password)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert not ApiToken.objects.exists()


def test_an_account_without_a_staff_role_gets_no_token(client, org):
    response = token(client, "t_citizen", PASSWORD)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not ApiToken.objects.exists()


def test_an_inactive_account_gets_no_token(client, org):
    org.dispatcher.is_active = False
    org.dispatcher.save()
    assert token(client, "t_dispatcher", PASSWORD).status_code == 401


def test_repeated_failures_lock_the_account_out_as_on_the_web(client, org, settings):
    settings.AXES_FAILURE_LIMIT = 3
    codes = [token(client, "t_dispatcher", "wrong").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    locked = token(client, "t_dispatcher", PASSWORD)  # even the right password, now
    assert locked.status_code == 429
    assert locked["Content-Type"].startswith("application/json")
    assert locked.json()["error"]["code"] == "locked_out"
    assert locked.json()["error"]["fields"]["retry_after_seconds"] == 30 * 60
    assert not ApiToken.objects.exists()
    # Another account from the same address is not locked.
    assert token(client, "t_intake", PASSWORD).status_code == 200


def test_token_requests_are_rate_limited(client, org, settings):
    settings.MINYI_RATE_LIMIT_ENABLED = True
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "auth": "2/m"}
    cache.clear()
    assert [token(client, "t_intake", PASSWORD).status_code for _ in range(3)] == [200, 200, 429]
    assert ApiToken.objects.count() == 2


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Token abc", "Bearer " + "x" * 5000,
     "Bearer 令牌"],
)  # fmt: skip
def test_missing_or_bad_tokens_are_401(client, org, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_tokens_are_401(client, org):
    stored, raw = ApiToken.issue(org.supervisor)
    ApiToken.objects.filter(pk=stored.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_a_token_of_a_user_who_lost_every_role_is_403(client, org):
    _stored, raw = ApiToken.issue(org.dispatcher)
    org.dispatcher.memberships.all().delete()
    response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
