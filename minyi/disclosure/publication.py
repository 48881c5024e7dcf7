"""Publication: what the public board shows of a replied case, and the staff's hand on it.

A `Publication` is a masked copy of the case's title, content and sent replies. The original case, its replies
and its contact are never altered; names of the people who wrote in, their contacts and their attachments are
never copied (the Publication has no field for them, and the person's name is masked wherever it appears).

The rules:

- A case can be published once it has a sent reply. `default_decision` gives the default: petitions (信访) never
  (Hold.PETITION); a person who asked at submission that it not be published (Hold.NO_CONSENT); a case staff
  flagged private (Hold.PRIVATE); a kind not in settings.MINYI_PUBLISH_KINDS (Hold.KIND); otherwise published.
  The hard holds come first, so the hold shown is the one staff cannot lift.
- `refresh` (after every case change, minyi.disclosure.signals) keeps the copy in step with the case and applies
  the default once, when it first creates the Publication. After that only staff decide, with two exceptions
  that only ever take a case *off* the board: a case that later becomes private, a petition or opted out is held
  with that reason, and a copy that still holds a detectable ID, phone or card number is held (Hold.PII). A
  withdrawn publication is never re-published by refresh. A merged case's publication stays as it is; its
  `case_status` shows that it was merged.
- Staff (policies.require_publication) may `publish`, `unpublish` (with a reason) and `edit` the masked text.
  They may publish a kind that is not published by default, and a case flagged private (publishing clears the
  flag, through case_annotate). They may NOT publish a petition or a case whose person opted out: the person's
  wish and the regulation win over the staff's.
- Texts that staff have edited (`edited_by` set) are never overwritten by refresh; new replies are still added,
  masked by the engine.
- `check_masked` finds the ID, phone and card numbers still detectable in a text. `publish` and `edit` refuse
  (ValidationFailed naming what was found, masked) while any remain, or while the person's name appears; refresh
  holds instead of publishing. No path publishes such a text: the admin cannot edit publications.

Every state change and every edit appends a non-public CaseEvent through minyi.cases.services.case_annotate
("publish", "unpublish", "publication_edit", "publication_held"); automatic ones are the system's. Event data
holds states, reasons and the names of the fields edited, never the texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.cases import policies
from minyi.cases.models import Case, CaseContact, Reply
from minyi.cases.policies import Actor
from minyi.cases.services import case_annotate
from minyi.core.choices import Kind
from minyi.core.exceptions import Conflict, NotFound, ValidationFailed
from minyi.disclosure.models import Publication, PublishedReply
from minyi.disclosure.search import index_text
from minyi.intake.models import Triage, TriageState
from minyi.intake.triage import pii_label
from minyi.text import pii
from minyi.text.normalize import strip_invisible
from minyi.text.pii import BANK_CARD, ID_CARD, LANDLINE, MOBILE, Span, find_pii, mask_pii

State = Publication.State
Hold = Publication.Hold

#: What the masking check looks for: numbers that identify a person or reach them.
CHECKED_KINDS = (ID_CARD, MOBILE, LANDLINE, BANK_CARD)
MAX_TITLE_CHARS = Publication._meta.get_field("title").max_length
MAX_NOTE_CHARS = Publication._meta.get_field("note").max_length
#: Holds that staff cannot lift (the person's wish, the regulation).
HARD_HOLDS = frozenset({Hold.PETITION, Hold.NO_CONSENT})


# ---------------------------------------------------------------------------------------------- the decision


def _hard_hold(case: Case) -> str:
    """The hold that keeps the case off the board whatever staff decide, or ""."""
    if case.kind == Kind.PETITION:
        return Hold.PETITION
    if not case.publication_consent:
        return Hold.NO_CONSENT
    return ""


def _sent_replies(case: Case) -> list[Reply]:
    return list(Reply.objects.filter(case=case, state=Reply.State.SENT).order_by("sent_at", "id"))


def default_decision(case: Case, *, replied: bool | None = None) -> tuple[str, str]:
    """(state, hold_reason) for a case by default. (HELD, NONE) while it has no sent reply.

    `replied`: whether the case has a sent reply, when the caller knows it (saves a query).
    """
    if replied is None:
        replied = Reply.objects.filter(case=case, state=Reply.State.SENT).exists()
    if not replied:
        return State.HELD, Hold.NONE
    hard = _hard_hold(case)
    if hard:
        return State.HELD, hard
    if case.is_private:
        return State.HELD, Hold.PRIVATE
    if case.kind not in settings.MINYI_PUBLISH_KINDS:
        return State.HELD, Hold.KIND
    return State.PUBLISHED, Hold.NONE


def blocked_reason(case: Case) -> str:
    """Why staff may not publish this case at all (a message in the user's language), or ""."""
    hard = _hard_hold(case)
    if hard == Hold.PETITION:
        return _("信访事项依规定不予公开。")
    if hard == Hold.NO_CONSENT:
        return _("群众提交时要求不公开其诉求，不能公开。")
    return ""


# ---------------------------------------------------------------------------------------------- masking


def check_masked(*texts: str) -> list[Span]:
    """The ID, mobile, landline and bank card numbers still detectable in `texts` (each span indexes its text)."""
    spans: list[Span] = []
    for text in texts:
        spans.extend(find_pii(text or "", kinds=CHECKED_KINDS))
    return spans


def _mask_name(text: str, name: str) -> str:
    if len(name) < 2 or name not in text:
        return text
    return text.replace(name, name[0] + "*" * (len(name) - 1))


@dataclass
class _Masker:
    """Masks one case's texts: the text engine, what staff said in the triage review, and the person's name."""

    name: str = ""
    #: per field ("title", "content"): the spans a person reviewed in the triage ([kind, start, end], ...)
    reviewed: dict[str, list[list[Any]]] = field(default_factory=dict)

    @classmethod
    def for_case(cls, case: Case) -> _Masker:
        name = CaseContact.objects.filter(case_id=case.pk).values_list("name", flat=True).first() or ""
        row = Triage.objects.filter(case_id=case.pk).values_list("pii_spans", "pii_state").first()
        reviewed = {}
        if row is not None and row[1] == TriageState.CORRECTED and isinstance(row[0], dict):
            reviewed = {k: v for k, v in row[0].items() if isinstance(v, list)}
        return cls(name=strip_invisible(name).strip(), reviewed=reviewed)

    def mask(self, text: str, *, part: str = "") -> str:
        """The public form of `text` (an original; never altered): personal data masked, invisible characters
        removed. For the title and the content, a triage review's corrections count: phrases staff added are
        masked, and what staff dropped as misdetected is left, except ID, phone and card numbers, always masked.
        """
        text = text or ""
        spans = self.reviewed.get(part)
        if spans is None:
            masked = mask_pii(text)
        else:
            chars = list(text)
            allowed = set()
            for span in spans:
                if not (isinstance(span, list) and len(span) == 3):
                    continue
                kind, start, end = span
                if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                    continue
                allowed.add((kind, start, end))
                if kind == "staff":
                    chars[start:end] = "*" * (end - start)
            work = "".join(chars)
            found = [
                s for s in find_pii(work) if s.kind in CHECKED_KINDS or (s.kind, s.start, s.end) in allowed
            ]
            masked = mask_pii(work, spans=found)
            if found and check_masked(masked):  # pragma: no cover - mask_pii re-checks; belt and braces
                masked = mask_pii(masked)
        return _mask_name(strip_invisible(masked), self.name)


def _hint(span: Span) -> str:
    """A masked form of a found number, safe to show in a message."""
    hint = pii.mask_pii(span.text, kinds=(span.kind,))
    if hint == span.text or check_masked(hint):
        text = span.text.strip()
        hint = f"{text[:2]}{'*' * max(len(text) - 4, 1)}{text[-2:]}" if len(text) > 4 else "*" * len(text)
    return hint


def _problems(texts: dict[str, str], name: str) -> dict[str, list[str]]:
    """For each text (by field name) what would identify the person: "手机号 138****5678", ... (masked)."""
    found: dict[str, list[str]] = {}
    for key, text in texts.items():
        items = [f"{pii_label(span.kind)} {_hint(span)}" for span in check_masked(text)]
        if len(name) >= 2 and name in (text or ""):
            items.append(f"{pii_label('name')} {_mask_name(name, name)}")
        if items:
            found[key] = items
    return found


def _texts(pub: Publication, replies: list[PublishedReply]) -> dict[str, str]:
    return {
        "title": pub.title,
        "content": pub.content,
        **{f"reply-{r.reply_id}": r.text for r in replies},
    }


def _refuse(found: dict[str, list[str]]) -> None:
    if not found:
        return
    items = list(dict.fromkeys(item for values in found.values() for item in values))
    raise ValidationFailed(
        _("公开文本中仍有个人信息：%(items)s。请遮盖后再保存或公开。") % {"items": "、".join(items)},
        code="personal_data",
        fields={key: "、".join(values) for key, values in found.items()},
    )


def problems_for(publication: Publication) -> list[str]:
    """What in a stored publication would still identify the person (masked descriptions), for the staff panel."""
    name = (
        CaseContact.objects.filter(case_id=publication.case_id).values_list("name", flat=True).first() or ""
    )
    found = _problems(_texts(publication, list(publication.replies.all())), strip_invisible(name).strip())
    return list(dict.fromkeys(item for values in found.values() for item in values))


def preview(case: Case) -> dict[str, Any]:
    """What refresh would publish for `case` now (nothing is stored): masked title, content and sent replies,
    and the default decision."""
    replies = _sent_replies(case)
    masker = _Masker.for_case(case)
    state, hold = default_decision(case, replied=bool(replies))
    return {
        "title": masker.mask(case.title, part="title")[:MAX_TITLE_CHARS],
        "content": masker.mask(case.content, part="content"),
        "replies": {r.pk: masker.mask(r.text) for r in replies},
        "state": state,
        "hold_reason": hold,
    }


# ---------------------------------------------------------------------------------------------- keeping in step


@dataclass
class _Synced:
    publication: Publication
    replies: list[PublishedReply]
    created: bool
    #: the person's name, as masked in the texts (and refused in staff edits)
    name: str


def _sync(
    case: Case, pub: Publication | None, replies: list[Reply], *, decide: bool, now: datetime
) -> _Synced:
    """Bring the copy in step with the case and save it; the caller holds the locks (Case, then Publication).

    A new Publication starts held: with the default hold reason, or (decide=True) with the default decision
    applied and checked, which is then the caller's to record.
    """
    masker = _Masker.for_case(case)
    created = pub is None
    if pub is None:
        pub = Publication(case=case, state=State.HELD)
    wanted: dict[str, Any] = {
        "kind": case.kind,
        "category_id": case.category_id,
        "region_id": case.region_id,
        "department_id": case.department_id,
        "case_status": case.status,
        "received_at": case.created_at,
        "replied_at": case.replied_at or (replies[-1].sent_at if replies else None),
    }
    if created or pub.edited_by_id is None:
        wanted["title"] = masker.mask(case.title, part="title")[:MAX_TITLE_CHARS]
        wanted["content"] = masker.mask(case.content, part="content")
    fields = {name for name, value in wanted.items() if created or getattr(pub, name) != value}
    for name in fields:
        setattr(pub, name, wanted[name])
    if created or fields & {"title", "content"}:
        search = index_text(pub.title, pub.content)
        if created or search != pub.search_text:
            pub.search_text = search
            fields.add("search_text")

    existing = {} if created else {r.reply_id: r for r in pub.replies.all()}
    new = [
        PublishedReply(
            publication=pub,
            reply=reply,
            text=masker.mask(reply.text),
            department_id=reply.department_id,
            sent_at=reply.sent_at,
        )
        for reply in replies
        if reply.pk not in existing
    ]
    changed_replies = []
    for reply in replies:
        copy = existing.get(reply.pk)
        if copy is None:
            continue
        text = copy.text if pub.edited_by_id is not None else masker.mask(reply.text)
        if (copy.text, copy.department_id, copy.sent_at) != (text, reply.department_id, reply.sent_at):
            copy.text, copy.department_id, copy.sent_at = text, reply.department_id, reply.sent_at
            changed_replies.append(copy)
    all_replies = sorted([*existing.values(), *new], key=lambda r: (r.sent_at is None, r.sent_at, r.reply_id))

    if created:
        state, hold = default_decision(case, replied=bool(replies))
        if decide:
            if state == State.PUBLISHED and _problems(_texts(pub, all_replies), masker.name):
                state, hold = State.HELD, Hold.PII
            pub.state, pub.hold_reason = state, hold
            if state == State.PUBLISHED:
                pub.published_at = now
        else:
            pub.state, pub.hold_reason = State.HELD, hold if state == State.HELD else Hold.NONE
        pub.save(force_insert=True)
    elif fields:
        pub.save(update_fields=[*sorted(fields), "updated_at"])
    if new:
        PublishedReply.objects.bulk_create(new)
    for copy in changed_replies:
        copy.save(update_fields=["text", "department", "sent_at"])
    return _Synced(pub, all_replies, created, masker.name)


def _record(case: Case, actor: Actor, action: str, *, note: str, data: dict[str, Any], now, **kw) -> None:
    case_annotate(case_id=case.pk, actor=actor, action=action, note=note, data=data, now=now, **kw)


def refresh(*, case_id: int, now: datetime | None = None) -> Publication | None:
    """Create or update the case's publication after a change to the case. Idempotent: a second run with
    nothing new changes nothing and records nothing.

    Nothing happens while the case has no sent reply and no publication. On creation the default decision
    applies (recorded as a system "publish" or "publication_held" event); afterwards refresh only ever takes a
    case off the board (see the module docstring).
    """
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            return None
        pub = Publication.objects.select_for_update().filter(case_id=case_id).first()
        replies = _sent_replies(case)
        if pub is None and not replies:
            return None
        synced = _sync(case, pub, replies, decide=True, now=now)
        pub = synced.publication
        system = policies.SYSTEM_ACTOR
        if synced.created:
            if pub.state == State.PUBLISHED:
                _record(case, system, "publish", note="", data={"to": pub.state, "auto": True}, now=now)
            else:
                _record(
                    case,
                    system,
                    "publication_held",
                    note=str(Hold(pub.hold_reason).label) if pub.hold_reason else "",
                    data={"to": pub.state, "hold_reason": pub.hold_reason, "auto": True},
                    now=now,
                )
            return pub
        if pub.state != State.PUBLISHED:
            return pub
        hold = _hard_hold(case) or (Hold.PRIVATE if case.is_private else "")
        action = "unpublish"
        if not hold and _problems(_texts(pub, synced.replies), synced.name):
            hold, action = Hold.PII, "publication_held"
        if hold:
            pub.state, pub.hold_reason = State.HELD, hold
            pub.save(update_fields=["state", "hold_reason", "updated_at"])
            _record(
                case,
                system,
                action,
                note=str(Hold(hold).label),
                data={"from": State.PUBLISHED, "to": State.HELD, "hold_reason": hold, "auto": True},
                now=now,
            )
        return pub


# ---------------------------------------------------------------------------------------------- staff


def _note(note: str | None, *, required: bool) -> str:
    note = " ".join(strip_invisible(note or "").split()) if note else ""
    if required and not note:
        raise ValidationFailed(_("请填写原因。"), fields={"note": _("必填")})
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationFailed(
            _("原因不能超过 %(n)s 字。") % {"n": MAX_NOTE_CHARS}, fields={"note": _("过长")}
        )
    return note


def _clean_title(value: str) -> str:
    title = " ".join(strip_invisible(value or "").split())
    if not title:
        raise ValidationFailed(_("请填写公开标题。"), fields={"title": _("必填")})
    if len(title) > MAX_TITLE_CHARS:
        raise ValidationFailed(
            _("公开标题不能超过 %(n)s 字。") % {"n": MAX_TITLE_CHARS}, fields={"title": _("过长")}
        )
    return title


def _clean_body(value: str, key: str, label: str) -> str:
    text = strip_invisible(value or "").strip()
    if not text:
        raise ValidationFailed(_("请填写%(label)s。") % {"label": label}, fields={key: _("必填")})
    if len(text) > settings.MINYI_MAX_CONTENT_CHARS:
        raise ValidationFailed(
            _("%(label)s不能超过 %(n)s 字。") % {"label": label, "n": settings.MINYI_MAX_CONTENT_CHARS},
            fields={key: _("过长")},
        )
    return text


@dataclass
class _Staff:
    case: Case
    actor: Actor
    synced: _Synced

    @property
    def publication(self) -> Publication:
        return self.synced.publication


def _begin(case_id: int, actor: Actor | Any, now: datetime) -> _Staff:
    """Lock the case (then its publication), check the policy, bring the copy in step. Inside a transaction.

    NotFound (404) when the actor may not see the case, Forbidden (403) when their role may not change its
    publication, Conflict (409) when it has no sent reply yet.
    """
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("未找到该诉求。"))
    actor = policies.require_publication(actor, case)
    pub = Publication.objects.select_for_update().filter(case_id=case_id).first()
    replies = _sent_replies(case)
    if pub is None and not replies:
        raise Conflict(_("该诉求尚未答复，答复后方可公开。"), code="not_replied")
    # A publication that staff create by acting on it starts held: their decision is the one recorded.
    return _Staff(case, actor, _sync(case, pub, replies, decide=False, now=now))


