"""Reply quality (答复质量): store each sent reply's score, score drafts, and sum them up per department.

- `score_reply(reply)` scores a reply with minyi.text.quality.assess_reply (the case's title and content, received at
  the case's creation, replied when the reply was sent, due at the case's handling deadline) and stores or updates
  its `ReplyQuality` row (department: the reply's, else the case's). Called by the receiver when a reply is sent
  (minyi.barometer.receivers), by `backfill()` for replies sent without a score (history imports, replies sent while
  the receiver was off), and by the panel for a sent reply without a row.
- `score_draft(case, text)` scores a text that is not sent yet (the reply form's draft, a pending reply), as if sent
  now; nothing is stored.
- `department_quality(scope, start, end)` sums the rows of the replies sent on the local days from `start` to `end`
  per department in the scope: count, mean score, the share below `LOW_SCORE` (60), each part's mean and the most
  common bad reasons. Two queries (a grouped aggregate and one pass over the reasons), whatever the number of
  departments.
- `reason_label(reason)` is the Chinese label of a reason (a `Reason` or its stored dict), through gettext, for
  every code in minyi.text.quality.REASON_CODES; `part_label(key)` names a part.

The rules and weights are documented in minyi.text.quality (shown on the quality page too).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.accounts.models import Department
from minyi.barometer.models import ReplyQuality
from minyi.barometer.policies import Scope
from minyi.cases.models import Case, Reply
from minyi.text import quality as text_quality
from minyi.text.quality import PARTS, QUALITY_VERSION, REASON_CODES, WEIGHTS, Quality, assess_reply

logger = logging.getLogger(__name__)

#: A reply scoring below this counts as weak (the share shown per department).
LOW_SCORE = 60
#: Bad reasons listed per department.
TOP_REASONS = 3
#: Replies scored per batch by backfill().
BATCH = 200

PART_LABELS: dict[str, Any] = {
    "relevance": gettext_lazy("相关性"),
    "completeness": gettext_lazy("完整性"),
    "legal_basis": gettext_lazy("法律政策依据"),
    "timeliness": gettext_lazy("及时性"),
    "tone": gettext_lazy("语气态度"),
}

SEVERITY_LABELS: dict[str, Any] = {
    "bad": gettext_lazy("问题"),
    "warn": gettext_lazy("提示"),
    "good": gettext_lazy("做得好"),
}

# Labels with %(name)s placeholders for the params; lists are joined with 、 before formatting.
_LABELS: dict[str, Any] = {
    "empty_reply": gettext_lazy("答复内容为空"),
    "appeal_empty": gettext_lazy("诉求内容为空，无法判断答复是否切题"),
    "off_topic": gettext_lazy("答复与诉求内容基本无关（相关度 %(relevance)s）"),
    "weak_relevance": gettext_lazy("答复与诉求内容关联不紧（相关度 %(relevance)s）"),
    "on_topic": gettext_lazy("答复紧扣诉求内容（相关度 %(relevance)s）"),
    "key_terms_missing": gettext_lazy("未提及诉求要点：%(terms)s"),
    "places_missing": gettext_lazy("未提及诉求涉及的地点：%(places)s"),
    "places_named": gettext_lazy("提及了诉求涉及的地点：%(places)s"),
    "question_unanswered": gettext_lazy("未回应群众的提问：“%(question)s”"),
    "question_partly": gettext_lazy("只部分回应了提问：“%(question)s”（未提及：%(missing)s）"),
    "questions_more": gettext_lazy("另有 %(count)s 个提问未完整回应"),
    "questions_answered": gettext_lazy("回应了群众的提问（%(answered)s/%(total)s）"),
    "no_action": gettext_lazy("未说明采取了哪些办理措施"),
    "action_unclear": gettext_lazy("办理措施表述不明确（%(cues)s），未说明已经或将要做什么"),
    "action_stated": gettext_lazy("说明了办理措施：%(cues)s"),
    "no_body": gettext_lazy("未说明由哪个单位办理"),
    "body_named": gettext_lazy("说明了办理单位：%(bodies)s"),
    "no_time": gettext_lazy("未说明办理时间或完成期限"),
    "time_vague": gettext_lazy("办理期限表述笼统（“%(cue)s”）"),
    "time_given": gettext_lazy("给出了办理时间：%(when)s"),
    "refusal_without_basis": gettext_lazy("不予支持（“%(cue)s”）但未说明法律政策依据"),
    "basis_vague": gettext_lazy("不予支持（“%(cue)s”）的依据表述笼统（“%(basis)s”），未写明具体法规或条款"),
    "basis_cited": gettext_lazy("不予支持时说明了依据：%(basis)s"),
    "replied_on_time": gettext_lazy("在办理时限内答复"),
    "replied_late": gettext_lazy("超过办理时限 %(days_late)s 天答复"),
    "replied_within": gettext_lazy("%(days)s 天内答复"),
    "replied_slow": gettext_lazy("答复用时 %(days)s 天，偏慢"),
    "replied_very_slow": gettext_lazy("答复用时 %(days)s 天，严重滞后"),
    "courteous": gettext_lazy("用语礼貌（%(cues)s）"),
    "no_courtesy": gettext_lazy("缺少礼貌用语（如“您好”“感谢您的来信”）"),
    "curt": gettext_lazy("有生硬、推诿或指责的措辞：%(phrases)s"),
    "too_short": gettext_lazy("答复过于简短（仅 %(chars)s 个汉字）"),
}


# Short titles (no params), for tables that count codes.
_TITLES: dict[str, Any] = {
    "empty_reply": gettext_lazy("答复为空"),
    "appeal_empty": gettext_lazy("诉求为空"),
    "off_topic": gettext_lazy("答非所问"),
    "weak_relevance": gettext_lazy("关联不紧"),
    "on_topic": gettext_lazy("紧扣诉求"),
    "key_terms_missing": gettext_lazy("未提及诉求要点"),
    "places_missing": gettext_lazy("未提及涉及地点"),
    "places_named": gettext_lazy("提及涉及地点"),
    "question_unanswered": gettext_lazy("提问未回应"),
    "question_partly": gettext_lazy("提问部分回应"),
    "questions_more": gettext_lazy("多个提问未完整回应"),
    "questions_answered": gettext_lazy("回应了提问"),
    "no_action": gettext_lazy("未说明办理措施"),
    "action_unclear": gettext_lazy("办理措施不明确"),
    "action_stated": gettext_lazy("说明了办理措施"),
    "no_body": gettext_lazy("未说明办理单位"),
    "body_named": gettext_lazy("说明了办理单位"),
    "no_time": gettext_lazy("未说明办理时间"),
    "time_vague": gettext_lazy("办理期限笼统"),
    "time_given": gettext_lazy("给出了办理时间"),
    "refusal_without_basis": gettext_lazy("不予支持未说明依据"),
    "basis_vague": gettext_lazy("依据表述笼统"),
    "basis_cited": gettext_lazy("说明了依据"),
    "replied_on_time": gettext_lazy("按时答复"),
    "replied_late": gettext_lazy("超期答复"),
    "replied_within": gettext_lazy("答复及时"),
    "replied_slow": gettext_lazy("答复偏慢"),
    "replied_very_slow": gettext_lazy("答复严重滞后"),
    "courteous": gettext_lazy("用语礼貌"),
    "no_courtesy": gettext_lazy("缺少礼貌用语"),
    "curt": gettext_lazy("措辞生硬推诿"),
    "too_short": gettext_lazy("答复过于简短"),
}


# ============================================================================================ labels


def reason_title(code: str) -> str:
    """The short title of a reason code (no params)."""
    title = _TITLES.get(code)
    return str(title) if title is not None else _("其他（%(code)s）") % {"code": str(code)[:40] or "?"}


def _as_dict(reason: Any) -> dict[str, Any]:
    if isinstance(reason, text_quality.Reason):
        return reason.to_dict()
    if isinstance(reason, Mapping):
        return dict(reason)
    return {}


def _param_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value if str(v))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def reason_label(reason: Any) -> str:
    """The Chinese label of a reason (a minyi.text.quality.Reason or its stored dict); never raises."""
    data = _as_dict(reason)
    code = str(data.get("code") or "")
    template = _LABELS.get(code)
    if template is None:
        return _("其他（%(code)s）") % {"code": code[:40] or "?"}
    params = data.get("params") if isinstance(data.get("params"), Mapping) else {}
    values: dict[str, str] = defaultdict(str)
    values.update({str(k): _param_text(v) for k, v in params.items()})
    if code in ("off_topic", "weak_relevance", "on_topic") and "relevance" in params:
        try:
            values["relevance"] = f"{round(100 * float(params['relevance']))}%"
        except (TypeError, ValueError):
            values["relevance"] = "—"
    try:
        return str(template) % values
    except (TypeError, ValueError, KeyError):
        return reason_title(code)


def part_label(key: str) -> str:
    return str(PART_LABELS.get(key, key))


def severity_label(severity: str) -> str:
    return str(SEVERITY_LABELS.get(severity, severity))


def reasons_view(reasons: Iterable[Any]) -> list[dict[str, Any]]:
    """Reasons as the templates show them: label, part label and severity, bad first (as stored)."""
    out = []
    for reason in reasons:
        data = _as_dict(reason)
        severity = str(data.get("severity") or "")
        if severity not in ("bad", "warn", "good"):
            continue
        out.append(
            {
                "code": str(data.get("code") or ""),
                "severity": severity,
                "severity_label": severity_label(severity),
                "part": str(data.get("part") or ""),
                "part_label": part_label(str(data.get("part") or "")),
                "label": reason_label(data),
            }
        )
    return out


def parts_view(parts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The five parts as the templates show them: label, score 0..100 (None: not applicable), weight in %."""
    out = []
    for key in PARTS:
        part = parts.get(key)
        if isinstance(part, text_quality.Part):
            score, weight = part.score, part.weight
        elif isinstance(part, Mapping):
            score, weight = part.get("score"), part.get("weight")
        else:
            score, weight = None, 0
        try:
            shown = None if score is None else round(100 * float(score))
            share = round(100 * float(weight or 0))
        except (TypeError, ValueError):
            shown, share = None, 0
        out.append({"key": key, "label": part_label(key), "score": shown, "weight": share})
    return out


