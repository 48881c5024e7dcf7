"""Hot topics (热点): the background job that clusters the appeals of a window into topics and keeps their history.

``run_topics`` (hourly, ``minyi barometer_topics``) reads the cases received in the last two windows (the window is
``BarometerSettings.topic_window_days``, 30 days by default; the earlier window gives the growth), mines them with
``minyi.text.topics.mine_topics`` and stores the result:

- Each mined topic is matched with the topics active after the previous run (``match_topics``: signatures and
  member cases), so a matter keeps its id from run to run; a topic that matches none of them is matched once more
  with the topics last seen within the two windows (a matter that dipped below the minimum size for a while comes
  back with its id and history); the rest are new (trend "new").
- A matched topic's trend is ``minyi.text.topics.trend(growth)`` (rising, steady or fading); an active topic
  that matches no mined topic is marked inactive with trend "gone" (its members stay, for its page).
- Active topics are ranked by heat (``minyi.text.topics.heat``; the formula is on the topics page); each one's
  members are replaced, and it gets one ``TopicSnapshot`` per run (its history chart).
- The run is a ``TopicRun`` row: cases read, topics, elapsed time, status; a failure is recorded as a failed run
  (with the error's type and message) and re-raised, and the write phase is one transaction, so the topics of
  the last good run stay as they were.
- Followers of a topic are told (in-app, minyi.core.notify) when it turns "rising" or enters the top 10.

What is read per case, streamed (values_list + iterator, no model instance per case): the triage's tokens
(``intake.Triage``; the title and content when the case has no triage), the title, the time, the region, the
supports (+1) of its publication (``Publication.support_count``, the count of its ``Support`` rows), and a key for
the person: the submitting account, else a keyed hash of the contact's phone number, else of the source system's
user id (imported history), else none (then the case counts as its own person). The phone number is never stored
nor logged; the hash lives only in memory for the run.

Staff actions on a topic live here too: ``topic_assign`` (交办 to a department as one matter, optionally dispatching
its cases that wait for dispatch, each through ``case_transition``) and ``topic_follow_toggle``; each writes a
``TopicEvent``.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.barometer.models import (
    BarometerSettings,
    BarometerWatermark,
    Topic,
    TopicEvent,
    TopicMember,
    TopicRun,
    TopicSnapshot,
)
from minyi.cases.models import Case
from minyi.cases.workflow import CaseStatus
from minyi.core.bulk import bulk_insert
from minyi.core.exceptions import Forbidden, ValidationFailed
from minyi.core.notify import notify_users
from minyi.text import topics as mining

logger = logging.getLogger(__name__)

#: The watermark row that serialises two runs' write phases (and records when the job last ran).
WATERMARK = "topics"
#: Followers hear of a topic entering this many first places.
TOP_N = 10
#: Snapshots of every run are kept this many days; older ones only from each day's last run (the history shows
#: one point per day), so an hourly job keeps ~24 snapshots a topic per day for a week, then one.
SNAPSHOT_HOURLY_DAYS = 7
#: A cross-run match needs at least this score (minyi.text.topics.match_topics).
MATCH_THRESHOLD = 0.35
#: Stored strings are cut to the model's lengths.
LABEL_CHARS = 120
TITLE_CHARS = 200
ERROR_CHARS = 300
_PERSON_SALT = "minyi.barometer.hot.person"
_CHUNK = 2000


@dataclass
class RunStats:
    """What one run did, for the command's summary and the benchmark (not stored beyond the TopicRun)."""

    read_s: float = 0.0
    mine_s: float = 0.0
    write_s: float = 0.0
    cases: int = 0
    current: int = 0
    topics: int = 0
    matched: int = 0
    revived: int = 0
    created: int = 0
    gone: int = 0
    members: int = 0
    notified: int = 0
    pruned: int = 0
    phases: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- reading


def _digits(phone: str) -> str:
    digits = "".join(ch for ch in phone if "0" <= ch <= "9")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if len(digits) >= 7 else ""


