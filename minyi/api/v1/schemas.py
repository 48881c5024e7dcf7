"""Request and response shapes of /api/v1, as they appear in the OpenAPI document.

Input schemas check only types; the rules (lengths, known kinds and categories, what an action needs)
live in minyi.intake and minyi.cases, which answer with messages in the user's language.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

#: Names of the view parameters that wrap a body or query schema; dropped from error field names.
PARAM_NAMES = frozenset({"payload", "filters"})


class ErrorDetail(Schema):
    code: str = Field(..., examples=["validation_error"])
    message: str
    fields: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(Schema):
    error: ErrorDetail


class Choice(Schema):
    value: str
    label: str


class Named(Schema):
    id: int
    code: str = ""
    name: str


# ---------------------------------------------------------------------------------------------- public


class AppealIn(Schema):
    """One appeal. Only `title` and `content` are required."""

    kind: str | None = Field(None, description="complaint, help, question, suggestion, praise, petition")
    priority: str | None = Field(None, description="ordinary (default) or urgent")
    title: str = Field(..., description="at most 200 characters; invisible and control characters removed")
    content: str = Field(..., description="at most 20,000 characters; stored exactly as written")
    category: int | str | None = Field(None, description="category id or code")
    region: int | str | None = Field(None, description="region id or code")
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    is_anonymous: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    publish: bool = Field(
        True,
        description="false: the person asks that the appeal not be published. Otherwise, once replied, its "
        "title, content and replies may appear on the public board with personal data masked (names, "
        "contacts and attachments never do; petitions never do)",
    )


class ReceiptOut(Schema):
    tracking_number: str = Field(..., examples=["MY2026112900017"])
    query_code: str = Field(..., description="secret; shown once, needed to track the appeal")
    status: str
    status_label: str
    submitted_at: datetime
    tracking_url: str


class PublicReply(Schema):
    text: str
    department: str | None
    sent_at: datetime | None


class PublicEvent(Schema):
    action: str
    label: str
    from_status: str
    to_status: str
    at: datetime
    note: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class PublicEvaluation(Schema):
    state: str = Field(
        ..., description="none (no reply yet), open (the citizen may rate the reply now), done, expired"
    )
    rating: str | None = None
    rating_label: str | None = None
    due_at: datetime | None = None


class FollowedCase(Schema):
    tracking_number: str
    status: Choice
    department: str | None
    replied_at: datetime | None
    closed_at: datetime | None
    replies: list[PublicReply] = Field(description="personal data masked")


class AppealPublicOut(Schema):
    tracking_number: str
    status: Choice
    kind: Choice
    title: str
    content: str
    category: str | None
    region: str | None
    department: str | None
    submitted_at: datetime
    replies: list[PublicReply]
    history: list[PublicEvent]
    evaluation: PublicEvaluation
    review_request_until: datetime | None
    actions: list[str] = Field(
        ..., description="what the citizen may do now: evaluate, add_info, request_review"
    )
    merged_into: FollowedCase | None = Field(
        None, description="a merged case (并案): the main case it follows, its status and masked replies"
    )


class CitizenActionIn(Schema):
    query_code: str
    note: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- auth


class TokenIn(Schema):
    username: str = Field(..., max_length=150)
    password: str = Field(..., max_length=1024)


class TokenOut(Schema):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime


# ---------------------------------------------------------------------------------------------- staff


class CaseListQuery(Schema):
    status: str | None = None
    kind: str | None = None
    category: str | None = Field(None, description="category id or code")
    region: str | None = Field(None, description="region id or code")
    department: int | None = None
    overdue: bool | None = None
    needs_supervision: bool | None = None
    queue: str | None = Field(None, description="to_accept, to_dispatch, mine, supervision")
    q: str | None = Field(
        None, description="words (all must occur in title or content), or a tracking number"
    )
    limit: int = Field(50, ge=1, description="at most 200")
    offset: int = Field(0, ge=0)


class CaseItem(Schema):
    id: int
    tracking_number: str
    status: Choice
    kind: Choice
    priority: Choice
    channel: str
    title: str
    category: Named | None
    region: Named | None
    department: Named | None
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    needs_supervision: bool
    escalation_count: int
    external_number: str = Field("", description="the case's number in the system it was imported from")
    is_repeat: bool = Field(False, description="a repeat (重复件): the same person about the same matter")


class TriagePart(Schema):
    state: Choice


class TriageCategory(TriagePart):
    suggested: Named | None
    confidence: float | None
    top: list[dict[str, Any]]
    classifier: int | None


class TriageRegion(TriagePart):
    suggested: Named | None
    place: Named | None
    mentions: list[str]


class TriageDepartment(TriagePart):
    suggested: Named | None
    source: str = Field(description="rule, history, staff or none")


class TriagePii(TriagePart):
    spans: dict[str, list[list[Any]]] = Field(
        description="field -> [[kind, start, end]]: offsets, never values"
    )


class TriageDuplicate(Schema):
    id: int
    tracking_number: str
    similarity: float
    same_contact: bool
    state: str


class TriageDuplicates(TriagePart):
    candidates: list[TriageDuplicate]
    duplicate_of: str | None


class TriageRisk(TriagePart):
    score: int
    level: Choice
    reasons: list[dict[str, Any]]


class TriageOut(Schema):
    triaged_at: datetime
    category: TriageCategory
    region: TriageRegion
    department: TriageDepartment
    pii: TriagePii
    duplicates: TriageDuplicates
    risk: TriageRisk


class TriageReviewIn(Schema):
    decision: str = Field(description="accept or correct")
    category: int | None = None
    region: int | None = None
    department: int | None = None
    risk_level: str | None = None
    drop_spans: list[str] = Field(default_factory=list, description='pii spans to drop, as "field:index"')
    add_phrases: list[str] = Field(default_factory=list, description="pii: more text to mask")
    dismiss: list[int] = Field(default_factory=list, description="duplicates: candidate case ids")
    repeat: bool | None = None
    note: str = ""


class CaseListOut(Schema):
    items: list[CaseItem]
    count: int
    limit: int
    offset: int


class Contact(Schema):
    name: str
    phone: str
    email: str


class StaffReply(Schema):
    id: int
    text: str
    state: str
    department: str | None
    author: str | None
    approved_by: str | None
    created_at: datetime
    sent_at: datetime | None


class StaffEvent(Schema):
    id: int
    action: str
    label: str
    actor: str | None
    actor_role: str
    from_status: str
    to_status: str
    note: str
    data: dict[str, Any]
    is_public: bool
    at: datetime


class StaffEvaluation(Schema):
    rating: str
    resolved: bool | None
    reason: str
    reply_id: int
    created_at: datetime


class Deadlines(Schema):
    accept_due_at: datetime | None
    handle_due_at: datetime | None
    review_due_at: datetime | None
    evaluation_due_at: datetime | None
    due_at: datetime | None


class CaseDetailOut(CaseItem):
    content: str
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    is_anonymous: bool
    deadlines: Deadlines
    accepted_at: datetime | None
    assigned_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    extension_count: int
    pending_extension_days: int | None
    reopen_count: int
    merged_into: str | None
    contact: Contact | None = Field(
        None, description="only with ?include=contact, for roles allowed to see it"
    )
    contact_available: bool
    replies: list[StaffReply]
    timeline: list[StaffEvent]
    evaluations: list[StaffEvaluation]
    allowed_actions: list[str]
    triage: TriageOut | None = Field(
        None, description="what triage found on arrival, and each part's review state"
    )


class ActionIn(Schema):
    note: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class HealthOut(Schema):
    status: str
