"""Public endpoints: submit an appeal, track it, and act on it as the citizen (query code as proof)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Header, Query, Router

from minyi.api.auth import ScopeRateLimit
from minyi.api.v1.present import public_view, status_choice
from minyi.api.v1.schemas import AppealIn, AppealPublicOut, CitizenActionIn, ErrorOut, ReceiptOut
from minyi.cases import policies
from minyi.cases.services import case_transition
from minyi.cases.workflow import CaseAction, InvalidTransition
from minyi.core.choices import Channel
from minyi.intake.idempotency import run_idempotent
from minyi.intake.services import case_get_for_citizen, submission_ingest

router = Router(tags=["appeals (public)"])

_ERRORS = {400: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut, 429: ErrorOut}


def _json(status: int, body: dict, *, replayed: bool = False) -> HttpResponse:
    # Keys sorted, so that a replayed receipt is byte-for-byte the first one.
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, sort_keys=True),
        status=status,
        content_type="application/json; charset=utf-8",
    )
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@router.post(
    "/appeals",
    response={201: ReceiptOut, **_ERRORS},
    throttle=ScopeRateLimit("submit"),
    url_name="appeal_submit",
    summary="Submit an appeal",
)
def submit_appeal(
    request: HttpRequest,
    payload: AppealIn,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        description="repeat with the same key within 24 h replays the first response and creates nothing",
    ),
):
    """Store an appeal and answer with its tracking number and the secret query code (201).

    Attachments are not accepted here (the web form takes them); see docs/api.md. `publish: false` asks that the
    appeal never be published on the public board.
    """
    data = payload.model_dump()
    data["publication_consent"] = data.pop("publish")

    def produce() -> tuple[int, dict, int]:
        receipt = submission_ingest(channel=Channel.API, data=data)
        body = {
            "tracking_number": receipt.tracking_number,
            "query_code": receipt.query_code,
            "status": receipt.case.status,
            "status_label": status_choice(receipt.case.status)["label"],
            "submitted_at": receipt.case.created_at.isoformat(),
            "tracking_url": reverse(
                "api-v1:appeal_track", kwargs={"tracking_number": receipt.tracking_number}
            ),
        }
        return 201, body, receipt.case.pk

    if idempotency_key is None:
        status, body, _case_id = produce()
        return _json(status, body)
    # The fingerprint is the body as sent (parsed JSON), so any different body with the same key is refused.
    status, body, replayed = run_idempotent(key=idempotency_key, payload=request.minyi_json, produce=produce)
    return _json(status, body, replayed=replayed)


@router.get(
    "/appeals/{tracking_number}",
    response={200: AppealPublicOut, **_ERRORS},
    throttle=ScopeRateLimit("track"),
    url_name="appeal_track",
    summary="Track an appeal",
)
def track_appeal(
    request: HttpRequest,
    tracking_number: str,
    query_code: str | None = Query(None, description="the secret query code from the receipt"),
    x_query_code: str | None = Header(None, alias="X-Query-Code", description="alternative to ?query_code"),
):
    """The citizen's view of their appeal: status, replies, history, and what they may do now.

    A wrong query code and an unknown tracking number answer the same 404.
    """
    case = case_get_for_citizen(tracking_number=tracking_number, query_code=query_code or x_query_code or "")
    return public_view(case, now=timezone.now())


@router.post(
    "/appeals/{tracking_number}/actions/{action}",
    response={200: AppealPublicOut, 403: ErrorOut, **_ERRORS},
    throttle=ScopeRateLimit("track"),
    url_name="appeal_action",
    summary="Act on an appeal as the citizen (evaluate, add_info, request_review)",
)
def citizen_action(request: HttpRequest, tracking_number: str, action: str, payload: CitizenActionIn):
    """`evaluate` (data.rating: satisfied | basically_satisfied | dissatisfied, with a reason in `note`
    when dissatisfied; data.resolved optional), `add_info` (data.text), `request_review` (note: why)."""
    case = case_get_for_citizen(tracking_number=tracking_number, query_code=payload.query_code)
    if action not in CaseAction._value2member_map_:
        raise InvalidTransition(case.status, action[:40])
    case_transition(
        case_id=case.pk,
        action=action,
        actor=policies.citizen_actor(case=case),
        note=payload.note,
        data=payload.data,
    )
    case = case_get_for_citizen(tracking_number=tracking_number, query_code=payload.query_code)
    return public_view(case, now=timezone.now())