def person_key(*, user_id: int | None, phone: str | None, external_user: str | None = None) -> str | None:
    """A key for "the same person": the account, else a keyed hash of the phone number (digits only), else of the
    source system's user id; None when nothing is known. The phone number itself never leaves this function."""
    if user_id:
        return f"u{user_id}"
    digits = _digits(phone or "")
    if digits:
        return "t" + salted_hmac(_PERSON_SALT, digits).hexdigest()[:20]
    external = (external_user or "").strip()
    if external:
        return "x" + salted_hmac(_PERSON_SALT, "ext:" + external).hexdigest()[:20]
    return None


def _rows(start: datetime, end: datetime):
    """The cases received in [start, end), merged cases excepted, as tuples (streamed)."""
    text_when_untriaged = models.Case(
        models.When(triage__isnull=True, then=models.F("content")),
        default=models.Value(""),
        output_field=models.TextField(),
    )
    return (
        Case.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(status=CaseStatus.MERGED)
        .annotate(fallback_text=text_when_untriaged)
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "title",
            "created_at",
            "region_id",
            "submitted_by_id",
            "triage__tokens",
            "fallback_text",
            "contact__phone",
            "contact__external_user",
            "publication__support_count",
        )
        .iterator(chunk_size=_CHUNK)
    )


def _docs(start: datetime, end: datetime, since: datetime, stats: RunStats, previous_ids: set[int]):
    """TopicDocs for mine_topics, timing the database side in stats.read_s."""
    clock = time.perf_counter
    rows = _rows(start, end)
    began = clock()
    for pk, title, created_at, region_id, user_id, tokens, fallback, phone, external, supports in rows:
        stats.cases += 1
        if created_at < since:
            previous_ids.add(pk)
        else:
            stats.current += 1
        title = title or ""
        if tokens:
            doc = mining.TopicDoc(
                id=pk,
                text=title,
                title=title,
                tokens=tokens.split(),
                when=created_at,
                person=person_key(user_id=user_id, phone=phone, external_user=external),
                region=str(region_id) if region_id else None,
                supports=supports or 0,
            )
        else:
            doc = mining.TopicDoc(
                id=pk,
                text=f"{title}\n{fallback or ''}",
                title=title,
                when=created_at,
                person=person_key(user_id=user_id, phone=phone, external_user=external),
                region=str(region_id) if region_id else None,
                supports=supports or 0,
            )
        stats.read_s += clock() - began
        yield doc
        began = clock()
    stats.read_s += clock() - began


# ---------------------------------------------------------------------------------------------- the job