def weights_view() -> list[dict[str, Any]]:
    return [{"key": key, "label": part_label(key), "weight": round(100 * WEIGHTS[key])} for key in PARTS]


# ============================================================================================ scoring


def _assess(case: Case, text: str, *, replied_at: datetime | None) -> Quality:
    return assess_reply(
        case.content or "",
        text or "",
        title=case.title or "",
        received_at=case.created_at,
        replied_at=replied_at,
        due_at=case.handle_due_at,
    )


def score_draft(case: Case, text: str) -> Quality:
    """The quality of `text` as a reply to `case` if it were sent now (not stored)."""
    return _assess(case, text, replied_at=timezone.now())


def _row(reply: Reply, quality: Quality, now: datetime) -> ReplyQuality:
    return ReplyQuality(
        reply=reply,
        case_id=reply.case_id,
        department_id=reply.department_id or reply.case.department_id,
        score=quality.score,
        parts=quality.parts_dict(),
        reasons=quality.reasons_list(),
        version=quality.version,
        computed_at=now,
    )


def score_reply(reply: Reply) -> ReplyQuality:
    """Score `reply` (as sent at its sent_at; a pending one as if sent now) and store or update its row."""
    case = reply.case
    quality = _assess(case, reply.text, replied_at=reply.sent_at or timezone.now())
    row = _row(reply, quality, timezone.now())
    ReplyQuality.objects.update_or_create(
        reply=reply,
        defaults={
            "case_id": row.case_id,
            "department_id": row.department_id,
            "score": row.score,
            "parts": row.parts,
            "reasons": row.reasons,
            "version": row.version,
            "computed_at": row.computed_at,
        },
    )
    return row


