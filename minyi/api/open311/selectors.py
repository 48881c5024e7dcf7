"""What GET requests may show, and how a case reads as a GeoReport v2 service request.

Listed: the cases published on the public board (disclosure.Publication, state "published") and the cases
that came in through Open311 (intake.Open311Request). Nothing else, whoever asks: the GET methods need no key.

What a listed request shows (docs/open311.md):
- description: the published, masked and staff-checked text (Publication.content) when published; else null.
- address: the case's address masked by the text engine, lat/long as stored, address_id the region's code,
  media_url the client's URL — all null for a case that is not published and is private, a petition, or
  one whose person asked not to be published.
- status: open, or closed for the final states (closed, declined, referred, merged); a replied case stays open
  until it is closed (rated, or the rating window passed). status_notes: the status's public label, and for a
  published case the start of the latest published (masked) reply.
- never: the person's name, phone, e-mail, account or device ids, the original text, attachments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Substr

from minyi.cases.models import Case
from minyi.cases.workflow import FINAL_STATES, OPEN_STATES, CaseStatus
from minyi.core.choices import Kind
from minyi.disclosure.models import Publication, PublishedReply
from minyi.routing.models import Category
from minyi.text.pii import mask_pii

#: The spec's own limits: "first 1000 requests", "may not span more than 90 days".
MAX_RESULTS = 1000
MAX_SPAN_DAYS = 90
#: Most ids one service_request_id list may name (the spec sets none; 500 keeps one query small).
MAX_IDS = 500
#: The spec's limit for a description, and the start of a reply carried in status_notes.
DESCRIPTION_CHARS = 4000
REPLY_NOTE_CHARS = 200

CLOSED_STATES = frozenset(FINAL_STATES)


def listable_cases() -> QuerySet[Case]:
    return Case.objects.filter(Q(publication__state=Publication.State.PUBLISHED) | Q(open311__isnull=False))


#: The columns a listed request is made of: one query, plain rows (no model instances: a page is 1,000 of them).
_COLUMNS = (
    "id", "tracking_number", "kind", "status", "address", "latitude", "longitude", "is_private",
    "publication_consent", "due_at", "created_at", "status_changed_at", "closed_at",
    "category__code", "category__name", "department__name", "region__code",
    "publication__state", "publication__content", "open311__media_url", "open311__case_id",
)  # fmt: skip


@dataclass(frozen=True)
class RequestFilter:
    ids: list[str] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] | None = None


def requests_list(f: RequestFilter) -> list[dict[str, Any]]:
    """The listed requests that match, newest first, at most MAX_RESULTS. A list of ids overrides every other
    filter (the spec). Three queries: the cases (with their relations), the latest published replies."""
    qs = listable_cases()
    if f.ids is not None:
        qs = qs.filter(tracking_number__in=f.ids)
    else:
        if f.start is not None:
            qs = qs.filter(created_at__gte=f.start)
        if f.end is not None:
            qs = qs.filter(created_at__lte=f.end)
        if f.service_codes is not None:
            # codes to ids first: filtering by the joined code made PostgreSQL scan every case of the window
            ids = list(Category.objects.filter(code__in=f.service_codes).values_list("pk", flat=True))
            qs = qs.filter(category_id__in=ids)
        if f.statuses is not None and len(f.statuses) == 1:
            closed = "closed" in f.statuses
            qs = qs.filter(status__in=CLOSED_STATES) if closed else qs.exclude(status__in=CLOSED_STATES)
    rows = list(qs.values(*_COLUMNS).order_by("-created_at", "-id")[:MAX_RESULTS])
    return present(rows)


def request_get(service_request_id: str) -> dict[str, Any] | None:
    number = (service_request_id or "").strip().upper()
    if not number or len(number) > 24:
        return None
    rows = list(listable_cases().filter(tracking_number=number).values(*_COLUMNS)[:1])
    return present(rows)[0] if rows else None


def _latest_replies(publication_ids: list[int]) -> dict[int, str]:
    if not publication_ids:
        return {}
    rows = (
        PublishedReply.objects.filter(publication_id__in=publication_ids)
        .annotate(start=Substr("text", 1, REPLY_NOTE_CHARS + 1))
        .order_by("publication_id", F("sent_at").asc(nulls_first=True), "id")
        .values_list("publication_id", "start")
    )
    return dict(rows)  # ordered by time: the last reply of each publication wins


def _shows_place(row: dict[str, Any], published: bool) -> bool:
    if published:
        return True
    return not row["is_private"] and row["publication_consent"] and row["kind"] != Kind.PETITION


def _status_notes(label: str, reply: str | None) -> str:
    if not reply:
        return label
    text = " ".join(reply.split())
    if len(text) > REPLY_NOTE_CHARS:
        text = text[:REPLY_NOTE_CHARS] + "…"
    return f"{label}：{text}"


def present(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Case rows (_COLUMNS) as GeoReport v2 requests, every field present (null when unknown), in the spec's
    order."""
    labels = {value: str(label) for value, label in CaseStatus.choices}
    published = {row["id"]: row["publication__state"] == Publication.State.PUBLISHED for row in rows}
    replies = _latest_replies([pk for pk, yes in published.items() if yes])
    out = []
    for row in rows:
        is_published = published[row["id"]]
        place = _shows_place(row, is_published)
        status = row["status"]
        closed = status in CLOSED_STATES
        created = row["created_at"]
        changed = row["status_changed_at"] or created
        description = (row["publication__content"] or "")[:DESCRIPTION_CHARS] if is_published else ""
        out.append(
            {
                "service_request_id": row["tracking_number"],
                "status": "closed" if closed else "open",
                "status_notes": _status_notes(labels.get(status, status), replies.get(row["id"])),
                "service_name": row["category__name"],
                "service_code": row["category__code"],
                "description": description or None,
                "agency_responsible": row["department__name"],
                "service_notice": None,
                "requested_datetime": created,
                "updated_datetime": (row["closed_at"] or changed) if closed else changed,
                "expected_datetime": row["due_at"] if status in OPEN_STATES else None,
                "address": mask_pii(row["address"]) if place and row["address"] else None,
                "address_id": row["region__code"] if place else None,
                "zipcode": None,
                "lat": row["latitude"] if place else None,
                "long": row["longitude"] if place else None,
                "media_url": (row["open311__media_url"] or None)
                if place and row["open311__case_id"]
                else None,
            }
        )
    return out