def run_topics(
    *,
    now: datetime | None = None,
    window_days: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> TopicRun:
    """Mine the hot topics of the window ending at `now` and store them (module docstring). Returns the TopicRun.

    `window_days` overrides the setting (the benchmark's 365-day run). On any error the run is recorded as failed
    and the error re-raised; the topics stay as the last good run left them. The returned run carries the
    figures of this run as ``run.stats`` (a RunStats).
    """
    began = time.perf_counter()
    now = now or timezone.now()
    config = BarometerSettings.get()
    days = int(window_days or config.topic_window_days or 30)
    window = timedelta(days=max(days, 1))
    since = now - window
    run = TopicRun.objects.create(
        started_at=timezone.now(), window_start=since, window_end=now, status=TopicRun.Status.RUNNING
    )
    stats = RunStats()
    try:
        previous_ids: set[int] = set()
        mined_at = time.perf_counter()
        mined = mining.mine_topics(
            _docs(now - 2 * window, now, since, stats, previous_ids),
            since=since,
            min_size=max(int(config.topic_min_size), 1),
            threshold=float(config.topic_threshold),
            progress=progress,
        )
        stats.mine_s = time.perf_counter() - mined_at - stats.read_s
        stats.topics = len(mined)
        written_at = time.perf_counter()
        _store(
            run,
            mined,
            now=now,
            since=since,
            window=window,
            previous_ids=previous_ids,
            stats=stats,
            began=began,
        )
        stats.write_s = time.perf_counter() - written_at
    except Exception as exc:
        run.status = TopicRun.Status.FAILED  # not-a-case-status
        run.error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
        run.cases = stats.cases
        run.finished_at = timezone.now()
        run.elapsed_ms = (time.perf_counter() - began) * 1000
        logger.exception("hot topics run %s failed", run.pk)
        try:
            run.save(update_fields=["status", "error", "cases", "finished_at", "elapsed_ms"])
        except DatabaseError:  # the database itself is the trouble: the original error is the one to raise
            logger.exception("hot topics run %s: the failure could not be recorded", run.pk)
        raise
    run.stats = stats
    stats.phases = {"read": stats.read_s, "mine": stats.mine_s, "write": stats.write_s}
    logger.info(
        "hot topics run %s: %s cases, %s topics (%s new, %s gone) in %.0f ms",
        run.pk,
        stats.cases,
        stats.topics,
        stats.created,
        stats.gone,
        run.elapsed_ms,
    )
    return run


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    batch: list[int] = []
    for pk in ids:
        batch.append(pk)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _previous(queryset) -> dict[int, tuple[dict[str, float], list[int]]]:
    """{topic id: (signature, member case ids)} for match_topics, in a stable order (rank, then id)."""
    topics = list(queryset.order_by("rank", "pk").values_list("pk", "signature"))
    members: dict[int, list[int]] = {pk: [] for pk, _sig in topics}
    if topics:
        rows = TopicMember.objects.filter(topic__in=queryset.values("pk")).values_list("topic_id", "case_id")
        for topic_id, case_id in rows.iterator(chunk_size=10_000):
            if topic_id in members:
                members[topic_id].append(case_id)
    return {pk: (signature if isinstance(signature, dict) else {}, members[pk]) for pk, signature in topics}


def _apply(topic: Topic, mined: mining.Topic, *, rank: int, now: datetime, since: datetime) -> None:
    topic.label = (mined.label or mined.title or "")[:LABEL_CHARS]
    topic.keywords = list(mined.keywords)
    topic.title = (mined.title or "")[:TITLE_CHARS]
    topic.representative_case_id = mined.representative_id
    topic.signature = dict(mined.signature)
    topic.size = mined.size
    topic.previous = mined.previous
    topic.people = mined.people
    topic.supports = mined.supports
    topic.regions = mined.regions
    topic.growth = round(float(mined.growth), 4)
    topic.heat = round(float(mined.heat), 4)
    topic.rank = rank
    topic.is_active = True
    topic.last_seen_at = now
    topic.window_start = since
    topic.window_end = now
    topic.updated_at = timezone.now()  # the row writes below do not apply auto_now


_UPDATED = [
    "label", "keywords", "title", "representative_case", "signature", "size", "previous", "people", "supports",
    "regions", "growth", "heat", "rank", "trend", "is_active", "last_seen_at", "window_start", "window_end",
    "updated_at",
]  # fmt: skip


def _update_rows(objs: list[Topic], names: list[str]) -> None:
    """UPDATE each topic's `names` columns: one parameterised statement run for every row (executemany; psycopg
    pipelines it). Django's bulk_update builds one CASE per column over the whole batch, which took over a minute
    for 4,000 topics."""
    if not objs:
        return
    fields = [Topic._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(Topic._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in fields),
        quote(Topic._meta.pk.column),
    )
    params = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] + [obj.pk] for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _insert_members(rows: list[tuple[int, int, int, bool]]) -> None:
    """(topic id, case id, position, is_current) rows into TopicMember: COPY on PostgreSQL (no model instance per
    row), bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        TopicMember.objects.bulk_create(
            [TopicMember(topic_id=t, case_id=c, position=p, is_current=cur) for t, c, p, cur in rows],
            batch_size=2000,
        )
        return
    table = connection.ops.quote_name(TopicMember._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} (topic_id, case_id, position, is_current) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _match(
    mined: list[mining.Topic], *, now: datetime, window: timedelta, stats: RunStats
) -> tuple[dict[int, int], set[int]]:
    """{index in mined: topic id} and the ids of the topics active before this run."""
    active = _previous(Topic.objects.filter(is_active=True))
    matches = mining.match_topics(mined, active, threshold=MATCH_THRESHOLD) if active and mined else {}
    unmatched = [k for k in range(len(mined)) if k not in matches]
    if unmatched:
        gone = _previous(Topic.objects.filter(is_active=False, last_seen_at__gte=now - 2 * window))
        if gone:
            again = mining.match_topics([mined[k] for k in unmatched], gone, threshold=MATCH_THRESHOLD)
            for j, topic_id in again.items():
                matches[unmatched[j]] = topic_id
            stats.revived = len(again)
    return {k: int(v) for k, v in matches.items()}, set(active)


@transaction.atomic
def _store(
    run: TopicRun,
    mined: list[mining.Topic],
    *,
    now: datetime,
    since: datetime,
    window: timedelta,
    previous_ids: set[int],
    stats: RunStats,
    began: float,
) -> None:
    """The write phase, in one transaction: match, update, create, retire, members, snapshots, the run."""
    mark, _created = BarometerWatermark.objects.get_or_create(name=WATERMARK)
    BarometerWatermark.objects.select_for_update().filter(pk=mark.pk).first()  # one writer at a time

    matches, active_ids = _match(mined, now=now, window=window, stats=stats)
    existing: dict[int, Topic] = {}
    for batch in _chunks(set(matches.values())):
        existing.update(Topic.objects.in_bulk(batch))
    before = {pk: (t.trend, t.rank, t.is_active) for pk, t in existing.items()}

    kept: list[Topic] = []
    updated: list[Topic] = []
    created: list[Topic] = []
    for k, item in enumerate(mined):
        rank = k + 1  # mine_topics returns the hottest first
        topic = existing.get(matches.get(k, -1))
        if topic is None:
            topic = Topic(first_seen_at=now, trend=Topic.Trend.NEW)
            created.append(topic)
        else:
            updated.append(topic)
        _apply(topic, item, rank=rank, now=now, since=since)
        if topic.pk is not None:
            topic.trend = mining.trend(item.growth)
        kept.append(topic)
    bulk_insert(created, batch_size=1000)
    _update_rows(updated, _UPDATED)
    stats.created, stats.matched = len(created), len(updated) - stats.revived

    kept_ids = {t.pk for t in kept}
    retired = sorted(active_ids - kept_ids)
    for batch in _chunks(retired):
        stats.gone += Topic.objects.filter(pk__in=batch).update(
            is_active=False, trend=Topic.Trend.GONE, rank=None, updated_at=timezone.now()
        )
        TopicMember.objects.filter(topic_id__in=batch, is_current=True).update(is_current=False)

    # members: replaced wholesale for every topic of this run (new topics have none yet)
    for batch in _chunks(t.pk for t in updated):
        TopicMember.objects.filter(topic_id__in=batch).delete()
    members = [
        (topic.pk, case_id, position, case_id not in previous_ids)
        for topic, item in zip(kept, mined, strict=True)
        for position, case_id in enumerate(item.doc_ids)
    ]
    _insert_members(members)
    stats.members = len(members)
    bulk_insert(
        [
            TopicSnapshot(
                topic_id=t.pk, run=run, size=t.size, heat=t.heat, rank=t.rank, trend=t.trend, taken_at=now
            )
            for t in kept
        ]
    )

    run.cases = stats.cases
    run.topics = len(kept)
    run.status = TopicRun.Status.OK  # not-a-case-status
    run.finished_at = timezone.now()
    run.elapsed_ms = (time.perf_counter() - began) * 1000
    run.save(update_fields=["cases", "topics", "status", "finished_at", "elapsed_ms"])
    BarometerWatermark.objects.filter(pk=WATERMARK).update(refreshed_at=run.finished_at)
    stats.pruned = _prune_snapshots(now)
    stats.notified = _notify_followers(kept, before)


def _prune_snapshots(now: datetime) -> int:
    """Delete the snapshots of runs older than SNAPSHOT_HOURLY_DAYS that were not their local day's last good run.
    Idempotent; the deletes go by the run's index, so runs pruned before cost nothing. Returns the rows deleted."""
    runs = (
        TopicRun.objects.filter(
            status=TopicRun.Status.OK, window_end__lt=now - timedelta(days=SNAPSHOT_HOURLY_DAYS)
        )
        .order_by("window_end", "pk")
        .values_list("pk", "window_end")
    )
    last_of_day: dict[Any, int] = {}
    every: list[int] = []
    for pk, end in runs:
        last_of_day[timezone.localtime(end).date()] = pk
        every.append(pk)
    keep = set(last_of_day.values())
    deleted = 0
    for batch in _chunks(pk for pk in every if pk not in keep):
        deleted += TopicSnapshot.objects.filter(run_id__in=batch).delete()[0]
    return deleted


