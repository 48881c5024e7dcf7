"""Idempotency-Key on POST /api/v1/appeals: a repeat within 24 hours replays the first response exactly
and creates nothing; the same key with another body is 409; after 24 hours the key is free again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from minyi.cases.models import Case
from minyi.intake.models import IdempotencyRecord

URL = "/api/v1/appeals"
BODY = {"title": "噪音扰民", "content": "工地夜间施工，凌晨两点还在打桩。", "kind": "complaint"}


def send(client: Client, body: dict, key: str | None, **headers):
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        URL, data=json.dumps(body, ensure_ascii=False), content_type="application/json", headers=headers
    )


@pytest.fixture
def client(db):
    return Client()


def test_a_repeat_replays_the_first_response_and_creates_nothing(client, org):
    first = send(client, BODY, "order-2026-0001")
    second = send(client, BODY, "order-2026-0001")
    # Key order in the body does not make it a different body.
    third = send(client, dict(reversed(list(BODY.items()))), "order-2026-0001")

    assert first.status_code == second.status_code == third.status_code == 201
    assert first.content == second.content == third.content  # byte for byte, query code included
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1
    assert Case.objects.get().tracking_number == first.json()["tracking_number"]
    assert IdempotencyRecord.objects.get().case_id == Case.objects.get().pk


def test_without_a_key_every_post_is_a_new_appeal(client, org):
    a, b = send(client, BODY, None), send(client, BODY, None)
    assert a.json()["tracking_number"] != b.json()["tracking_number"]
    assert Case.objects.count() == 2


def test_different_keys_make_different_appeals(client, org):
    a, b = send(client, BODY, "key-a"), send(client, BODY, "key-b")
    assert a.json()["tracking_number"] != b.json()["tracking_number"]
    assert Case.objects.count() == 2


def test_the_same_key_with_another_body_is_409(client, org):
    first = send(client, BODY, "order-2026-0002")
    other = send(client, {**BODY, "content": "换了内容"}, "order-2026-0002")
    assert first.status_code == 201
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Case.objects.count() == 1
    # The first response is still what the key replays.
    assert send(client, BODY, "order-2026-0002").content == first.content


def test_a_refused_submission_does_not_use_up_the_key(client, org):
    bad = send(client, {**BODY, "title": ""}, "order-2026-0003")
    assert bad.status_code == 400
    good = send(client, BODY, "order-2026-0003")
    assert good.status_code == 201
    assert Case.objects.count() == 1


@pytest.mark.parametrize("key", ["", "   ", "k" * 201, "tab\there", "del\x7f"])
def test_invalid_keys_are_400(client, org, key):
    response = send(client, BODY, key)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert Case.objects.count() == 0


def test_after_24_hours_the_key_is_free_again_and_the_old_record_is_gone(client, org):
    first = send(client, BODY, "order-2026-0004")
    old = IdempotencyRecord.objects.get()

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        again = send(client, BODY, "order-2026-0004")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["tracking_number"] != first.json()["tracking_number"]
    assert Case.objects.count() == 2
    record = IdempotencyRecord.objects.get()
    assert record.pk != old.pk
    assert record.case_id == Case.objects.get(tracking_number=again.json()["tracking_number"]).pk


def test_within_24_hours_the_key_still_replays(client, org):
    first = send(client, BODY, "order-2026-0005")
    with time_machine.travel(timezone.now() + timedelta(hours=23, minutes=59)):
        again = send(client, BODY, "order-2026-0005")
    assert again.content == first.content
    assert Case.objects.count() == 1