def _unscored(*, outdated: bool) -> Any:
    qs = Reply.objects.filter(state=Reply.State.SENT)
    missing = Q(quality__isnull=True)
    if outdated:
        missing |= Q(quality__version__lt=QUALITY_VERSION)
    return qs.filter(missing)


def backfill(*, outdated: bool = False, limit: int | None = None, batch: int = BATCH) -> int:
    """Score the sent replies without a row (and, with `outdated`, those scored by an older version); returns the
    number scored. Works in batches by primary key, so a long run holds no transaction and can be interrupted."""
    done = 0
    last_pk = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        replies = list(
            _unscored(outdated=outdated)
            .filter(pk__gt=last_pk)
            .select_related("case")
            .only(
                "pk",
                "text",
                "sent_at",
                "department_id",
                "case_id",
                "case__title",
                "case__content",
                "case__created_at",
                "case__handle_due_at",
                "case__department_id",
            )
            .order_by("pk")[:size]
        )
        if not replies:
            break
        now = timezone.now()
        rows = [
            _row(reply, _assess(reply.case, reply.text, replied_at=reply.sent_at), now) for reply in replies
        ]
        if outdated:
            ReplyQuality.objects.filter(reply_id__in=[r.pk for r in replies]).delete()
        ReplyQuality.objects.bulk_create(rows, batch_size=batch, ignore_conflicts=True)
        done += len(rows)
        last_pk = replies[-1].pk
    if done:
        logger.info("reply quality: scored %s replies", done)
    return done


def stored_quality(reply: Reply) -> ReplyQuality | None:
    """The reply's current row: scored now when sent without one (or by an older version); None for a draft."""
    if reply.state != Reply.State.SENT:
        return None
    row = ReplyQuality.objects.filter(reply=reply).first()
    if row is None or row.version < QUALITY_VERSION:
        row = score_reply(reply)
    return row