def _notify_followers(kept: list[Topic], before: dict[int, tuple[str, int | None, bool]]) -> int:
    """Queue in-app notices (after commit) for followers of topics that turned rising or entered the top 10."""
    reasons: dict[int, list[str]] = {}
    for topic in kept:
        was_trend, was_rank, was_active = before.get(topic.pk, ("", None, False))
        why = []
        if topic.trend == Topic.Trend.RISING and (was_trend != Topic.Trend.RISING or not was_active):
            why.append("rising")
        if (
            topic.rank is not None
            and topic.rank <= TOP_N
            and (not was_active or was_rank is None or was_rank > TOP_N)
        ):
            why.append("top")
        if why:
            reasons[topic.pk] = why
    if not reasons:
        return 0
    followers: dict[int, list[Any]] = {}
    through = Topic.followers.through
    rows = through.objects.filter(topic_id__in=list(reasons), user__is_active=True).select_related("user")
    for row in rows:
        followers.setdefault(row.topic_id, []).append(row.user)
    count = 0
    by_id = {t.pk: t for t in kept}
    for topic_id, users in followers.items():
        topic = by_id[topic_id]
        subject, body = _notice(topic, reasons[topic_id])
        transaction.on_commit(
            lambda users=users, subject=subject, body=body: notify_users(
                users=users, subject=subject, body=body, topic="barometer_topic"
            ),
            robust=True,
        )
        count += len(users)
    return count


