"""Staff accept or correct what triage found, part by part. Every decision is a `triage_review` CaseEvent
(written by minyi.cases.services.case_annotate, which also checks the policy), in the same transaction as the
Triage row's update.

Parts and what a decision does:

- category: accept → the case takes the suggested category; correct → the case takes the category given.
  Either way the category counts as a person's (what `train-classifier --from-cases` learns from).
- region: the same, for the region (the place found stays on the triage as evidence).
- department: accept → the suggestion stands for the dispatcher; correct → the given department becomes the
  suggestion (source "staff"). Dispatching itself is the workflow's `assign`.
- pii: accept → the spans found are right; correct → drop some spans and/or add phrases to mask (every
  occurrence in the title and the content becomes a span of kind "staff").
- duplicates: accept → the candidates are right; correct → dismiss candidates and/or set or clear the repeat
  flag (重复件). Merging (并案) is the workflow's `merge`: `triage_merge`.
- risk: accept → the level stands; correct → another level, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.accounts.models import Department, Region
from minyi.cases import policies
from minyi.cases.models import Case
from minyi.cases.policies import Actor
from minyi.cases.services import MAX_NOTE_CHARS, case_annotate, case_transition
from minyi.cases.workflow import CaseAction
from minyi.core.exceptions import NotFound, ValidationFailed
from minyi.intake.models import DuplicateCandidate, Triage, TriageState
from minyi.routing.models import Category

ACCEPT, CORRECT = "accept", "correct"
DECISIONS = (ACCEPT, CORRECT)
#: Longest phrase staff may add to mask, and how many per decision.
MAX_MASK_PHRASE = 100
MAX_MASK_PHRASES = 20


@dataclass
class Correction:
    """What a `correct` decision says; which fields apply depends on the part."""

    category: int | None = None
    region: int | None = None
    department: int | None = None
    risk_level: str | None = None
    drop_spans: list[str] = field(default_factory=list)  # "field:index" of pii spans to drop
    add_phrases: list[str] = field(default_factory=list)
    dismiss: list[int] = field(default_factory=list)  # candidate case ids
    repeat: bool | None = None


def _active(model, pk: int | None, label: str):
    if pk is None:
        raise ValidationFailed(_("请选择%(label)s。") % {"label": label}, fields={"value": _("必填")})
    qs = model.objects.filter(is_active=True) if hasattr(model, "is_active") else model.objects.all()
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise ValidationFailed(_("%(label)s不存在。") % {"label": label}, fields={"value": _("无效")})
    return obj


def _locked_triage(case_id: int) -> Triage:
    triage = Triage.objects.select_for_update().filter(case_id=case_id).first()
    if triage is None:
        raise NotFound(_("该诉求尚未完成智能研判。"))
    return triage


def _phrase_spans(text: str, phrase: str) -> list[list[Any]]:
    spans, start = [], 0
    while phrase:
        at = text.find(phrase, start)
        if at < 0:
            break
        spans.append(["staff", at, at + len(phrase)])
        start = at + len(phrase)
    return spans


@transaction.atomic
def triage_review(
    *,
    case_id: int,
    actor: Actor,
    part: str,
    decision: str,
    correction: Correction | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Triage:
    """Accept or correct one part of a case's triage, as `actor`. Raises NotFound (404), Forbidden (403) or
    ValidationFailed (400); on any error nothing is written."""
    now = now or timezone.now()
    if decision not in DECISIONS:
        raise ValidationFailed(_("请选择“确认”或“更正”。"), fields={"decision": _("无效")})
    case = Case.objects.filter(pk=case_id).first()
    if case is None or not policies.can_view(actor, case):
        raise NotFound(_("未找到该诉求。"))
    policies.require_triage_review(actor, case, part)
    triage = _locked_triage(case_id)
    fix = correction or Correction()
    state = TriageState.ACCEPTED if decision == ACCEPT else TriageState.CORRECTED
    changes: dict[str, Any] = {}
    data: dict[str, Any] = {"decision": decision}
    fields: list[str] = []

    if part in ("category", "region"):
        # the case takes the suggestion (accept) or the one chosen (correct: the suggestion again counts as accepted)
        model, label, missing = {
            "category": (Category, _("分类"), _("没有可确认的建议分类，请选择正确的分类。")),
            "region": (Region, _("区域"), _("没有识别出区域，请选择正确的区域。")),
        }[part]
        suggested = getattr(triage, f"{part}_id")
        if decision == ACCEPT:
            if suggested is None:
                raise ValidationFailed(missing, fields={"value": _("必填")})
            chosen = suggested
        else:
            chosen = _active(model, getattr(fix, part), label).pk
            state = TriageState.ACCEPTED if chosen == suggested else state
        changes[f"{part}_id"] = chosen
        data["suggested"] = suggested
        setattr(triage, f"{part}_state", state)
        fields.append(f"{part}_state")
    elif part == "department":
        data["suggested"] = triage.department_id
        if decision == ACCEPT:
            if triage.department_id is None:
                raise ValidationFailed(_("没有建议部门，请选择承办部门。"), fields={"value": _("必填")})
        else:
            department = _active(Department, fix.department, _("承办部门"))
            if department.pk != triage.department_id:
                triage.department = department
                triage.department_source = Triage.DepartmentSource.STAFF
                fields += ["department", "department_source"]
            data["to"] = department.pk
        triage.department_state = state
        fields.append("department_state")
    elif part == "pii":
        if decision == CORRECT:
            spans = {key: list(value) for key, value in (triage.pii_spans or {}).items()}
            dropped = 0
            for ref in fix.drop_spans:
                name, _sep, index = str(ref).partition(":")
                if name in spans and index.isdigit() and int(index) < len(spans[name]):
                    spans[name][int(index)] = None
                    dropped += 1
            spans = {key: [s for s in value if s is not None] for key, value in spans.items()}
            phrases = [p.strip() for p in fix.add_phrases if p and p.strip()]
            if len(phrases) > MAX_MASK_PHRASES or any(len(p) > MAX_MASK_PHRASE for p in phrases):
                raise ValidationFailed(
                    _("最多添加 %(n)s 处，每处不超过 %(m)s 字。")
                    % {"n": MAX_MASK_PHRASES, "m": MAX_MASK_PHRASE},
                    fields={"add_phrases": _("过长")},
                )
            added = 0
            for phrase in phrases:
                for name, text in (("title", case.title), ("content", case.content)):
                    found = _phrase_spans(text, phrase)
                    spans.setdefault(name, []).extend(found)
                    added += len(found)
            if not dropped and not added:
                raise ValidationFailed(
                    _("请勾选误识别的内容，或填写需要遮盖的原文（须与诉求中的文字一致）。"),
                    fields={"add_phrases": _("未找到")},
                )
            for value in spans.values():
                value.sort(key=lambda s: (s[1], s[2]))
            triage.pii_spans = spans
            fields.append("pii_spans")
            data.update({"dropped": dropped, "added": added})  # counts only: never the personal data itself
        triage.pii_state = state
        fields.append("pii_state")
    elif part == "duplicates":
        if decision == CORRECT:
            dismissed = DuplicateCandidate.objects.filter(
                case_id=case_id, candidate_id__in=fix.dismiss
            ).update(state=DuplicateCandidate.State.DISMISSED)
            data["dismissed"] = sorted(set(fix.dismiss))[:MAX_MASK_PHRASES] if dismissed else []
            if fix.repeat is not None:
                changes["is_repeat"] = fix.repeat
                if fix.repeat:
                    same = (
                        DuplicateCandidate.objects.filter(case_id=case_id)
                        .exclude(state=DuplicateCandidate.State.DISMISSED)
                        .order_by("candidate_id")
                        .first()
                    )
                    if same is None:
                        raise ValidationFailed(
                            _("没有可作为原件的疑似重复诉求，不能标记为重复件。"),
                            fields={"repeat": _("无效")},
                        )
                    changes["duplicate_of_id"] = case.duplicate_of_id or same.candidate_id
                else:
                    changes["duplicate_of_id"] = None
            elif not dismissed:
                raise ValidationFailed(
                    _("请选择要排除的疑似重复诉求，或修改重复件标记。"), fields={"dismiss": _("必填")}
                )
        triage.duplicates_state = state
        fields.append("duplicates_state")
    elif part == "risk":
        data["suggested"] = triage.risk_level
        if decision == CORRECT:
            level = fix.risk_level or ""
            if level not in Triage.RiskLevel.values:
                raise ValidationFailed(_("请选择风险等级。"), fields={"risk_level": _("无效")})
            if not note.strip():
                raise ValidationFailed(_("更正风险等级时请说明理由。"), fields={"note": _("必填")})
            triage.risk_level = level
            fields.append("risk_level")
            data["to"] = level
        triage.risk_state = state
        fields.append("risk_state")
    else:
        raise NotFound(_("未找到该研判项。"))

    if len(note) > MAX_NOTE_CHARS:
        raise ValidationFailed(_("说明过长。"), fields={"note": _("过长")})
    case_annotate(
        case_id=case_id,
        actor=actor,
        action="triage_review",
        part=part,
        changes=changes,
        data=data,
        note=note,
        now=now,
    )
    triage.save(update_fields=sorted(set(fields)))
    return triage


@transaction.atomic
def triage_merge(
    *, case_id: int, candidate_id: int, actor: Actor, note: str = "", now: datetime | None = None
) -> Case:
    """Merge the case into one of its duplicate candidates (并案): the workflow's `merge`, and the candidate
    marked merged. The person behind the case is told, and follows the main case from then on."""
    candidate = (
        DuplicateCandidate.objects.select_for_update()
        .filter(case_id=case_id, candidate_id=candidate_id)
        .first()
    )
    case = case_transition(
        case_id=case_id,
        action=CaseAction.MERGE,
        actor=actor,
        note=note,
        data={"into": candidate_id},
        now=now,
    )
    if candidate is not None:
        candidate.state = DuplicateCandidate.State.MERGED
        candidate.save(update_fields=["state"])
    Triage.objects.filter(case_id=case_id).update(duplicates_state=TriageState.ACCEPTED)
    return case