# ============================================================================================ aggregates


def _zone():
    return timezone.get_default_timezone() if settings.USE_TZ else None


def _moment(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_zone())


@dataclass
class DepartmentQuality:
    department_id: int | None
    name: str
    count: int
    mean: float
    low: int
    parts: dict[str, float | None] = field(default_factory=dict)
    bad_reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def low_share(self) -> float:
        return self.low / self.count if self.count else 0.0


def _period_rows(scope: Scope, start: date, end: date):
    qs = ReplyQuality.objects.filter(
        reply__sent_at__gte=_moment(start), reply__sent_at__lt=_moment(end + timedelta(days=1))
    )
    return scope.filter(qs, "department_id")


def department_quality(scope: Scope, period_start: date, period_end: date) -> list[DepartmentQuality]:
    """Per department in `scope`, the replies sent on the local days `period_start`..`period_end` (both included):
    count, mean score, how many below LOW_SCORE, each part's mean (over the replies where it applies) and the
    TOP_REASONS most common bad reasons. Sorted by mean score, lowest first (then by count, then name)."""
    qs = _period_rows(scope, period_start, period_end)
    figures = list(
        qs.order_by()
        .values("department_id")
        .annotate(
            count=Count("reply_id"), mean=Avg("score"), low=Count("reply_id", filter=Q(score__lt=LOW_SCORE))
        )
    )
    if not figures:
        return []
    part_sums: dict[int | None, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    bad: dict[int | None, Counter[str]] = defaultdict(Counter)
    for department_id, parts, reasons in qs.values_list("department_id", "parts", "reasons").iterator(
        chunk_size=2000
    ):
        for key, part in (parts or {}).items():
            if isinstance(part, Mapping) and isinstance(part.get("score"), int | float):
                part_sums[department_id][key].append(float(part["score"]))
        codes = {
            r.get("code")
            for r in (reasons or [])
            if isinstance(r, Mapping) and r.get("severity") == "bad" and r.get("code") in REASON_CODES
        }
        bad[department_id].update(codes)
    names = dict(
        Department.objects.filter(
            pk__in=[f["department_id"] for f in figures if f["department_id"]]
        ).values_list("id", "name")
    )
    out = []
    for f in figures:
        dept = f["department_id"]
        sums = part_sums.get(dept, {})
        out.append(
            DepartmentQuality(
                department_id=dept,
                name=names.get(dept) or _("未确定部门"),
                count=f["count"],
                mean=round(float(f["mean"] or 0), 1),
                low=f["low"],
                parts={key: (sum(sums[key]) / len(sums[key]) if sums.get(key) else None) for key in PARTS},
                bad_reasons=bad[dept].most_common(TOP_REASONS),
            )
        )
    out.sort(key=lambda d: (d.mean, -d.count, d.name))
    return out


def overall_quality(rows: list[DepartmentQuality]) -> DepartmentQuality | None:
    """The departments' rows summed up (the mean weighted by count)."""
    count = sum(r.count for r in rows)
    if not count:
        return None
    bad: Counter[str] = Counter()
    for r in rows:
        bad.update(dict(r.bad_reasons))
    parts: dict[str, float | None] = {}
    for key in PARTS:
        pairs = [(r.parts.get(key), r.count) for r in rows if r.parts.get(key) is not None]
        weight = sum(n for _, n in pairs)
        parts[key] = sum(v * n for v, n in pairs) / weight if weight else None  # type: ignore[operator]
    return DepartmentQuality(
        department_id=None,
        name=_("合计"),
        count=count,
        mean=round(sum(r.mean * r.count for r in rows) / count, 1),
        low=sum(r.low for r in rows),
        parts=parts,
        bad_reasons=bad.most_common(TOP_REASONS),
    )


def lowest_replies(scope: Scope, period_start: date, period_end: date, *, case_ids_visible, limit: int = 20):
    """The lowest-scoring sent replies of the period in `scope` whose cases the user may open (a queryset of case
    ids the user may see: minyi.barometer.policies.visible_cases(user))."""
    return list(
        _period_rows(scope, period_start, period_end)
        .filter(case_id__in=case_ids_visible)
        .select_related("case", "reply")
        .only(
            "reply_id",
            "score",
            "reasons",
            "department_id",
            "case__id",
            "case__tracking_number",
            "case__title",
            "reply__sent_at",
        )
        .order_by("score", "-reply__sent_at", "reply_id")[:limit]
    )