def _notice(topic: Topic, why: list[str]) -> tuple[str, str]:
    label = topic.label[:60]
    if "rising" in why and "top" in why:
        subject = _("关注的热点“%(label)s”正在上升，进入前 %(n)s 名") % {"label": label, "n": TOP_N}
    elif "rising" in why:
        subject = _("关注的热点“%(label)s”正在上升") % {"label": label}
    else:
        subject = _("关注的热点“%(label)s”进入前 %(n)s 名") % {"label": label, "n": TOP_N}
    body = _("第 %(rank)s 名，本期 %(size)s 件，上期 %(previous)s 件，热度 %(heat).1f。%(url)s") % {
        "rank": topic.rank,
        "size": topic.size,
        "previous": topic.previous,
        "heat": topic.heat,
        "url": reverse("barometer:topic", args=[topic.pk]),
    }
    return subject[:200], body


# ---------------------------------------------------------------------------------------------- staff actions

#: At most this many of a topic's cases are dispatched by one assignment (the rest: assign the topic again).
MAX_DISPATCH = 500
NOTE_CHARS = 2000
#: The cases an assignment may dispatch: accepted and not yet sent on, or returned by a department.
DISPATCHABLE = (CaseStatus.ACCEPTED, CaseStatus.RETURNED)


@dataclass
class AssignResult:
    topic: Topic
    event: Any
    dispatched: list[int] = field(default_factory=list)
    skipped: int = 0
    remaining: int = 0


