"""Planning the demo: who writes what, when, and which path each case takes. Pure: no database.

A plan is a list of CasePlan, each with the text of the appeal and the steps its case will take (action, who,
delay after the previous step). The same seed, count and `now` give the same plans.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from minyi.demo import city, phrases

HOUR = 1.0
DAY = 24.0
MAX_AGE_HOURS = 89 * DAY

#: final status -> weight (per 100 cases); every status gets at least one case.
STATUS_WEIGHTS = {
    "submitted": 4,
    "accepted": 3,
    "declined": 3,
    "referred": 2,
    "assigned": 4,
    "returned": 2,
    "in_progress": 12,
    "replied": 8,
    "closed": 56,
    "merged": 3,
    "under_review": 3,
}
KIND_WEIGHTS = {"complaint": 42, "help": 20, "question": 10, "suggestion": 6, "praise": 3, "petition": 19}
HOTLINE_CHANNELS = {"phone": 45, "web": 35, "api": 8, "open311": 4, "letter": 4, "visit": 4}
PETITION_CHANNELS = {"letter": 35, "visit": 25, "web": 40}
PRAISE_CATEGORIES = ["elderly", "medical", "bus", "traffic"]
STAFF_CHANNELS = {"phone", "letter", "visit"}
#: kinds whose text may be repeated by a neighbour (a near-duplicate)
DUPLICABLE = ("complaint", "help", "petition")


@dataclass
class Step:
    action: str
    who: str  # intake | dispatcher | handler | head | supervisor | citizen | system
    delay: float  # hours after the previous step
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    #: "evaluation_window": run just after the case's evaluation window instead of after `delay`
    at: str = ""


@dataclass
class CasePlan:
    index: int
    target: str
    created_at: datetime
    kind: str
    priority: str
    channel: str
    category: str
    region: str
    department: str
    title: str
    content: str
    address: str
    latitude: str
    longitude: str
    is_anonymous: bool
    contact: dict[str, str]
    registered: bool
    steps: list[Step]
    #: the filled-in names of the appeal (estate, company ...), so that the reply speaks of the same things
    slots: dict[str, str] = field(default_factory=dict)
    reply: str = ""
    #: merged plans: which planned case they repeat (chosen again at run time among open cases)
    duplicate_of: int | None = None


class _Slots(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def weighted(rng: random.Random, table: dict[str, float]) -> str:
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys], k=1)[0]


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"


def person(rng: random.Random) -> str:
    return rng.choice(phrases.SURNAMES) + rng.choice(phrases.GIVEN)


def fill(template: str, slots: dict[str, str]) -> str:
    return template.format_map(_Slots(slots))


@dataclass(frozen=True)
class Place:
    district: str
    district_code: str
    street: str
    street_index: int
    community: str
    region_code: str
    centre: tuple[float, float]


def places() -> list[Place]:
    """Every community of the city, in a fixed order (the same as the regions the demo creates)."""
    out = []
    for name, code, streets, centre in city.DISTRICTS:
        for s, street in enumerate(streets):
            for c in range(3):
                stem = city.COMMUNITY_STEMS[(s * 3 + c + len(code)) % len(city.COMMUNITY_STEMS)]
                suffix = city.COMMUNITY_SUFFIXES[c] if name.endswith("县") else "社区"
                out.append(
                    Place(name, code, street, s, f"{stem}{suffix}", f"jc-{code}-{s + 1}-{c + 1}", centre)
                )
    return out


def route(rng: random.Random, category: str, place: Place, kind: str) -> str:
    """The department the dispatcher will choose (a department code)."""
    if kind == "petition" and rng.random() < 0.35:
        return city.PETITION_DEPARTMENT
    spec = next(c for c in city.CATEGORIES if c.code == category)
    choice = weighted(rng, dict(spec.handlers))
    if choice == "street":
        if place.street_index < city.STREET_OFFICES_PER_DISTRICT:
            return f"{place.district_code}-gov-s{place.street_index + 1}"
        return f"{place.district_code}-gov"
    if choice == "district":
        return f"{place.district_code}-gov"
    return choice


def all_department_codes() -> list[str]:
    codes = [code for code, *_rest in city.DEPARTMENTS]
    for _name, code, _streets, _centre in city.DISTRICTS:
        codes.append(f"{code}-gov")
        codes += [f"{code}-gov-s{k + 1}" for k in range(city.STREET_OFFICES_PER_DISTRICT)]
    return codes


def approval_departments() -> set[str]:
    return {code for code, _name, _parent, approval in city.DEPARTMENTS if approval}


# ---------------------------------------------------------------------------------------------- text


def district_estates(district_code: str) -> list[str]:
    """The estates (小区) of a district: every sixth of phrases.ESTATES, so each estate lies in one district (the
    demo's gazetteer says where, and the appeals that name it are about that district)."""
    codes = [code for _name, code, _streets, _centre in city.DISTRICTS]
    i = codes.index(district_code)
    return phrases.ESTATES[i :: len(codes)]


def compose(rng: random.Random, kind: str, category: str, place: Place) -> tuple[str, str, dict, dict, str]:
    """Title and content of one appeal, the person's contact details, the slots used, and the reply it gets."""
    name = person(rng)
    phone = mobile(rng)
    road, road2 = rng.sample(phrases.ROADS, 2)
    slots = {
        "estate": rng.choice(district_estates(place.district_code)),
        "road": road,
        "road2": road2,
        "company": rng.choice(phrases.COMPANIES),
        "developer": rng.choice(phrases.DEVELOPERS),
        "property": rng.choice(phrases.PROPERTY_COMPANIES),
        "school": place.district + rng.choice(phrases.SCHOOLS),
        "hospital": rng.choice(phrases.HOSPITALS),
        "bus": rng.choice(phrases.BUSES),
        "shop": rng.choice(phrases.SHOPS),
        "months": str(rng.randint(2, 9)),
        "amount": str(rng.randint(3, 80) * 1000 + rng.choice([0, 500])),
        "n": str(rng.randint(3, 40)),
        "building": str(rng.randint(1, 28)),
        "floor": str(rng.randint(6, 32)),
        "days": str(rng.randint(3, 20)),
        "district": place.district,
        "street": place.street,
        "community": place.community,
        "person": name,
        "phone": phone,
    }
    contact = {"name": name, "phone": phone}
    if kind == "praise":
        title, body = rng.choice(phrases.PRAISE)
        return fill(title, slots), fill(body, slots), contact, slots, PRAISE_REPLY
    text = phrases.CATEGORY_TEXT[category]
    if kind == "question":
        question = fill(rng.choice(text["questions"]), slots)
        title = question.split("？")[0][:28] + "？"
        return title, fill(rng.choice(phrases.OPENINGS), slots) + question, contact, slots, QUESTION_REPLY
    if kind == "suggestion":
        suggestion = fill(rng.choice(text["suggestions"]), slots)
        title = "建议：" + re.sub(r"^建议", "", suggestion)[:24].rstrip("，。")
        content = (
            fill(rng.choice(phrases.OPENINGS), slots) + suggestion + fill(rng.choice(phrases.ASKS), slots)
        )
        return title, content, contact, slots, SUGGESTION_REPLY

    issue_title, problem, specific, reply = rng.choice(text["issues"])
    title = fill(issue_title, slots)
    parts = []
    if rng.random() < 0.1:
        parts.append(fill(rng.choice(phrases.NAME_LINES), slots))
    parts.append(fill(rng.choice(phrases.OPENINGS), slots))
    parts.append(fill(problem, slots))
    details = [*specific, *text["details"]]
    length = rng.choices([0, 1, 2, 3], weights=[20, 40, 28, 12], k=1)[0]
    parts += [fill(d, slots) for d in rng.sample(details, min(length, len(details)))]
    if rng.random() < 0.6:
        parts.append(rng.choice(phrases.IMPACTS))
    if kind == "petition":
        parts.append(rng.choice(phrases.PETITION_ADDONS))
    parts.append(rng.choice(phrases.ASKS))
    if rng.random() < 0.15:
        parts.append(fill(rng.choice(phrases.PHONE_LINES), slots))
    content = "".join(parts)
    if rng.random() < 0.05:  # the short, impatient message
        content = fill(problem, slots).split("，")[0] + "，请尽快处理！"
    return title, content, contact, slots, reply


def near_duplicate(rng: random.Random, title: str, content: str) -> tuple[str, str]:
    """The same complaint in other words: a few edits, as when neighbours write about one problem."""
    variants = [
        ("我们", "我们楼"),
        ("非常", "特别"),
        ("希望", "强烈要求"),
        ("已经", "都已经"),
        ("。", "！"),
    ]
    for old, new in rng.sample(variants, 2):
        content = content.replace(old, new, 1)
    extra = rng.choice(["同样的问题邻居也反映过。", "再次反映：", "还是这个问题，", ""])
    if extra.endswith(("：", "，")):
        content = extra + content
    else:
        content = content + extra
    if rng.random() < 0.5:
        title = title + "（再次反映）"
    return title[:200], content


PRAISE_REPLY = "感谢您对我们工作的肯定，我们已将您的表扬转达给相关工作人员，我们将继续做好服务。"
QUESTION_REPLY = (
    "您咨询的问题答复如下：相关政策和办理流程已在市政府门户网站公开，"
    "您也可以携带身份证件到区政务服务中心咨询办理，或拨打12345热线查询。"
)
SUGGESTION_REPLY = "感谢您的建议。我们已组织研究，将结合实际纳入下一步工作计划统筹考虑。"


def reply_text(rng: random.Random, template: str, slots: dict[str, str]) -> str:
    """The department's answer: the issue's own reply, filled with the same names as the appeal."""
    body = fill(template, {**slots, "days": str(rng.randint(3, 15)), "n": str(rng.randint(2, 9))})
    return f"您好！{body}感谢您对我们工作的理解和支持。"


# ---------------------------------------------------------------------------------------------- paths


def _u(rng: random.Random, low: float, high: float) -> float:
    return rng.uniform(low, high)


def _handling(rng, plan_kind: str, department: str, wrong_department: str) -> list[Step]:
    """accept .. reply (the reply is sent at the end)."""
    petition = plan_kind == "petition"
    steps = [Step("accept", "intake", _u(rng, 3 * DAY, 12 * DAY) if petition else _u(rng, 0.3, 18))]
    if rng.random() < 0.08:
        steps += [
            Step("assign", "dispatcher", _u(rng, 0.2, 5), data={"department": wrong_department}),
            Step("return", "handler", _u(rng, 1, 20), note=rng.choice(phrases.RETURN_REASONS)),
        ]
    steps.append(Step("assign", "dispatcher", _u(rng, 0.2, 6), data={"department": department}))
    steps.append(Step("start", "handler", _u(rng, 0.5, 28)))
    steps += _middle(rng, petition)
    steps += _reply(rng, petition, department)
    return steps


def _middle(rng, petition: bool) -> list[Step]:
    steps = []
    if rng.random() < (0.25 if petition else 0.06):
        steps.append(
            Step(
                "request_extension",
                "handler",
                _u(rng, 2 * DAY, 20 * DAY) if petition else _u(rng, 4, 60),
                note=rng.choice(phrases.EXTENSION_REASONS),
                data={"days": rng.choice([7, 10, 15, 20, 30])},
            )
        )
        if rng.random() < 0.75:
            steps.append(Step("approve_extension", rng.choice(["head", "supervisor"]), _u(rng, 1, 30)))
        else:
            steps.append(
                Step("deny_extension", "supervisor", _u(rng, 1, 30), note="延期理由不充分，请按期办结。")
            )
    if rng.random() < 0.05:
        steps.append(Step("add_info", "citizen", _u(rng, 2, 30), data={"text": rng.choice(phrases.ADD_INFO)}))
    if rng.random() < 0.05:
        steps.append(Step("escalate", "supervisor", _u(rng, 2, 40), note=rng.choice(phrases.ESCALATE_NOTES)))
    return steps


def _reply(rng, petition: bool, department: str) -> list[Step]:
    handle = _u(rng, 5 * DAY, 45 * DAY) if petition else rng.choice([_u(rng, 8, 100), _u(rng, 60, 200)])
    if department not in approval_departments():
        return [Step("reply", "handler", handle)]
    steps = [Step("reply", "handler", handle)]  # waits for the head
    if rng.random() < 0.12:
        steps += [
            Step("reject_reply", "head", _u(rng, 1, 20), note=rng.choice(phrases.REJECT_REPLY_NOTES)),
            Step("reply", "handler", _u(rng, 2, 30)),
        ]
    steps.append(Step("approve_reply", "head", _u(rng, 0.5, 24)))
    return steps


def _evaluation(rng) -> list[Step]:
    """After a reply: the citizen rates, or does not (the system closes after the window)."""
    roll = rng.random()
    if roll < 0.30:
        return [Step("close", "system", 7 * DAY + 1, at="evaluation_window")]
    rating = "satisfied" if roll < 0.72 else "basically_satisfied" if roll < 0.88 else "dissatisfied"
    data = {"rating": rating, "resolved": rating != "dissatisfied" or rng.random() < 0.2}
    note = rng.choice(phrases.DISSATISFIED_REASONS) if rating == "dissatisfied" else ""
    return [Step("evaluate", "citizen", _u(rng, 1, 120), note=note, data=data)]


def _after_dissatisfied(rng, kind: str, department: str, wrong: str) -> list[Step]:
    if rng.random() < 0.6:
        return [Step("close", "supervisor", _u(rng, 5, 90), note=rng.choice(phrases.SUPERVISOR_CLOSE_NOTES))]
    steps = [Step("reopen", "supervisor", _u(rng, 5, 90), note=rng.choice(phrases.REOPEN_NOTES))]
    steps.append(Step("start", "handler", _u(rng, 1, 24)))
    steps += _reply(rng, kind == "petition", department)
    steps.append(Step("evaluate", "citizen", _u(rng, 2, 100), data={"rating": "satisfied", "resolved": True}))
    return steps


def path(rng: random.Random, target: str, kind: str, department: str, wrong: str) -> tuple[list[Step], float]:
    """The steps to `target` and how long the case then waits until now (hours)."""
    petition = kind == "petition"
    if target == "merged":
        return [], 0.0  # made at run time, as a repeat of a case that is still open
    if target == "submitted":
        return [], rng.choice([_u(rng, 0.1, 20), _u(rng, 20, 70)])
    if target == "accepted":
        return [Step("accept", "intake", _u(rng, 0.3, 12))], _u(rng, 0.1, 40)
    if target == "declined":
        return [Step("decline", "intake", _u(rng, 0.5, 30), note=rng.choice(phrases.DECLINE_REASONS))], _u(
            rng, 0, 80 * DAY
        )
    if target == "referred":
        body, reason = rng.choice(phrases.REFERRALS)
        steps = [Step("accept", "intake", _u(rng, 0.5, 10))] if rng.random() < 0.3 else []
        steps.append(Step("refer", "intake", _u(rng, 0.5, 20), note=reason, data={"referred_to": body}))
        return steps, _u(rng, 0, 80 * DAY)
    handling = _handling(rng, kind, department, wrong)
    start = next(i for i, s in enumerate(handling) if s.action == "start")
    if target == "assigned":
        return handling[:start], _u(rng, 0.1, 30)
    if target == "returned":
        steps = [s for s in handling[:start] if s.action != "return"]
        steps = [s for s in steps if not (s.action == "assign" and s.data.get("department") == wrong)]
        steps.append(Step("return", "handler", _u(rng, 1, 20), note=rng.choice(phrases.RETURN_REASONS)))
        return steps, _u(rng, 0.1, 30)
    if target == "in_progress":
        cut = next(i for i, s in enumerate(handling) if s.action == "reply")
        steps = handling[:cut]
        if rng.random() < 0.15 and department in approval_departments():
            steps.append(Step("reply", "handler", _u(rng, 8, 80)))  # a reply waiting for the head
            return steps, _u(rng, 0.1, 20)
        return steps, (
            _u(rng, 1 * DAY, 40 * DAY) if petition else rng.choice([_u(rng, 1, 80), _u(rng, 80, 240)])
        )
    if target == "replied":
        if rng.random() < 0.35:
            reason = rng.choice(phrases.DISSATISFIED_REASONS)
            steps = [*handling, Step("evaluate", "citizen", _u(rng, 1, 100), note=reason,
                                     data={"rating": "dissatisfied", "resolved": False})]  # fmt: skip
            return steps, _u(rng, 0.1, 60)
        return handling, _u(rng, 0.1, 6.5 * DAY)
    if target == "under_review":
        steps = handling + (_evaluation(rng) if rng.random() < 0.5 else [])
        steps = [s for s in steps if s.at != "evaluation_window"]
        steps.append(
            Step("request_review", "citizen", _u(rng, 24, 20 * DAY), note=rng.choice(phrases.REVIEW_REQUESTS))
        )
        return steps, _u(rng, 0.1, 25 * DAY)
    # closed
    steps = list(handling)
    evaluation = _evaluation(rng)
    steps += evaluation
    if evaluation[0].data.get("rating") == "dissatisfied":
        steps += _after_dissatisfied(rng, kind, department, wrong)
    elif rng.random() < 0.06:
        decision = "upheld" if rng.random() < 0.7 else "redo"
        steps.append(
            Step("request_review", "citizen", _u(rng, 24, 15 * DAY), note=rng.choice(phrases.REVIEW_REQUESTS))
        )
        steps.append(
            Step(
                "decide_review",
                "supervisor",
                _u(rng, 24, 20 * DAY),
                note=rng.choice(phrases.REVIEW_DECISIONS[decision]),
                data={"decision": decision},
            )
        )
        if decision == "redo":
            steps.append(Step("start", "handler", _u(rng, 1, 24)))
            steps += _reply(rng, petition, department)
            steps.append(Step("evaluate", "citizen", _u(rng, 2, 100), data={"rating": "basically_satisfied"}))
    return steps, _u(rng, 0, 60 * DAY)


def _fit(steps: list[Step], tail: float) -> float:
    """Shorten the longest ordinary delays until the whole history fits in the last 89 days."""

    def total() -> float:
        return sum(s.delay for s in steps) + tail

    while total() > MAX_AGE_HOURS:
        movable = [s for s in steps if not s.at and s.delay > 2]
        if not movable and tail <= 1:
            break
        longest = max(movable, key=lambda s: s.delay, default=None)
        if longest is not None and (longest.delay >= tail or tail <= 1):
            longest.delay /= 2
        else:
            tail /= 2
    return tail


def targets(rng: random.Random, count: int) -> list[str]:
    """Final statuses for `count` cases: proportional to the weights, every status at least once."""
    total = sum(STATUS_WEIGHTS.values())
    counts = {s: max(1, round(count * w / total)) for s, w in STATUS_WEIGHTS.items()}
    while sum(counts.values()) > count and counts["closed"] > 1:
        counts["closed"] -= 1
    while sum(counts.values()) < count:
        counts["closed"] += 1
    out = [s for s, n in counts.items() for _ in range(n)]
    rng.shuffle(out)
    return out


def plan(*, seed: int, count: int, now: datetime) -> list[CasePlan]:
    """Every case of the demo, oldest first. Deterministic in (seed, count, now)."""
    rng = random.Random(seed)
    where = places()
    categories = [c for c in city.CATEGORIES if c.weight]
    departments = all_department_codes()
    plans: list[CasePlan] = []
    for index, target in enumerate(targets(rng, count)):
        kind = weighted(rng, KIND_WEIGHTS)
        if kind in ("praise", "question", "suggestion") and target in (
            "returned",
            "under_review",
            "referred",
        ):
            kind = "complaint"
        category = (
            rng.choice(PRAISE_CATEGORIES)
            if kind == "praise"
            else rng.choices([c.code for c in categories], weights=[c.weight for c in categories], k=1)[0]
        )
        place = rng.choice(where)
        department = route(rng, category, place, kind)
        wrong = rng.choice([d for d in departments if d != department and d != "hotline"])
        channel = weighted(rng, PETITION_CHANNELS if kind == "petition" else HOTLINE_CHANNELS)
        priority = "urgent" if kind in ("complaint", "help") and rng.random() < 0.06 else "ordinary"
        title, content, contact, slots, reply_template = compose(rng, kind, category, place)
        anonymous = channel in ("web", "api", "open311") and rng.random() < 0.08
        if rng.random() < 0.3:
            contact["email"] = f"jc{index:05d}@example.com"
        steps, tail = path(rng, target, kind, department, wrong)
        for step in steps:
            if step.action == "reply":
                step.data = {"text": reply_text(rng, reply_template, slots)}
        tail = _fit(steps, tail)
        age = sum(s.delay for s in steps) + tail
        created = now - timedelta(hours=age)
        lat, lon = place.centre
        plans.append(
            CasePlan(
                index=index,
                target=target,
                created_at=created,
                kind=kind,
                priority=priority,
                channel=channel,
                category=category,
                region=place.region_code,
                department=department,
                title=title,
                content=content,
                address=f"{place.district}{place.street}{rng.choice(phrases.ROADS)}{rng.randint(1, 300)}号",
                latitude=f"{lat + rng.uniform(-0.03, 0.03):.6f}",
                longitude=f"{lon + rng.uniform(-0.03, 0.03):.6f}",
                is_anonymous=anonymous,
                contact={} if anonymous else contact,
                registered=channel == "web" and not anonymous and rng.random() < 0.05,
                steps=steps,
                slots=slots,
                reply=reply_template,
            )
        )
    plans.sort(key=lambda p: (p.created_at, p.index))
    _burst(plans, seed=seed, now=now, where=where)
    # a few near-duplicates that nobody merged (for the duplicate finder), and the texts of merged ones
    earlier: list[CasePlan] = []
    for p in plans:
        if p.target == "merged" or (earlier and p.kind in DUPLICABLE and rng.random() < 0.02):
            sources = [e for e in earlier if e.kind in DUPLICABLE]
            source = rng.choice(sources) if sources else None
            if source is not None:
                p.kind = source.kind if p.kind in DUPLICABLE else p.kind
                p.title, p.content = near_duplicate(rng, source.title, source.content)
                p.category, p.region = source.category, source.region
                p.slots, p.reply = source.slots, source.reply
                for step in p.steps:
                    if step.action == "reply":
                        step.data = {"text": reply_text(rng, p.reply, p.slots)}
                p.duplicate_of = source.index
        if p.target != "merged":
            earlier.append(p)
    return plans


BURST_TITLES = (
    "{estate}小区连续多日停水",
    "{estate}停水三天了没人管",
    "{estate}小区突然停水，什么时候恢复供水？",
    "{estate}{building}栋停水无人处理",
)
BURST_TEXTS = (
    "{estate}小区从前天开始全小区停水，物业说是二次供水泵房水泵坏了，到现在还没有修好。",
    "我们{estate}小区{building}栋已经停水{days}个小时，家里老人小孩没法做饭洗澡，物业电话打不通。",
    "{estate}小区停水，{property}没有任何通知，业主只能到外面买水，请尽快恢复供水。",
    "{estate}小区二次供水泵房故障，整个小区停水，几百户居民生活受影响，很多业主准备一起去物业讨说法。",
)
BURST_REPLY = (
    "接到反映后，街道会同供水公司到{estate}小区二次供水泵房现场核查，已督促{property}更换故障水泵，"
    "小区已于当日恢复供水；我局将督促物业建立泵房巡检制度。"
)


def _burst(plans: list[CasePlan], *, seed: int, now: datetime, where: list[Place]) -> None:
    """A matter that flares up in the last three days (one estate's water cut off), so that the barometer's hot
    topics and early warning have something real to find. Only the texts and places of recent complaints and
    requests for help change; their number, timing and paths stay as planned."""
    rng = random.Random(seed + 99)
    recent = [
        p for p in plans
        if p.created_at >= now - timedelta(days=3) and p.kind in ("complaint", "help") and p.target != "merged"
    ]  # fmt: skip
    if len(plans) < 200 or len(recent) < 8:
        return
    place = where[0]
    estate = district_estates(place.district_code)[0]
    for p in rng.sample(recent, min(16, len(recent) // 2)):
        slots = {
            **p.slots,
            "estate": estate,
            "building": str(rng.randint(1, 12)),
            "days": str(rng.randint(20, 60)),
        }
        slots.setdefault("property", rng.choice(phrases.PROPERTY_COMPANIES))
        p.category, p.region = "property", place.region_code
        old, p.department = p.department, route(rng, "property", place, p.kind)
        p.title = fill(rng.choice(BURST_TITLES), slots)
        p.content = fill(rng.choice(BURST_TEXTS), slots) + rng.choice(phrases.ASKS)
        p.slots, p.reply = slots, BURST_REPLY
        p.address = f"{place.district}{place.street}{estate}"
        for step in p.steps:
            if step.data.get("department") == old:
                step.data["department"] = p.department
            if step.action == "reply":
                step.data = {"text": reply_text(rng, p.reply, p.slots)}
