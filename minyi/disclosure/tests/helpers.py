"""Test helpers for the public board: publish a case without the publication service.

`publish_for_test(case, **overrides)` writes the Publication and PublishedReply rows directly, as the publication
service would: the title, content and sent replies masked with minyi.text.pii.mask_pii, search_text from
minyi.disclosure.search.index_text, the board's denormalised fields copied from the case. Any Publication field
may be overridden (state, published_at, view_count, title, content, ...); search_text follows an overridden
title or content unless it is overridden too. Calling it again for the same case rewrites the rows.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from minyi.cases.models import Case, Reply
from minyi.disclosure.models import Publication, PublishedReply
from minyi.disclosure.search import index_text
from minyi.text.pii import mask_pii


def publish_for_test(case: Case, **overrides: Any) -> Publication:
    case = Case.objects.get(pk=case.pk)
    title = overrides.pop("title", None)
    content = overrides.pop("content", None)
    title = mask_pii(case.title) if title is None else title
    content = mask_pii(case.content) if content is None else content
    state = overrides.pop("state", Publication.State.PUBLISHED)
    published_at = overrides.pop(
        "published_at", (case.replied_at or timezone.now()) if state == Publication.State.PUBLISHED else None
    )
    fields: dict[str, Any] = {
        "state": state,
        "hold_reason": "" if state == Publication.State.PUBLISHED else Publication.Hold.STAFF,
        "title": title,
        "content": content,
        "kind": case.kind,
        "category_id": case.category_id,
        "region_id": case.region_id,
        "department_id": case.department_id,
        "case_status": case.status,  # not-a-case-status: the publication's copy
        "received_at": case.created_at,
        "replied_at": case.replied_at,
        "published_at": published_at,
        "search_text": index_text(title, content),
    }
    fields.update(overrides)
    publication, _created = Publication.objects.update_or_create(case=case, defaults=fields)
    PublishedReply.objects.filter(publication=publication).delete()
    PublishedReply.objects.bulk_create(
        [
            PublishedReply(
                publication=publication,
                reply=reply,
                text=mask_pii(reply.text),
                department_id=reply.department_id,
                sent_at=reply.sent_at,
            )
            for reply in Reply.objects.filter(case=case, state=Reply.State.SENT).order_by("created_at", "id")
        ]
    )
    return publication


def make_published(
    *,
    title: str = "小区电梯故障停运",
    content: str = "我们小区3号楼电梯已经停运两周，老人上下楼很困难，请尽快处理。",
    category=None,
    region=None,
    department=None,
    case_status: str = "closed",
    kind: str = "complaint",
    **overrides: Any,
) -> Publication:
    """A new case (submitted, through the cases service) published as if it had been handled: the board reads only
    the publication, so its status, department and times are whatever the test says."""
    from minyi.cases.tests.factories import create_case

    case = create_case(title=title, content=content, category=category, region=region, kind=kind)
    overrides.setdefault("replied_at", case.created_at)
    return publish_for_test(
        case,
        department_id=department.pk if department is not None else None,
        case_status=case_status,  # not-a-case-status: the publication's copy
        **overrides,
    )