#: Unicode categories removed from a note: controls, format characters (bidi, zero-width), surrogates,
#: private use, unassigned; spaces (also the ideographic space) stay.
_UNWANTED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _clean_note(note: str) -> str:
    """The note as typed, without control characters (newlines and tabs kept); too long is refused."""
    from minyi.text.normalize import strip_invisible

    note = "".join(ch for ch in (note or "") if ch in "\n\t" or unicodedata.category(ch) not in _UNWANTED)
    note = strip_invisible(note).strip()
    if len(note) > NOTE_CHARS:
        raise ValidationFailed(_("说明不能超过 %(n)s 字。") % {"n": NOTE_CHARS}, fields={"note": _("过长")})
    return note


@transaction.atomic
def topic_assign(
    *, topic_id: int, user, department_id: int | None, note: str = "", dispatch: bool = False, now=None
) -> AssignResult:
    """Assign the topic to a department as one matter (交办): NotFound (404) if `user` may not see the topic,
    Forbidden (403) unless they may assign topics, ValidationFailed (400) for a department that does not exist.

    With `dispatch`, the topic's cases waiting for dispatch (accepted or returned) are assigned to the department
    too, each through case_transition("assign"): a normal case event each; the cases the user may not assign
    (not visible, no longer in that state, refused by the policy) are skipped and counted. One TopicEvent records
    it; the department's heads are told after commit.
    """
    from minyi.accounts.models import Department, Role, User
    from minyi.barometer import policies
    from minyi.cases import policies as case_policies
    from minyi.cases.services import case_transition
    from minyi.core.exceptions import DomainError

    now = now or timezone.now()
    visible = policies.get_topic(user, topic_id)  # 404 first: nothing about a topic out of scope
    if not policies.can_assign_topic(user):
        raise Forbidden(_("您无权交办热点。"))
    department = None
    if department_id:
        department = Department.objects.filter(pk=department_id, is_active=True).first()
    if department is None:
        raise ValidationFailed(_("请选择有效的责任部门。"), fields={"department": _("无效")})
    note = _clean_note(note)
    topic = Topic.objects.select_for_update().get(pk=visible.pk)
    previous_department = topic.department_id
    topic.department = department
    topic.assigned_at = now
    topic.assigned_by = user
    topic.save(update_fields=["department", "assigned_at", "assigned_by", "updated_at"])

    result = AssignResult(topic=topic, event=None)
    if dispatch:
        actor = case_policies.actor_for_user(user)
        waiting = list(
            TopicMember.objects.filter(topic=topic, case__status__in=DISPATCHABLE)
            .order_by("position")
            .values_list("case_id", flat=True)
        )
        result.remaining = max(len(waiting) - MAX_DISPATCH, 0)
        case_note = _("按热点“%(label)s”统一交办。") % {"label": topic.label}
        for case_id in waiting[:MAX_DISPATCH]:
            try:
                case_transition(
                    case_id=case_id,
                    action="assign",
                    actor=actor,
                    note=case_note,
                    data={"department": department.pk},
                    now=now,
                )
            except DomainError:
                result.skipped += 1
            else:
                result.dispatched.append(case_id)

    result.event = TopicEvent.objects.create(
        topic=topic,
        action="assign",
        actor=user,
        note=note,
        data={
            "department": department.pk,
            "department_name": department.name,
            "previous_department": previous_department,
            "dispatch": bool(dispatch),
            "dispatched": len(result.dispatched),
            "skipped": result.skipped,
            "remaining": result.remaining,
        },
        created_at=now,
    )
    heads = list(
        User.objects.filter(
            is_active=True, memberships__department_id=department.pk, memberships__role=Role.HEAD
        ).distinct()
    )
    if heads:
        subject = _("热点“%(label)s”已交办贵部门") % {"label": topic.label[:60]}
        body = _("%(title)s\n本期 %(size)s 件诉求，已派发 %(n)s 件。%(note)s\n%(url)s") % {
            "title": topic.title,
            "size": topic.size,
            "n": len(result.dispatched),
            "note": note,
            "url": reverse("barometer:topic", args=[topic.pk]),
        }
        transaction.on_commit(
            lambda: notify_users(
                users=heads, subject=subject[:200], body=body, topic="barometer_topic_assigned"
            ),
            robust=True,
        )
    return result


