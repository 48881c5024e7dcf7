"""Early warning (预警): surges of appeals per topic, place, street and category, and high-risk appeals, as alerts
that the supervisors and the responsible department acknowledge and close, each step an AlertEvent.

The detection job, ``run_detection`` (hourly after the topic job; ``minyi barometer_alerts``):

1. Series. The cases received (``Case.created_at``, by local date) in the last ``history_days(config)`` days up
   to ``now`` (the larger of 2 × (baseline_days + window_days) and the weekday history of the detector,
   ``surge.WEEKDAY_DAYS`` + window_days: 115 days by default), merged cases excepted, are counted per day for each
   key, one aggregate query per kind of key:

   - ``topic:<id>``     an active topic's member cases (``TopicMember``: the topic job's current and previous
                        windows);
   - ``place:<id>``     the cases whose triage found that place (``Triage.place``: an estate, a road, a company...);
   - ``region:<id>``    the cases of a street or township (街道乡镇: the case's region, or its ancestor at that level);
   - ``category:<id>``  the cases of a category.

   A day without cases counts 0, and so do the days before a key's first case: a place or a topic that begins
   with a burst alarms on it (on the expected-count floor of the detector, 0.2 a day).
2. Surges. ``minyi.text.surge.detect_many`` judges each series against its own baseline (its docstring gives the
   model: the expected count from the baseline days, by weekday, and the Poisson threshold). Only surges that end
   within the last ``window_days`` days are kept.
3. The cases behind a surge are that key's cases received from its first to its last day. Their highest triage risk
   score and the union of their risk codes go into ``minyi.text.surge.level`` with the surge, which gives the level.
4. Risk alone: a case triaged at risk level high (self-harm, a threat, a gathering, a road block...) received in the
   last window raises an alert of its own (``risk:<case id>``), with or without a surge around it.
5. Alerts. The fingerprint ``<source>:<key>`` is unique among the alerts not closed. A finding whose subject has
   an open or acknowledged alert updates it (its days, count, figures and cases; the level only goes up: a higher
   level is an "escalated" event and a new notification, a lower one is ignored). Otherwise a new alert is raised
   ("raised" event) and the supervisors and the responsible department are told ("notified" event, with the
   number of recipients). When the subject's last alert was closed, a new one is raised only when the finding has
   at least ``min_count`` cases (one, for a risk alert) that the closed alert did not hold: a closed alert is not
   raised again by the next run seeing the same burst.
   One matter, one alert (``consolidate``): a surge whose appeals are mostly (80 %) those of a more specific surge
   (topic, then place, then street, then category) at the same or a higher level is folded into it.

The responsible department is the topic's assigned department, else the department holding most of the cases, else
none. Every threshold is a field of ``BarometerSettings`` (admin → 晴雨表设置): the surge model's
(``surge_baseline_days``, ``surge_window_days``, ``surge_min_count``, ``surge_ratio``, ``surge_p_value``) and the
levels' (``red_ratio``/``red_count``/``red_risk``, ``orange_ratio``/``orange_count``/``orange_risk``).

Handling: ``acknowledge`` (open → acknowledged), ``close`` (open or acknowledged → closed, with a note) and
``reopen`` (closed → open, a supervisor, with a note); ``policies.can_handle_alert`` says who may acknowledge and
close. Logs carry ids and counts, never a name, a phone number or an appeal's text.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.accounts.models import Region, Role, User
from minyi.barometer import policies
from minyi.barometer.models import Alert, AlertCase, AlertEvent, BarometerSettings, Topic, TopicMember
from minyi.cases import policies as case_policies
from minyi.cases.models import Case
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from minyi.core.notify import notify_users
from minyi.intake.models import Triage
from minyi.intake.triage import risk_label
from minyi.routing.models import Category, Place
from minyi.text import surge as surges

logger = logging.getLogger(__name__)

S = Alert.State
L = Alert.Level
SRC = Alert.Source

#: Levels from low to high (the level of an alert only goes up).
LEVEL_ORDER = ("yellow", "orange", "red")
#: Most cases linked to one alert (a category's surge can hold thousands; the count stays exact).
MAX_ALERT_CASES = 5000
#: Longest note on an acknowledgement, a closing or a reopening.
MAX_NOTE_CHARS = 2000
#: Stored strings are cut to the model's lengths.
LABEL_CHARS = 200
#: The in-app notifications of alerts carry this topic.
NOTIFY_TOPIC = "alert"

ACTION_LABELS = {
    "raised": gettext_lazy("发出预警"),
    "updated": gettext_lazy("更新"),
    "escalated": gettext_lazy("升级"),
    "notified": gettext_lazy("通知"),
    "acknowledged": gettext_lazy("签收"),
    "closed": gettext_lazy("关闭"),
    "reopened": gettext_lazy("重新打开"),
}
#: The actions staff take on an alert: the states they start from and the state they lead to.
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "acknowledge": (frozenset({S.OPEN}), S.ACKNOWLEDGED, "acknowledged"),
    "close": (frozenset({S.OPEN, S.ACKNOWLEDGED}), S.CLOSED, "closed"),
    "reopen": (frozenset({S.CLOSED}), S.OPEN, "reopened"),
}
STAFF_ACTION_LABELS = {
    "acknowledge": gettext_lazy("签收"),
    "close": gettext_lazy("关闭"),
    "reopen": gettext_lazy("重新打开"),
}
#: Actions that need a note.
NOTE_REQUIRED = frozenset({"close", "reopen"})


def _zone():
    return timezone.get_default_timezone()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime.min, tzinfo=_zone())


def _local_day(when: datetime) -> date:
    return timezone.localtime(when, _zone()).date()


def _level_rank(level: str | None) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else -1


# ---------------------------------------------------------------------------------------------- reasons


def reason_text(reason: Mapping[str, Any]) -> str:
    """One reason of an alert ({code, params}) in words (Chinese; the request's language)."""
    code = str(reason.get("code", "")) if isinstance(reason, Mapping) else ""
    params = reason.get("params") or {} if isinstance(reason, Mapping) else {}
    if not isinstance(params, Mapping):
        params = {}
    try:
        if code == "surge":
            return _(
                "%(start)s 起 %(days)s 天收到 %(count)s 件，基线 %(baseline).1f 件，为基线的 %(ratio).1f 倍"
                "（报警阈值 %(threshold)s 件）"
            ) % {
                "start": str(params.get("start", ""))[:10],
                "days": int(params.get("days", 0)),
                "count": int(params.get("count", 0)),
                "baseline": float(params.get("baseline", 0)),
                "ratio": float(params.get("ratio", 0)),
                "threshold": int(params.get("threshold", 0)),
            }
        if code == "risk":
            codes = [str(c) for c in params.get("codes", []) if c]
            labels = "、".join(risk_label(c) for c in codes) or _("无")
            return _("含风险信号：%(labels)s（最高风险分 %(score)s，高风险诉求 %(cases)s 件）") % {
                "labels": labels,
                "score": int(params.get("score", 0)),
                "cases": int(params.get("cases", 0)),
            }
        if code == "livelihood":
            return _("涉及重点民生领域")
    except (TypeError, ValueError):
        pass
    return code or _("未知依据")


def reason_texts(reasons: Iterable[Mapping[str, Any]]) -> list[str]:
    return [reason_text(r) for r in reasons or ()]


# ---------------------------------------------------------------------------------------------- series


@dataclass
class Window:
    """The days one run looks at (local dates)."""

    now: datetime
    today: date
    first: date  # the series' first day
    window_start: date  # the first day of the last window (a surge must end on or after it)
    start_at: datetime  # first at midnight

    @classmethod
    def build(cls, now: datetime, config: surges.SurgeConfig) -> Window:
        today = _local_day(now)
        first = today - timedelta(days=history_days(config) - 1)
        window_start = today - timedelta(days=config.window_days - 1)
        return cls(now=now, today=today, first=first, window_start=window_start, start_at=_midnight(first))


def history_days(config: surges.SurgeConfig) -> int:
    """How many days of counts a run reads: enough for today's baseline and for the bursts inside it to be found
    (and left out of it) on their own baselines (2 × (baseline + window)), and for the weekday factors' history
    (surge.WEEKDAY_DAYS, at least the baseline, plus the window)."""
    base, window = config.baseline_days, config.window_days
    return max(2 * (base + window), max(surges.WEEKDAY_DAYS, base) + window)


def _received(qs: QuerySet, field: str, w: Window) -> QuerySet:
    return qs.filter(**{f"{field}__gte": w.start_at, f"{field}__lte": w.now})


def _grouped(qs: QuerySet, key: str, time_field: str) -> Iterable[tuple[Any, date, int]]:
    """(key, local day, count) rows: one aggregate query (order_by() keeps the default ordering out of GROUP BY)."""
    rows = (
        qs.annotate(day=TruncDate(time_field, tzinfo=_zone()))
        .order_by()
        .values(key, "day")
        .annotate(n=Count("pk"))
        .values_list(key, "day", "n")
    )
    return rows.iterator(chunk_size=5000)


def _live_cases() -> QuerySet:
    return Case.objects.exclude(status=CaseStatus.MERGED)


@dataclass
class Series:
    """Daily counts per key (a day without cases is absent: the detector counts it 0), and the street regions."""

    counts: dict[str, dict[date, int]] = field(default_factory=dict)
    #: street region id -> the ids of the regions inside it (itself included)
    streets: dict[int, list[int]] = field(default_factory=dict)

    def add(self, key: str, day: date, n: int) -> None:
        if day is None:
            return
        days = self.counts.setdefault(key, {})
        days[day] = days.get(day, 0) + int(n)


def street_map() -> dict[int, int]:
    """Region id -> the id of its street-level region (itself or an ancestor), for the regions at or below one."""
    rows = list(Region.objects.values_list("pk", "path", "level"))
    streets = {pk for pk, _path, level in rows if level == Region.Level.STREET}
    out = {}
    for pk, path, _level in rows:
        for part in path.strip("/").split("/"):
            if part.isdigit() and int(part) in streets:
                out[pk] = int(part)
                break
    return out


def build_series(w: Window, *, only: str | None = None, key: str | None = None) -> Series:
    """The daily counts of every key (or of one `only`-kind key, for an alert's chart)."""
    series = Series()
    kinds = (only,) if only else (SRC.TOPIC, SRC.PLACE, SRC.REGION, SRC.CATEGORY)
    obj_id = int(key) if key and key.isdigit() else None
    if SRC.TOPIC in kinds:
        members = TopicMember.objects.filter(topic__is_active=True)
        if obj_id is not None:
            members = TopicMember.objects.filter(topic_id=obj_id)
        members = _received(members, "case__created_at", w).exclude(case__status=CaseStatus.MERGED)
        for topic_id, day, n in _grouped(members, "topic_id", "case__created_at"):
            series.add(f"topic:{topic_id}", day, n)
    if SRC.PLACE in kinds:
        triages = Triage.objects.filter(place_id__isnull=False)
        if obj_id is not None:
            triages = Triage.objects.filter(place_id=obj_id)
        triages = _received(triages, "case__created_at", w).exclude(case__status=CaseStatus.MERGED)
        for place_id, day, n in _grouped(triages, "place_id", "case__created_at"):
            series.add(f"place:{place_id}", day, n)
    if SRC.REGION in kinds or SRC.CATEGORY in kinds:
        # regions and categories from one scan of the cases: grouped by (category, region, day), summed here
        want_regions, want_categories = SRC.REGION in kinds, SRC.CATEGORY in kinds
        streets = street_map() if want_regions else {}
        for region_id, street_id in streets.items():
            series.streets.setdefault(street_id, []).append(region_id)
        cases = _received(_live_cases(), "created_at", w)
        if want_regions and want_categories:
            cases = cases.filter(Q(category_id__isnull=False) | Q(region_id__isnull=False))
        elif want_regions:
            ids = series.streets.get(obj_id, []) if obj_id is not None else list(streets)
            cases = cases.filter(region_id__in=ids)
        else:
            cases = (
                cases.filter(category_id=obj_id)
                if obj_id is not None
                else cases.filter(category_id__isnull=False)
            )
        keys = [f for f, wanted in (("category_id", want_categories), ("region_id", want_regions)) if wanted]
        rows = (
            cases.annotate(day=TruncDate("created_at", tzinfo=_zone()))
            .order_by()
            .values(*keys, "day")
            .annotate(n=Count("pk"))
        )
        for row in rows.iterator(chunk_size=5000):
            day, n = row["day"], row["n"]
            category_id, region_id = row.get("category_id"), row.get("region_id")
            if category_id is not None:
                series.add(f"category:{category_id}", day, n)
            if region_id in streets:
                series.add(f"region:{streets[region_id]}", day, n)
    return series


# ---------------------------------------------------------------------------------------------- findings


@dataclass
class CaseFacts:
    pk: int
    received: date
    department_id: int | None
    livelihood: bool
    risk_score: int
    risk_level: str
    risk_codes: tuple[str, ...]


@dataclass
class Finding:
    """One subject worth an alert: a surge of a key, or one high-risk case."""

    source: str
    key: str
    surge: surges.Surge | None
    start: date
    end: date
    cases: list[CaseFacts] = field(default_factory=list)
    level: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    risk_score: int = 0

    @property
    def fingerprint(self) -> str:
        return f"{self.source}:{self.key}"

    @property
    def case_ids(self) -> list[int]:
        return [c.pk for c in self.cases]


_FACT_FIELDS = (
    "pk",
    "created_at",
    "department_id",
    "category__is_livelihood",
    "triage__risk_score",
    "triage__risk_level",
    "triage__risk_reasons",
)


def _facts(qs: QuerySet) -> list[CaseFacts]:
    out = []
    rows = qs.order_by("created_at", "pk").values_list(*_FACT_FIELDS)[:MAX_ALERT_CASES]
    for pk, created_at, dept, livelihood, score, level, reasons in rows:
        codes = tuple(
            sorted({str(r.get("code")) for r in (reasons or []) if isinstance(r, dict) and r.get("code")})
        )
        out.append(
            CaseFacts(
                pk=pk,
                received=_local_day(created_at),
                department_id=dept,
                livelihood=bool(livelihood),
                risk_score=int(score or 0),
                risk_level=level or Triage.RiskLevel.NONE,
                risk_codes=codes,
            )
        )
    return out


def _cases_of(source: str, key: str, start: date, end: date, w: Window, series: Series) -> QuerySet:
    """That key's cases received from `start` to `end` (local dates, inclusive), up to `now`."""
    qs = _live_cases().filter(
        created_at__gte=_midnight(start), created_at__lt=_midnight(end + timedelta(days=1))
    )
    qs = qs.filter(created_at__lte=w.now)
    obj_id = int(key)
    if source == SRC.TOPIC:
        return qs.filter(pk__in=TopicMember.objects.filter(topic_id=obj_id).values("case_id"))
    if source == SRC.PLACE:
        return qs.filter(triage__place_id=obj_id)
    if source == SRC.REGION:
        return qs.filter(region_id__in=series.streets.get(obj_id, [obj_id]))
    if source == SRC.CATEGORY:
        return qs.filter(category_id=obj_id)
    raise ValueError(source)


def _judge(finding: Finding, rules: surges.LevelRules) -> None:
    """Level and reasons of a finding, from its surge and its cases' risk."""
    cases = finding.cases
    score = max((c.risk_score for c in cases), default=0)
    codes = sorted({code for c in cases for code in c.risk_codes})
    high = [c for c in cases if c.risk_level == Triage.RiskLevel.HIGH]
    finding.risk_score = score
    finding.level = surges.level(finding.surge, risk_score=score, risk_codes=codes, rules=rules)
    reasons: list[dict[str, Any]] = []
    s = finding.surge
    if s is not None:
        reasons.append(
            {
                "code": "surge",
                "params": {
                    "count": s.count,
                    "baseline": round(float(s.baseline), 2),
                    "threshold": int(s.threshold),
                    "ratio": round(float(s.ratio), 2),
                    "p_value": float(s.p_value),
                    "days": (s.end - s.start).days + 1,
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                },
            }
        )
    if score or codes:
        reasons.append({"code": "risk", "params": {"codes": codes, "score": score, "cases": len(high)}})
    if cases and sum(1 for c in cases if c.livelihood) * 2 >= len(cases):
        reasons.append({"code": "livelihood", "params": {}})
    finding.reasons = reasons


def find_surges(w: Window, config: surges.SurgeConfig, stats: dict[str, Any]) -> tuple[Series, list[Finding]]:
    began = time.perf_counter()
    series = build_series(w)
    stats["series"] = len(series.counts)
    stats["timings"]["series_ms"] = round((time.perf_counter() - began) * 1000, 1)
    began = time.perf_counter()
    found = surges.detect_many(series.counts, config=config, start=w.window_start, end=w.today)
    found = [s for s in found if s.end >= w.window_start]
    stats["surges"] = len(found)
    stats["timings"]["detect_ms"] = round((time.perf_counter() - began) * 1000, 1)
    findings = []
    for s in found:
        source, _sep, key = s.key.partition(":")
        findings.append(Finding(source=source, key=key, surge=s, start=s.start, end=s.end))
    return series, findings


def find_risks(w: Window) -> list[Finding]:
    """One finding per case triaged at risk level high and received in the last window."""
    qs = _live_cases().filter(
        triage__risk_level=Triage.RiskLevel.HIGH,
        created_at__gte=_midnight(w.window_start),
        created_at__lte=w.now,
    )
    return [
        Finding(source=SRC.RISK, key=str(c.pk), surge=None, start=c.received, end=c.received, cases=[c])
        for c in _facts(qs)
    ]


# ---------------------------------------------------------------------------------------------- labels, people


def _labels(findings: list[Finding]) -> dict[str, tuple[str, dict[str, Any]]]:
    """fingerprint -> (label, the alert's subject fields)."""
    by_source: dict[str, set[int]] = defaultdict(set)
    for f in findings:
        by_source[f.source].add(int(f.key))
    topics = {t.pk: t for t in Topic.objects.filter(pk__in=by_source[SRC.TOPIC])}
    places = {p.pk: p for p in Place.objects.filter(pk__in=by_source[SRC.PLACE])}
    regions = {r.pk: r for r in Region.objects.filter(pk__in=by_source[SRC.REGION])}
    categories = {c.pk: c for c in Category.objects.filter(pk__in=by_source[SRC.CATEGORY])}
    cases = dict(Case.objects.filter(pk__in=by_source[SRC.RISK]).values_list("pk", "tracking_number"))
    out = {}
    for f in findings:
        pk = int(f.key)
        fields: dict[str, Any] = {}
        if f.source == SRC.TOPIC:
            topic = topics.get(pk)
            label = _("热点“%(label)s”诉求突增") % {"label": topic.label if topic else pk}
            fields = {"topic_id": pk if topic else None}
        elif f.source == SRC.PLACE:
            place = places.get(pk)
            label = (
                _("%(place)s（%(kind)s）诉求突增") % {"place": place.name, "kind": place.get_kind_display()}
                if place
                else _("地点 %(id)s 诉求突增") % {"id": pk}
            )
            fields = {"place_id": pk if place else None, "region_id": place.region_id if place else None}
        elif f.source == SRC.REGION:
            region = regions.get(pk)
            label = _("%(region)s诉求突增") % {"region": region.name if region else pk}
            fields = {"region_id": pk if region else None}
        elif f.source == SRC.CATEGORY:
            category = categories.get(pk)
            label = _("“%(category)s”类诉求突增") % {"category": category.name if category else pk}
            fields = {"category_id": pk if category else None}
        else:
            label = _("高风险诉求 %(no)s") % {"no": cases.get(pk, pk)}
        out[f.fingerprint] = (str(label)[:LABEL_CHARS], fields)
    return out


def responsible_department(finding: Finding, topic_departments: Mapping[int, int | None]) -> int | None:
    """The topic's assigned department, else the department holding most of the cases (ties: the lower id)."""
    if finding.source == SRC.TOPIC:
        assigned = topic_departments.get(int(finding.key))
        if assigned:
            return assigned
    held = Counter(c.department_id for c in finding.cases if c.department_id)
    if not held:
        return None
    return max(held.items(), key=lambda item: (item[1], -item[0]))[0]


def recipients(department_id: int | None) -> list[User]:
    """Every active supervisor, and the responsible department's heads and handlers (each person once)."""
    q = Q(memberships__role=Role.SUPERVISOR)
    if department_id:
        q |= Q(memberships__department_id=department_id, memberships__role__in=[Role.HEAD, Role.HANDLER])
    return list(User.objects.filter(q, is_active=True).distinct().order_by("pk"))


def _department_staff(department_id: int | None) -> list[User]:
    if not department_id:
        return []
    return list(
        User.objects.filter(
            is_active=True,
            memberships__department_id=department_id,
            memberships__role__in=[Role.HEAD, Role.HANDLER],
        )
        .distinct()
        .order_by("pk")
    )


def _notify(alert: Alert, users: list[User], *, why: str, now: datetime) -> int:
    if not users:
        return 0
    subject = _("%(level)s预警：%(label)s") % {"level": alert.get_level_display(), "label": alert.label}
    link = reverse("barometer:alert", kwargs={"alert_id": alert.pk})
    body = "；".join(reason_texts(alert.reasons)) + "\n" + _("详见 %(link)s") % {"link": link}
    count = notify_users(users=users, subject=str(subject)[:200], body=body, topic=NOTIFY_TOPIC)
    AlertEvent.objects.create(
        alert=alert,
        action="notified",
        actor_role=case_policies.SYSTEM,
        data={"recipients": count, "why": why, "level": alert.level},
        created_at=now,
    )
    return count


# ---------------------------------------------------------------------------------------------- raise / update


def _figures(f: Finding) -> dict[str, Any]:
    s = f.surge
    return {
        "count": s.count if s else len(f.cases),
        "baseline": round(float(s.baseline), 4) if s else 0.0,
        "threshold": int(s.threshold) if s else 0,
        "ratio": round(float(s.ratio), 4) if s else 0.0,
        "p_value": float(s.p_value) if s else None,
        "risk_score": min(int(f.risk_score), 32767),
    }


def _raise(
    f: Finding, label: str, subject: dict[str, Any], department_id: int | None, now: datetime
) -> Alert:
    alert = Alert.objects.create(
        level=f.level,
        source=f.source,
        key=f.key,
        label=label,
        start=f.start,
        end=f.end,
        reasons=f.reasons,
        department_id=department_id,
        fingerprint=f.fingerprint,
        created_at=now,
        updated_at=now,
        **_figures(f),
        **subject,
    )
    AlertCase.objects.bulk_create([AlertCase(alert=alert, case_id=pk) for pk in f.case_ids], batch_size=1000)
    AlertEvent.objects.create(
        alert=alert,
        action="raised",
        actor_role=case_policies.SYSTEM,
        data={
            "level": alert.level,
            "count": alert.count,
            "baseline": alert.baseline,
            "start": alert.start.isoformat(),
            "end": alert.end.isoformat(),
            "cases": len(f.case_ids),
            "department": department_id,
        },
        created_at=now,
    )
    return alert


def _update(alert: Alert, f: Finding, label: str, subject: dict[str, Any], department_id: int | None,
            now: datetime) -> tuple[str, int]:  # fmt: skip
    """Apply a new finding to an alert not closed. Returns (what happened, recipients notified)."""
    had = set(AlertCase.objects.filter(alert=alert).values_list("case_id", flat=True))
    new_ids = [pk for pk in f.case_ids if pk not in had]
    figures = _figures(f)
    start, end = min(alert.start, f.start), max(alert.end, f.end)
    if f.surge is not None:
        figures["count"] = max(len(had | set(f.case_ids)), f.surge.count)
    figures["risk_score"] = max(figures["risk_score"], alert.risk_score)
    level = f.level if _level_rank(f.level) > _level_rank(alert.level) else alert.level
    department = department_id or alert.department_id
    before = {
        "level": alert.level,
        "start": alert.start,
        "end": alert.end,
        "reasons": alert.reasons,
        "label": alert.label,
        "department_id": alert.department_id,
        **{k: getattr(alert, k) for k in figures},
    }
    after = {
        "level": level,
        "start": start,
        "end": end,
        "reasons": f.reasons,
        "label": label,
        "department_id": department,
        **figures,
    }
    changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
    if not changed and not new_ids:
        return "unchanged", 0
    for k, v in {**after, **subject}.items():
        setattr(alert, k, v)
    alert.updated_at = now
    alert.save(update_fields=[*after, *subject, "updated_at"])
    if new_ids:
        AlertCase.objects.bulk_create(
            [AlertCase(alert=alert, case_id=pk) for pk in new_ids], batch_size=1000, ignore_conflicts=True
        )
    escalated = "level" in changed
    data = {k: [_plain(a), _plain(b)] for k, (a, b) in changed.items() if k not in ("reasons", "label")}
    data["cases_added"] = len(new_ids)
    AlertEvent.objects.create(
        alert=alert,
        action="escalated" if escalated else "updated",
        actor_role=case_policies.SYSTEM,
        data=data,
        created_at=now,
    )
    notified = 0
    if escalated:
        notified = _notify(alert, recipients(alert.department_id), why="escalated", now=now)
    elif "department_id" in changed:
        notified = _notify(alert, _department_staff(alert.department_id), why="department", now=now)
    return ("escalated" if escalated else "updated"), notified


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _closed_cases(fingerprints: list[str]) -> dict[str, set[int]]:
    """fingerprint -> the cases of its most recently closed alert."""
    latest: dict[str, int] = {}
    for fp, pk in (
        Alert.objects.filter(fingerprint__in=fingerprints, state=S.CLOSED)
        .order_by("fingerprint", "-closed_at", "-pk")
        .values_list("fingerprint", "pk")
    ):
        latest.setdefault(fp, pk)
    out: dict[str, set[int]] = {fp: set() for fp in latest}
    by_alert = {pk: fp for fp, pk in latest.items()}
    for alert_id, case_id in AlertCase.objects.filter(alert_id__in=list(by_alert)).values_list(
        "alert_id", "case_id"
    ):
        out[by_alert[alert_id]].add(case_id)
    return out


#: Of two surges about the same appeals, the alert goes to the more specific subject: a topic (a named matter, that
#: can be assigned), then a place, then a street, then a category.
SPECIFICITY = (SRC.TOPIC, SRC.PLACE, SRC.REGION, SRC.CATEGORY)
#: A surge is folded into a more specific one when at least this share of its appeals are that one's.
FOLD_SHARE = 0.8


def consolidate(findings: list[Finding]) -> tuple[list[Finding], int]:
    """One matter, one alert: a surge whose appeals are mostly (FOLD_SHARE) those of a more specific surge at the
    same or a higher level is left out (the water cut-off of one estate is a topic, a place, a street and a
    category surge at once). Risk alerts are never folded. Returns the findings kept and how many were folded."""
    rank = {source: i for i, source in enumerate(SPECIFICITY)}
    surges_by_rank = sorted(
        (f for f in findings if f.surge is not None and f.source in rank), key=lambda f: rank[f.source]
    )
    kept: list[Finding] = []
    folded: set[str] = set()
    for f in surges_by_rank:
        ids = set(f.case_ids)
        into = next(
            (
                k
                for k in kept
                if rank[k.source] < rank[f.source]
                and _level_rank(k.level) >= _level_rank(f.level)
                and ids
                and len(ids & set(k.case_ids)) >= FOLD_SHARE * len(ids)
            ),
            None,
        )
        if into is None:
            kept.append(f)
        else:
            folded.add(f.fingerprint)
    return [f for f in findings if f.fingerprint not in folded], len(folded)


def run_detection(*, now: datetime | None = None) -> dict[str, Any]:
    """Detect surges and high-risk appeals and raise or update alerts (module docstring). Idempotent: a second run
    on the same data changes nothing. Returns counts: series, surges, findings, raised, updated, escalated,
    unchanged, suppressed (closed and not new enough), failed, notified (recipients), and timings in ms."""
    began = time.perf_counter()
    now = now or timezone.now()
    settings_row = BarometerSettings.get()
    config, rules = settings_row.to_surge_config(), settings_row.to_level_rules()
    w = Window.build(now, config)
    stats: dict[str, Any] = {
        "series": 0,
        "surges": 0,
        "findings": 0,
        "raised": 0,
        "updated": 0,
        "escalated": 0,
        "unchanged": 0,
        "suppressed": 0,
        "folded": 0,
        "failed": 0,
        "notified": 0,
        "timings": {},
    }
    series, findings = find_surges(w, config, stats)

    t = time.perf_counter()
    for f in findings:
        f.cases = _facts(_cases_of(f.source, f.key, f.start, f.end, w, series))
    findings.extend(find_risks(w))
    for f in findings:
        _judge(f, rules)
    findings = [f for f in findings if f.level]
    findings, stats["folded"] = consolidate(findings)
    stats["findings"] = len(findings)
    stats["timings"]["cases_ms"] = round((time.perf_counter() - t) * 1000, 1)

    t = time.perf_counter()
    fingerprints = [f.fingerprint for f in findings]
    current = {
        a.fingerprint: a.pk
        for a in Alert.objects.filter(fingerprint__in=fingerprints).exclude(state=S.CLOSED)
    }
    closed = _closed_cases([fp for fp in fingerprints if fp not in current])
    labels = _labels(findings)
    topic_ids = [int(f.key) for f in findings if f.source == SRC.TOPIC]
    topic_departments = dict(Topic.objects.filter(pk__in=topic_ids).values_list("pk", "department_id"))
    for f in findings:
        label, subject = labels[f.fingerprint]
        department_id = responsible_department(f, topic_departments)
        try:
            with transaction.atomic():
                if f.fingerprint in current:
                    alert = Alert.objects.select_for_update().filter(pk=current[f.fingerprint]).first()
                    if alert is None or alert.state == S.CLOSED:  # closed meanwhile: judged again next run
                        stats["unchanged"] += 1
                        continue
                    outcome, notified = _update(alert, f, label, subject, department_id, now)
                    stats[outcome] += 1
                    stats["notified"] += notified
                    continue
                if f.fingerprint in closed:
                    fresh = [pk for pk in f.case_ids if pk not in closed[f.fingerprint]]
                    needed = 1 if f.surge is None else max(int(config.min_count), 1)
                    if len(fresh) < needed:
                        stats["suppressed"] += 1
                        continue
                alert = _raise(f, label, subject, department_id, now)
                stats["raised"] += 1
                stats["notified"] += _notify(alert, recipients(department_id), why="raised", now=now)
        except IntegrityError:
            # another run raised the same subject at the same moment (the fingerprint is unique while not closed)
            stats["failed"] += 1
            logger.warning("alert %s not stored: a concurrent run holds it", f.fingerprint)
    stats["timings"]["alerts_ms"] = round((time.perf_counter() - t) * 1000, 1)
    stats["timings"]["total_ms"] = round((time.perf_counter() - began) * 1000, 1)
    logger.info(
        "barometer alerts: series=%s surges=%s raised=%s updated=%s escalated=%s suppressed=%s notified=%s in %sms",
        stats["series"],
        stats["surges"],
        stats["raised"],
        stats["updated"],
        stats["escalated"],
        stats["suppressed"],
        stats["notified"],
        stats["timings"]["total_ms"],
    )
    return stats


# ---------------------------------------------------------------------------------------------- the alert's chart


def alert_series(alert: Alert, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The alert's key's daily counts around it, for its chart: from baseline_days before its first day to a few
    days after its last (up to today). Each day has its count, the expected count per day and the alarm line per
    day (the alert's baseline and threshold over its days, spread evenly), and whether it is one of the alert's."""
    if alert.source == SRC.RISK or not alert.key.isdigit():
        return []
    config = BarometerSettings.get().to_surge_config()
    today = _local_day(now or timezone.now())
    end = max(alert.end, min(today, alert.end + timedelta(days=config.window_days)))
    first = alert.start - timedelta(days=config.baseline_days)
    w = Window(now=_midnight(end + timedelta(days=1)), today=end, first=first, window_start=alert.start,
               start_at=_midnight(first))  # fmt: skip
    series = build_series(w, only=alert.source, key=alert.key)
    counts = series.counts.get(f"{alert.source}:{alert.key}", {})
    days = max((alert.end - alert.start).days + 1, 1)
    baseline, threshold = round(alert.baseline / days, 2), round(alert.threshold / days, 2)
    out, day = [], first
    while day <= end:
        out.append(
            {
                "day": day.isoformat(),
                "count": counts.get(day, 0),
                "baseline": baseline,
                "threshold": threshold,
                "surge": alert.start <= day <= alert.end,
            }
        )
        day += timedelta(days=1)
    return out


# ---------------------------------------------------------------------------------------------- staff actions


def _user_of(actor) -> Any:
    return actor.user if isinstance(actor, case_policies.Actor) else actor


def permitted(user, action: str, alert: Alert) -> bool:
    """Whether `user` may take `action` on `alert` at all (whatever its state)."""
    if action not in TRANSITIONS:
        return False
    if action == "reopen":
        return policies.can_reopen_alert(user)
    return policies.can_handle_alert(user, alert)


def refusal(action: str) -> str:
    """Why `permitted` said no (the 403's message)."""
    if action == "reopen":
        return _("只有督办员可以重新打开已关闭的预警。")
    return _("您不能处置这条预警：只有督办员和责任部门的负责人、承办人可以签收、关闭。")


def may(user, action: str, alert: Alert) -> bool:
    """Whether `user` may take `action` on `alert` in its present state (the buttons; the services check again)."""
    return action in TRANSITIONS and alert.state in TRANSITIONS[action][0] and permitted(user, action, alert)


def allowed_actions(user, alert: Alert) -> list[str]:
    return [action for action in TRANSITIONS if may(user, action, alert)]


def _role(user) -> str:
    actor = case_policies.actor_for_user(user)
    for role in (Role.SUPERVISOR, Role.HEAD, Role.HANDLER):
        if role in actor.roles:
            return role
    return sorted(actor.roles)[0] if actor.roles else ""


def _clean_note(note: Any, *, required: bool) -> str:
    text = "" if note is None else str(note)
    if "\x00" in text:
        raise ValidationFailed(_("说明中含有无效字符。"), fields={"note": _("无效")})
    text = text.strip()
    if required and not text:
        raise ValidationFailed(_("请填写处置说明。"), fields={"note": _("必填")})
    if len(text) > MAX_NOTE_CHARS:
        raise ValidationFailed(
            _("说明不能超过 %(n)s 字。") % {"n": MAX_NOTE_CHARS}, fields={"note": _("过长")}
        )
    return text


@transaction.atomic
def alert_act(
    *, alert: Alert | int, actor, action: str, note: str = "", now: datetime | None = None
) -> Alert:
    """Acknowledge, close or reopen an alert as `actor` (a User or a staff Actor): lock, check the policy (403) and
    the state (409), save, append the event. A closing and a reopening need a note."""
    now = now or timezone.now()
    user = _user_of(actor)
    if action not in TRANSITIONS:
        raise ValidationFailed(_("未知的操作。"), fields={"action": _("无效")})
    pk = alert.pk if isinstance(alert, Alert) else int(alert)
    locked = Alert.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound(_("没有这条预警。"))
    sources, target, event = TRANSITIONS[action]
    if not permitted(user, action, locked):
        raise Forbidden(refusal(action))
    if locked.state not in sources:
        raise Conflict(
            _("这条预警当前为“%(state)s”，不能%(action)s。")
            % {"state": locked.get_state_display(), "action": STAFF_ACTION_LABELS[action]},
            fields={
                "state": locked.state,
                "allowed": [a for a in TRANSITIONS if locked.state in TRANSITIONS[a][0]],
            },
        )
    text = _clean_note(note, required=action in NOTE_REQUIRED)
    if action == "reopen":
        other = (
            Alert.objects.filter(fingerprint=locked.fingerprint)
            .exclude(state=S.CLOSED)
            .exclude(pk=pk)
            .first()
        )
        if other is not None:
            raise Conflict(
                _("同一对象已有未关闭的预警（编号 %(id)s），请在那条预警中处置。") % {"id": other.pk},
                fields={"alert": other.pk},
            )
    old = locked.state
    locked.state = target
    fields = ["state", "updated_at"]
    if action == "acknowledge":
        locked.acknowledged_at, locked.acknowledged_by = now, user
        fields += ["acknowledged_at", "acknowledged_by"]
    elif action == "close":
        locked.closed_at, locked.closed_by, locked.close_note = now, user, text
        fields += ["closed_at", "closed_by", "close_note"]
    else:  # reopened: open again; who acknowledged and closed it, and why, stay in the events
        locked.acknowledged_at = locked.acknowledged_by = locked.closed_at = locked.closed_by = None
        locked.close_note = ""
        fields += ["acknowledged_at", "acknowledged_by", "closed_at", "closed_by", "close_note"]
    locked.updated_at = now
    locked.save(update_fields=fields)
    AlertEvent.objects.create(
        alert=locked,
        action=event,
        actor=user,
        actor_role=_role(user),
        note=text,
        data={"from": old, "to": target},
        created_at=now,
    )
    logger.info("alert %s %s by user %s", locked.pk, event, getattr(user, "pk", None))
    return locked


def acknowledge(alert: Alert | int, actor, note: str = "", *, now: datetime | None = None) -> Alert:
    return alert_act(alert=alert, actor=actor, action="acknowledge", note=note, now=now)


def close(alert: Alert | int, actor, note: str, *, now: datetime | None = None) -> Alert:
    return alert_act(alert=alert, actor=actor, action="close", note=note, now=now)


def reopen(alert: Alert | int, actor, note: str, *, now: datetime | None = None) -> Alert:
    return alert_act(alert=alert, actor=actor, action="reopen", note=note, now=now)


# ---------------------------------------------------------------------------------------------- reading (pages, API)

#: The state filter "active": open and acknowledged (the default list).
ACTIVE = "active"


def alert_list(
    user, *, level: str | None = None, state: str | None = ACTIVE, source: str | None = None
) -> QuerySet:
    """The alerts `user` may see, red first, then orange and yellow; newest change first within a level."""
    from django.db import models as m

    qs = _filtered(policies.visible_alerts(user), state=state, source=source)
    if level:
        qs = qs.filter(level=level)
    rank = m.Case(m.When(level=L.RED, then=0), m.When(level=L.ORANGE, then=1), default=2,
                  output_field=m.IntegerField())  # fmt: skip
    return (
        qs.annotate(level_rank=rank)
        .select_related("department", "topic", "place", "category", "region")
        .order_by("level_rank", "-updated_at", "-pk")
    )


def _filtered(qs: QuerySet, *, state: str | None, source: str | None) -> QuerySet:
    if state == ACTIVE:
        qs = qs.exclude(state=S.CLOSED)
    elif state:
        qs = qs.filter(state=state)
    if source:
        qs = qs.filter(source=source)
    return qs


def level_counts(user, *, state: str | None = ACTIVE, source: str | None = None) -> dict[str, int]:
    """How many alerts of each level `user` sees under the state and source filters."""
    qs = _filtered(policies.visible_alerts(user), state=state, source=source)
    counts = dict.fromkeys(reversed(LEVEL_ORDER), 0)
    for level_value, n in qs.order_by().values_list("level").annotate(n=Count("pk", distinct=True)):
        counts[level_value] = n
    return counts


def alert_cases(user, alert: Alert) -> QuerySet:
    """The cases behind `alert` that `user` may open (the case policy), oldest first."""
    ids = AlertCase.objects.filter(alert=alert).values("case_id")
    return (
        policies.visible_cases(user)
        .filter(pk__in=ids)
        .select_related("category", "region", "department", "triage")
        .order_by("created_at", "pk")
    )


def alert_events(alert: Alert) -> QuerySet:
    return AlertEvent.objects.filter(alert=alert).select_related("actor").order_by("created_at", "pk")


def level_label(value: str | None) -> str:
    return str(L(value).label) if value in L.values else (value or "")


def event_details(event: AlertEvent) -> list[str]:
    """What one event did, in words (its note apart)."""
    data = event.data if isinstance(event.data, dict) else {}
    out: list[str] = []
    try:
        if event.action == "raised":
            out.append(
                _("级别：%(level)s；件数 %(count)s，基线 %(baseline).1f")
                % {
                    "level": level_label(data.get("level")),
                    "count": int(data.get("count", 0)),
                    "baseline": float(data.get("baseline", 0)),
                }
            )
        elif event.action == "notified":
            out.append(_("已通知 %(n)s 人") % {"n": int(data.get("recipients", 0))})
        elif event.action in ("updated", "escalated"):
            if "level" in data:
                old, new = data["level"]
                out.append(_("级别：%(old)s → %(new)s") % {"old": level_label(old), "new": level_label(new)})
            if "count" in data:
                old, new = data["count"]
                out.append(_("件数：%(old)s → %(new)s") % {"old": old, "new": new})
            if "end" in data:
                old, new = data["end"]
                out.append(_("结束日期：%(old)s → %(new)s") % {"old": old, "new": new})
            if data.get("cases_added"):
                out.append(_("新增诉求 %(n)s 件") % {"n": int(data["cases_added"])})
    except (TypeError, ValueError, KeyError):
        pass
    return out
