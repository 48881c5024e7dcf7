"""Triage on arrival: what minyi understands of an appeal before a person reads it.

Every new case, from any channel, is triaged by a background task (`triage_case`, enqueued by intake after the
submission commits; inline by default). A bulk import triages its rows in batches through the same two steps:

1. `analyse` — the text alone: normalised text and tokens (minyi.text), the category from the active classifier
   (or "needs a person" when it abstains or no model is active), the place from the gazetteer, the personal-data
   spans of title and content (kept for masking; offsets only, never the values), and the risk with its reasons.
2. `record` — against the database: duplicate candidates from the shared duplicate index (and whether one of them
   comes from the same person: then the case is a repeat, 重复件), the department suggested by the routing rules or,
   failing those, by history; then the Triage row, the candidates, and for a live case the fields it fills
   (category and region when the case has none, the repeat flag) with a `triage` CaseEvent.

Staff accept or correct every part afterwards (`triage_review`), each a `triage_review` CaseEvent.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.accounts.models import Role, User
from minyi.cases import policies, workflow
from minyi.cases.models import Case, CaseContact
from minyi.cases.services import case_annotate
from minyi.core.bulk import bulk_insert
from minyi.core.notify import notify_users
from minyi.intake.models import DuplicateCandidate, Triage, TriageState
from minyi.routing import services as routing
from minyi.routing.models import Category, RoutingHistory
from minyi.text.dedupe import DuplicateIndex
from minyi.text.normalize import normalize
from minyi.text.pii import find_pii
from minyi.text.risk import Risk, assess_many
from minyi.text.segment import default_segmenter, segment_many

logger = logging.getLogger(__name__)

#: Most duplicate candidates kept per case (best first).
MAX_CANDIDATES = 10
#: Risk levels that alert the supervisors when a live case arrives.
ALERT_LEVELS = frozenset({Triage.RiskLevel.HIGH})

RISK_LABELS = {
    "group": gettext_lazy("涉及人数众多"),
    "self_harm": gettext_lazy("有自伤自杀倾向"),
    "threat": gettext_lazy("扬言报复或伤害他人"),
    "gathering": gettext_lazy("聚集、静坐、拉横幅等"),
    "road_block": gettext_lazy("堵路拦车"),
    "escalation": gettext_lazy("越级上访或诉诸媒体"),
    "repeated": gettext_lazy("多次反映未解决"),
    "wage_festival": gettext_lazy("春节前后讨薪"),
    "wages": gettext_lazy("拖欠工资"),
}
PII_LABELS = {
    "mobile": gettext_lazy("手机号"),
    "landline": gettext_lazy("固定电话"),
    "id_card": gettext_lazy("身份证号"),
    "bank_card": gettext_lazy("银行卡号"),
    "email": gettext_lazy("电子邮箱"),
    "plate": gettext_lazy("车牌号"),
    "name": gettext_lazy("姓名"),
    "address": gettext_lazy("详细地址"),
    "staff": gettext_lazy("人工标记"),
}


def risk_label(code: str) -> str:
    return str(RISK_LABELS.get(code, code))


def pii_label(kind: str) -> str:
    return str(PII_LABELS.get(kind, kind))


# ---------------------------------------------------------------------------------------------- step 1: the text


@dataclass
class Analysis:
    """What the text of one appeal says, before the database is asked anything about other cases."""

    normalized: str
    tokens: list[str]
    category_id: int | None = None
    confidence: float | None = None
    abstained: bool = True
    top: list[list[Any]] = field(default_factory=list)
    classifier_id: int | None = None
    region_id: int | None = None
    place_id: int | None = None
    place_matches: list[dict[str, Any]] = field(default_factory=list)
    pii: dict[str, list[list[Any]]] = field(default_factory=dict)
    risk: Risk | None = None
    seconds: float = 0.0


def case_text(title: str, content: str) -> str:
    """The text triage reads: the title, then the content."""
    return f"{title or ''}\n{content or ''}".strip()


def _pii_spans(text: str) -> list[list[Any]]:
    return [[span.kind, span.start, span.end] for span in find_pii(text or "")]


def _classify(
    tokens: list[list[str]],
) -> tuple[int | None, list[tuple[str | None, float | None, bool, list]]]:
    """(classifier version id, [(category code or None, confidence, abstained, top-3)]) for each document."""
    from minyi.intake.learning import active_classifier

    loaded = active_classifier()
    if loaded is None:
        return None, [(None, None, True, []) for _ in tokens]
    version_id, model = loaded
    out = []
    for top in model.top_k(tokens, 3):
        if not top:
            out.append((None, None, True, []))
            continue
        best, confidence = top[0]
        abstained = confidence < model.threshold
        out.append((best, confidence, abstained, [[code, round(p, 4)] for code, p in top]))
    return version_id, out


_taught: list = []  # the gazetteer whose names the segmenter knows (held, so it is never mistaken for another)
_taught_lock = threading.Lock()


def _gazetteer():
    """The gazetteer, with its names taught to the segmenter once per build (so that an estate's name stays one
    token: 阳光花园, not 阳光 / 花园)."""
    gazetteer = routing.gazetteer()
    if not _taught or _taught[0] is not gazetteer:
        with _taught_lock:
            if not _taught or _taught[0] is not gazetteer:
                # full names and explicit aliases only: automatic stems (江北 of 江北区) would split other words
                names = {
                    normalize(name)
                    for place in gazetteer.places
                    for name in (place.name, *place.aliases)
                    if len(name) >= 3
                }
                default_segmenter().add_words(sorted(names))
                _taught[:] = [gazetteer]
    return gazetteer


def analyse(items: Sequence[tuple[str, str, datetime | None]]) -> list[Analysis]:
    """Analyse (title, content, when) texts in one batch: normalise, segment, classify, locate, find personal
    data, judge risk. Reads the active classifier, the categories and the gazetteer; writes nothing."""
    if not items:
        return []
    started = time.perf_counter()
    gazetteer = _gazetteer()
    normalized = [normalize(case_text(title, content)) for title, content, _when in items]
    tokens = segment_many(normalized)
    classifier_id, predictions = _classify(tokens)
    codes = {code for code, *_rest in predictions if code}
    for _code, _conf, _abst, top in predictions:
        codes.update(c for c, _p in top)
    category_ids = dict(Category.objects.filter(code__in=codes, is_active=True).values_list("code", "pk"))
    locations = gazetteer.locate_many(normalized)
    risks = assess_many(normalized, when=[when for _t, _c, when in items])
    out = []
    for i, (title, content, _when) in enumerate(items):
        code, confidence, abstained, top = predictions[i]
        region_id, place_id = routing.place_ids(locations[i])
        category_id = category_ids.get(code) if code else None
        out.append(
            Analysis(
                normalized=normalized[i],
                tokens=tokens[i],
                category_id=category_id,
                confidence=confidence,
                abstained=abstained or category_id is None,
                top=[[c, p, category_ids.get(c)] for c, p in top],
                classifier_id=classifier_id,
                region_id=region_id,
                place_id=place_id,
                place_matches=[
                    {"start": m.start, "end": m.end, "text": m.text, "id": str(m.place_id), "kind": m.kind}
                    for m in locations[i].matches
                ],
                pii={"title": _pii_spans(title), "content": _pii_spans(content)},
                risk=risks[i],
            )
        )
    per_item = (time.perf_counter() - started) / len(items)
    for analysis in out:
        analysis.seconds = per_item
    return out


# ---------------------------------------------------------------------------------------------- step 2: the database

_NOT_DIGIT = re.compile(r"\D+")


def contact_keys(
    *,
    phone: str = "",
    email: str = "",
    id_number: str = "",
    external_user: str = "",
    user_id: int | None = None,
) -> set[str]:
    """Identifiers of a person, normalised, to tell whether two cases come from the same contact."""
    keys = set()
    digits = _NOT_DIGIT.sub("", phone or "")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) >= 7:
        keys.add(f"tel:{digits}")
    if email and "@" in email:
        keys.add(f"mail:{email.strip().lower()}")
    if id_number and len(id_number.strip()) >= 8:
        keys.add(f"id:{id_number.strip().upper()}")
    if external_user and external_user.strip():
        keys.add(f"ext:{external_user.strip()}")
    if user_id:
        keys.add(f"user:{user_id}")
    return keys


def _contacts_of(case_ids: set[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {i: set() for i in case_ids}
    if not case_ids:
        return out
    for row in CaseContact.objects.filter(case_id__in=case_ids).values(
        "case_id", "phone", "email", "id_number", "external_user"
    ):
        out[row.pop("case_id")] |= contact_keys(**row)
    for case_id, user_id in Case.objects.filter(pk__in=case_ids, submitted_by__isnull=False).values_list(
        "pk", "submitted_by_id"
    ):
        out[case_id].add(f"user:{user_id}")
    return out


@dataclass
class Recorded:
    """What `record` decided for one case: its Triage row, and the fields triage fills on the case."""

    triage: Triage
    candidates: list[DuplicateCandidate]
    changes: dict[str, Any]


@dataclass
class CaseFacts:
    """What triage needs to know of a case besides its text."""

    case_id: int
    category_id: int | None = None
    region_id: int | None = None
    department_id: int | None = None
    logged_by_staff: bool = False
    historical: dict[str, bool] = field(default_factory=dict)  # part -> the history gave it (imports)
    contact_keys: frozenset[str] | None = None  # contact_keys() of the case when the caller knows them


def _no_stage(_name: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


def record(
    facts: Sequence[CaseFacts],
    analyses: Sequence[Analysis],
    *,
    now: datetime | None = None,
    stage: Callable[[str], contextlib.AbstractContextManager] = _no_stage,
    index: DuplicateIndex | None = None,
    known_contacts: dict[int, frozenset[str] | set[str]] | None = None,
) -> list[Recorded]:
    """Find duplicates and repeats, suggest departments, and write the Triage and DuplicateCandidate rows of a
    batch of cases (which must exist). Returns what to change on each case; applying it is the caller's step.
    Must run inside the caller's transaction; a constant number of queries per batch, plus the rule lookups of
    each distinct (category, region) pair. `known_contacts` (a bulk import's memory of the cases it has seen:
    case id -> contact keys) is read and extended, so that only cases it does not know are looked up."""
    from minyi.intake.dedupe_storage import case_index

    now = now or timezone.now()
    ids = [f.case_id for f in facts]
    index = index if index is not None else case_index()
    with stage("dedupe-add"):
        index.add_many(
            [(f.case_id, a.normalized) for f, a in zip(facts, analyses, strict=True)], normalized=True
        )
    with stage("dedupe-query"):
        found = index.query_many([a.normalized for a in analyses], normalized=True, exclude=ids)
    found = [
        [(cid, sim) for cid, sim in hits if cid < case_id][:MAX_CANDIDATES]
        for case_id, hits in zip(ids, found, strict=True)
    ]
    with stage("contacts"):
        contacts = dict(known_contacts) if known_contacts is not None else {}
        for f in facts:
            if f.contact_keys is not None:
                contacts[f.case_id] = f.contact_keys
        # only cases with a contact can have a repeat: ask the database for their candidates' contacts
        wanted = {f.case_id for f in facts if f.contact_keys is None}
        for f, hits in zip(facts, found, strict=True):
            if f.contact_keys is None or f.contact_keys:
                wanted.update(cid for cid, _sim in hits)
        wanted -= contacts.keys()
        contacts.update(_contacts_of(wanted))
        if known_contacts is not None:
            known_contacts.update({i: contacts[i] for i in wanted | {f.case_id for f in facts}})
    suggestions: dict[tuple[int | None, int | None], routing.DepartmentSuggestion] = {}
    out = []
    for f, a, hits in zip(facts, analyses, found, strict=True):
        mine = contacts.get(f.case_id, set())
        candidates = [
            DuplicateCandidate(
                case_id=f.case_id,
                candidate_id=cid,
                similarity=round(sim, 4),
                same_contact=bool(mine and mine & contacts.get(cid, set())),
            )
            for cid, sim in hits
        ]
        same = [c for c in candidates if c.same_contact]
        category_id = f.category_id or (None if a.abstained else a.category_id)
        region_id = f.region_id or a.region_id
        key = (category_id, region_id)
        if key not in suggestions:
            suggestions[key] = routing.suggest_department(category_id=category_id, region_id=region_id)
        suggestion = suggestions[key]
        historical = f.historical
        triage = Triage(
            case_id=f.case_id,
            normalized_text=a.normalized,
            tokens=" ".join(a.tokens),
            category_id=a.category_id,
            category_confidence=a.confidence,
            category_top=a.top,
            classifier_id=a.classifier_id,
            category_state=_category_state(f, a),
            region_id=a.region_id,
            place_id=a.place_id,
            place_matches=a.place_matches,
            region_state=TriageState.HISTORICAL
            if historical.get("region")
            else (TriageState.STAFF if f.region_id and f.logged_by_staff else TriageState.SUGGESTED),
            department_id=suggestion.department_id,
            department_source=suggestion.source,
            department_state=TriageState.HISTORICAL
            if historical.get("department")
            else (TriageState.SUGGESTED if suggestion.department_id else TriageState.NEEDS_PERSON),
            pii_spans=a.pii,
            pii_state=TriageState.SUGGESTED if any(a.pii.values()) else TriageState.NONE,
            duplicates_count=len(candidates),
            duplicates_state=TriageState.SUGGESTED if candidates else TriageState.NONE,
            risk_score=a.risk.score if a.risk else 0,
            risk_level=a.risk.level if a.risk else Triage.RiskLevel.NONE,
            risk_reasons=[
                {"code": r.code, "evidence": r.evidence[:60], "weight": r.weight}
                for r in (a.risk.reasons if a.risk else ())
            ],
            risk_state=TriageState.SUGGESTED
            if a.risk and a.risk.level != Triage.RiskLevel.NONE
            else TriageState.NONE,
            triaged_at=now,
            elapsed_ms=round(a.seconds * 1000, 3),
        )
        changes: dict[str, Any] = {}
        if not historical.get("category") and f.category_id is None and not a.abstained and a.category_id:
            changes["category_id"] = a.category_id
        if not historical.get("region") and f.region_id is None and a.region_id:
            changes["region_id"] = a.region_id
        if same:
            first = min(same, key=lambda c: c.candidate_id)
            changes["is_repeat"] = True
            changes["duplicate_of_id"] = first.candidate_id
        out.append(Recorded(triage=triage, candidates=candidates, changes=changes))
    # a repeat points at the first case of its chain: the root of the earlier case, if that was a repeat too
    firsts = {r.changes["duplicate_of_id"] for r in out if "duplicate_of_id" in r.changes}
    roots = dict(
        Case.objects.filter(pk__in=firsts, duplicate_of__isnull=False).values_list("pk", "duplicate_of_id")
    ) if firsts else {}  # fmt: skip
    for r in out:
        if r.changes.get("duplicate_of_id") in roots:
            r.changes["duplicate_of_id"] = roots[r.changes["duplicate_of_id"]]
    with stage("triage-rows"):
        Triage.objects.filter(case_id__in=ids).delete()
        bulk_insert([r.triage for r in out])
    DuplicateCandidate.objects.filter(case_id__in=ids).delete()
    DuplicateCandidate.objects.bulk_create(
        [c for r in out for c in r.candidates], batch_size=1000, ignore_conflicts=True
    )
    return out


def _category_state(f: CaseFacts, a: Analysis) -> str:
    if f.historical.get("category"):
        return TriageState.HISTORICAL
    if f.category_id and f.logged_by_staff:
        return TriageState.STAFF
    if a.abstained:
        return TriageState.NEEDS_PERSON
    return TriageState.SUGGESTED


# ---------------------------------------------------------------------------------------------- live cases


def _facts(case: Case) -> CaseFacts:
    return CaseFacts(
        case_id=case.pk,
        category_id=case.category_id,
        region_id=case.region_id,
        department_id=case.department_id,
        logged_by_staff=case.logged_by_id is not None,
    )


def _summary(triage: Triage) -> dict[str, Any]:
    return {
        "category": triage.category_id,
        "confidence": triage.category_confidence,
        "needs_person": triage.category_state == TriageState.NEEDS_PERSON,
        "region": triage.region_id,
        "place": triage.place_id,
        "department": triage.department_id,
        "department_source": triage.department_source,
        "pii": sum(len(v) for v in triage.pii_spans.values()),
        "duplicates": triage.duplicates_count,
        "risk_score": triage.risk_score,
        "risk_level": triage.risk_level,
        "risk_reasons": [r["code"] for r in triage.risk_reasons],
        "classifier": triage.classifier_id,
    }


def _alert(case: Case, triage: Triage) -> None:
    reasons = "、".join(risk_label(r["code"]) for r in triage.risk_reasons)
    supervisors = User.objects.filter(is_active=True, memberships__role=Role.SUPERVISOR).distinct()
    notify_users(
        users=list(supervisors),
        subject=_("高风险诉求 %(no)s：%(title)s") % {"no": case.tracking_number, "title": case.title[:40]},
        body=_("风险分 %(score)s。依据：%(reasons)s") % {"score": triage.risk_score, "reasons": reasons},
        case_id=case.pk,
        topic="risk",
    )


def triage_case(*, case_id: int, force: bool = False, now: datetime | None = None) -> Triage | None:
    """Triage one case (the background task). Idempotent: a case already triaged is left alone unless `force`.

    Returns the Triage, or None when the case does not exist (deleted meanwhile) or was triaged already.
    """
    now = now or timezone.now()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            return None
        if not force and Triage.objects.filter(case_id=case_id).exists():
            return None
        analysis = analyse([(case.title, case.content, timezone.localtime(case.created_at))])[0]
        done = record([_facts(case)], [analysis], now=now)[0]
        case_annotate(
            case_id=case.pk,
            actor=policies.SYSTEM_ACTOR,
            action="triage",
            changes=done.changes,
            data=_summary(done.triage),
            now=now,
        )
        if done.triage.risk_level in ALERT_LEVELS and case.status not in workflow.FINAL_STATES:
            transaction.on_commit(lambda: _alert(case, done.triage), robust=True)
    return done.triage


def triage_pending(*, limit: int = 500, now: datetime | None = None) -> int:
    """Triage cases that have no triage yet (a task lost with a worker, a broker outage), oldest first.
    Idempotent; the periodic sweep behind the on-arrival task. Returns how many were triaged."""
    ids = list(
        Case.objects.filter(triage__isnull=True)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    count = 0
    for case_id in ids:
        try:
            if triage_case(case_id=case_id, now=now) is not None:
                count += 1
        except Exception:  # one bad case must not stop the sweep; it is logged and retried next time
            logger.exception("triage of case %s failed", case_id)
    return count


def enqueue_triage(case_id: int) -> None:
    """Triage the case in the background once the surrounding transaction commits (inline without a broker)."""
    from minyi.core.tasks import enqueue

    enqueue("minyi.intake.triage.triage_case", case_id=case_id)


def routing_history_refresh(*, now: datetime | None = None) -> int:
    """Rebuild RoutingHistory (the department fallback) from the cases that reached a department. Idempotent."""
    now = now or timezone.now()
    base = Case.objects.filter(department__isnull=False, category__isnull=False)
    rows = [
        RoutingHistory(category_id=r["category_id"], region_id=r["region_id"], department_id=r["department_id"],
                       cases=r["n"], updated_at=now)
        for r in base.filter(region__isnull=False).values("category_id", "region_id", "department_id").annotate(n=Count("id"))
    ]  # fmt: skip
    rows += [
        RoutingHistory(
            category_id=r["category_id"], region_id=None, department_id=r["department_id"], cases=r["n"], updated_at=now
        )
        for r in base.values("category_id", "department_id").annotate(n=Count("id"))
    ]  # fmt: skip
    with transaction.atomic():
        RoutingHistory.objects.all().delete()
        RoutingHistory.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


# ---------------------------------------------------------------------------------------------- reading


def triage_get(*, case: Case) -> Triage | None:
    return (
        Triage.objects.select_related("category", "region", "place", "department", "classifier")
        .defer("classifier__model_file")
        .filter(case=case)
        .first()
    )


def duplicate_rows(*, case: Case, actor) -> list[dict[str, Any]]:
    """The duplicate candidates of `case` that `actor` may see, with what the dispatcher needs to decide."""
    visible = policies.visible_cases(actor)
    candidates = list(DuplicateCandidate.objects.filter(case=case).order_by("-similarity", "candidate_id"))
    cases = {
        c.pk: c
        for c in visible.filter(pk__in=[d.candidate_id for d in candidates]).select_related(
            "department", "category"
        )
    }
    return [{"candidate": d, "case": cases[d.candidate_id]} for d in candidates if d.candidate_id in cases]


__all__ = [
    "Analysis",
    "CaseFacts",
    "analyse",
    "case_text",
    "contact_keys",
    "enqueue_triage",
    "record",
    "routing_history_refresh",
    "triage_case",
    "triage_get",
    "triage_pending",
]