def _apply_texts(
    staff: _Staff, *, title: str | None, content: str | None, replies: dict[int, str] | None
) -> tuple[list[str], list[PublishedReply]]:
    """Set the texts given (None: unchanged) on the publication in memory; (fields changed, replies changed).
    Raises ValidationFailed for a missing, oversized or unknown text."""
    pub = staff.publication
    changed: list[str] = []
    if title is not None:
        title = _clean_title(title)
        if title != pub.title:
            pub.title = title
            changed.append("title")
    if content is not None:
        content = _clean_body(content, "content", _("公开内容"))
        if content != pub.content:
            pub.content = content
            changed.append("content")
    by_reply = {r.reply_id: r for r in staff.synced.replies}
    changed_replies = []
    for key, text in (replies or {}).items():
        try:
            reply_id = int(key)
        except (TypeError, ValueError):
            reply_id = -1
        copy = by_reply.get(reply_id)
        if copy is None:
            raise ValidationFailed(_("没有这条答复。"), fields={f"reply-{key}"[:40]: _("不存在")})
        text = _clean_body(text, f"reply-{reply_id}", _("公开答复"))
        if text != copy.text:
            copy.text = text
            changed.append(f"reply:{reply_id}")
            changed_replies.append(copy)
    return changed, changed_replies