@transaction.atomic
def topic_follow_toggle(*, topic_id: int, user, now=None) -> bool:
    """Follow the topic, or stop following it; True when the user follows it afterwards. NotFound (404) when the
    user may not see it. A TopicEvent (follow / unfollow) each time."""
    from minyi.barometer import policies

    now = now or timezone.now()
    topic = policies.get_topic(user, topic_id)
    following = topic.followers.filter(pk=user.pk).exists()
    if following:
        topic.followers.remove(user)
    else:
        topic.followers.add(user)
    TopicEvent.objects.create(
        topic=topic, action="unfollow" if following else "follow", actor=user, created_at=now
    )
    return not following


# ---------------------------------------------------------------------------------------------- presenting topics

#: A topic's history as shown (page and API): one point per day (the day's last run) over this many days.
HISTORY_DAYS = 90

EVENT_LABELS = {
    "assign": gettext_lazy("交办"),
    "follow": gettext_lazy("关注"),
    "unfollow": gettext_lazy("取消关注"),
}
#: The heat formula's parts, in the order of minyi.text.topics.HEAT_WEIGHTS (what each weight multiplies).
HEAT_PARTS = {
    "size": gettext_lazy("ln(1 + 本期诉求数)"),
    "people": gettext_lazy("ln(1 + 人数)"),
    "supports": gettext_lazy("ln(1 + 附议数)"),
    "regions": gettext_lazy("ln(1 + 涉及区域数)"),
    "growth": gettext_lazy("增长率（取 −1 到 3 之间）"),
}


def _number(value: float) -> str:
    return f"{value:g}"


def heat_formula() -> dict[str, Any]:
    """The heat formula as shown on the page, from the weights the job uses."""
    weights = mining.HEAT_WEIGHTS
    terms = [
        {"key": key, "weight": _number(weights[key]), "part": str(HEAT_PARTS.get(key, key))}
        for key in weights
    ]
    text = "10 × (" + " + ".join(f"{t['weight']} × {t['part']}" for t in terms) + ")"
    return {
        "terms": terms,
        "text": _("热度 = %(formula)s") % {"formula": text},
        "growth": _("增长率 =（本期诉求数 − 上期诉求数）÷ max(上期诉求数, 1)"),
        "rising": _number(getattr(mining, "RISING", 0.5) * 100),
        "fading": _number(-getattr(mining, "FADING", -0.3) * 100),
    }


def topic_history(topic: Topic, *, days: int = HISTORY_DAYS) -> list[dict[str, Any]]:
    """One point per local day (the day's last snapshot) over the last `days` days of the topic."""
    end = topic.last_seen_at or timezone.now()
    rows = topic.snapshots.filter(taken_at__gte=end - timedelta(days=days)).order_by("taken_at", "pk")
    points: dict[str, dict[str, Any]] = {}
    for snap in rows.values("taken_at", "size", "heat", "rank", "trend"):
        day = timezone.localtime(snap["taken_at"]).strftime("%Y-%m-%d")
        trend = snap["trend"]
        points[day] = {
            "day": day,
            "size": snap["size"],
            "heat": round(snap["heat"], 1),
            "rank": snap["rank"],
            "trend": trend,
            "trend_label": str(Topic.Trend(trend).label) if trend in Topic.Trend.values else trend,
        }
    return list(points.values())
