"""Headers on every response, and the request-size cap."""

from __future__ import annotations

import pytest
from django.conf import settings


@pytest.mark.django_db
def test_every_page_carries_the_content_security_policy(client):
    response = client.get("/")
    assert response["Content-Security-Policy"] == settings.MINYI_CSP
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_an_oversized_form_post_is_refused_before_it_is_read(client):
    from minyi.cases.models import Case

    limit = settings.MINYI_ATTACHMENT_MAX_BYTES * settings.MINYI_ATTACHMENT_MAX_COUNT + 2 * 1024 * 1024
    response = client.generic(
        "POST",
        "/submit/",
        b"x" * 10,
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(limit + 1),
    )
    assert response.status_code == 413
    assert "过大" in response.content.decode()
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_an_oversized_api_post_gets_the_api_error_shape(client):
    response = client.generic(
        "POST", "/api/v1/appeals", b"{}", content_type="application/json", CONTENT_LENGTH=str(10**9)
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