def _save_edit(
    staff: _Staff, changed: list[str], changed_replies: list[PublishedReply], now: datetime
) -> None:
    """Check every public text, then store the edit. Raises ValidationFailed, storing nothing, when a text would
    still identify the person."""
    pub = staff.publication
    _refuse(_problems(_texts(pub, staff.synced.replies), staff.synced.name))
    if not changed:
        return
    pub.edited_by = staff.actor.user
    pub.edited_at = now
    fields = {"edited_by", "edited_at"}
    if {"title", "content"} & set(changed):
        pub.search_text = index_text(pub.title, pub.content)
        fields |= {"title", "content", "search_text"}
    pub.save(update_fields=[*sorted(fields), "updated_at"])
    for copy in changed_replies:
        copy.save(update_fields=["text"])


def publish(
    *,
    case_id: int,
    actor: Actor | Any,
    note: str = "",
    title: str | None = None,
    content: str | None = None,
    replies: dict[int, str] | None = None,
    now: datetime | None = None,
) -> Publication:
    """Put the case on the public board, with the texts given (None: as they are). Clears a private flag.

    Raises NotFound / Forbidden (policy), Conflict (no sent reply; a petition or an opted-out case; already
    published), ValidationFailed (a text missing or too long, or still holding personal data). All or nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        staff = _begin(case_id, actor, now)
        case, pub = staff.case, staff.publication
        note = _note(note, required=False)
        blocked = blocked_reason(case)
        if blocked:
            raise Conflict(blocked, code=_hard_hold(case))
        if pub.state == State.PUBLISHED:
            raise Conflict(_("该诉求已公开。"), code="already_published")
        changed, changed_replies = _apply_texts(staff, title=title, content=content, replies=replies)
        _save_edit(staff, changed, changed_replies, now)
        old_state, old_hold = pub.state, pub.hold_reason
        pub.state, pub.hold_reason, pub.published_at, pub.note = State.PUBLISHED, Hold.NONE, now, note
        pub.save(update_fields=["state", "hold_reason", "published_at", "note", "updated_at"])
        _record(
            case,
            staff.actor,
            "publish",
            note=note,
            data={"from": old_state, "to": State.PUBLISHED, "hold_reason": old_hold, "edited": changed},
            now=now,
            changes={"is_private": False} if case.is_private else None,
        )
        return pub


def unpublish(*, case_id: int, actor: Actor | Any, note: str, now: datetime | None = None) -> Publication:
    """Take the case off the public board, with a reason (required). Refresh never puts it back.

    Raises NotFound / Forbidden (policy), ValidationFailed (no reason, or too long), Conflict (not published).
    """
    now = now or timezone.now()
    with transaction.atomic():
        staff = _begin(case_id, actor, now)
        pub = staff.publication
        note = _note(note, required=True)
        if pub.state != State.PUBLISHED:
            raise Conflict(_("该诉求当前未公开。"), code="not_published")
        pub.state, pub.hold_reason, pub.note = State.WITHDRAWN, Hold.STAFF, note
        pub.save(update_fields=["state", "hold_reason", "note", "updated_at"])
        _record(
            staff.case,
            staff.actor,
            "unpublish",
            note=note,
            data={"from": State.PUBLISHED, "to": State.WITHDRAWN, "hold_reason": Hold.STAFF},
            now=now,
        )
        return pub


def edit(
    *,
    case_id: int,
    actor: Actor | Any,
    title: str | None,
    content: str | None,
    replies: dict[int, str] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Publication:
    """Change the masked texts (None: unchanged); `replies` maps a sent reply's id to its public text. The
    state stays; a published case shows the new text at once. Refresh never overwrites an edited text.

    Raises NotFound / Forbidden (policy), Conflict (no sent reply), ValidationFailed (a text missing or too
    long, or still holding an ID, phone or card number or the person's name). Nothing changed: no event.
    """
    now = now or timezone.now()
    with transaction.atomic():
        staff = _begin(case_id, actor, now)
        note = _note(note, required=False)
        changed, changed_replies = _apply_texts(staff, title=title, content=content, replies=replies)
        _save_edit(staff, changed, changed_replies, now)
        if changed:
            _record(
                staff.case,
                staff.actor,
                "publication_edit",
                note=note,
                data={"fields": changed, "state": staff.publication.state},
                now=now,
            )
        return staff.publication


def publication_get(*, case: Case) -> Publication | None:
    return (
        Publication.objects.select_related("edited_by").prefetch_related("replies").filter(case=case).first()
    )


def refresh_pending(*, limit: int | None = None, now: datetime | None = None) -> int:
    """Refresh every case that has a sent reply but no Publication yet (cases replied before publication
    existed, or whose refresh after commit was lost). Returns how many were refreshed."""
    ids = (
        Case.objects.filter(replies__state=Reply.State.SENT, publication__isnull=True)
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    if limit is not None:
        ids = ids[:limit]
    count = 0
    for case_id in ids.iterator(chunk_size=500):
        refresh(case_id=case_id, now=now)
        count += 1
    return count
