"""The classifier learns from the staff: data, held-out slice, versions, switches, cache, command and admin."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from minyi import cli
from minyi.cases.models import Case
from minyi.cases.tests.factories import NOW, CategoryFactory, UserFactory, create_case, drive
from minyi.cases.workflow import CaseStatus
from minyi.core.exceptions import Conflict, ValidationFailed
from minyi.intake import learning
from minyi.intake.learning import (
    Dataset,
    active_classifier,
    classifier_activate,
    split_recent,
    train_from_cases,
    training_dataset,
)
from minyi.intake.models import ClassifierSwitch, ClassifierVersion, Triage, TriageState

S = CaseStatus
T = TriageState
pytestmark = pytest.mark.django_db

VOCABULARY = {
    "property": ["物业", "电梯", "维修", "停运", "小区", "漏水", "业主", "楼道", "保洁", "门禁"],
    "labour": ["工资", "拖欠", "劳动", "合同", "社保", "老板", "加班", "工人", "仲裁", "辞退"],
    "traffic": ["道路", "红绿灯", "拥堵", "公交", "车辆", "停车", "路口", "斑马线", "占道", "信号灯"],
}
#: Staff who confirm the wrong category, consistently: what a model trained on their choices learns.
WRONG = {"property": "labour", "labour": "traffic", "traffic": "property"}


@pytest.fixture
def categories(org):
    """The three categories of the synthetic corpus, by code (org.category is 'property')."""
    return {
        "property": org.category,
        "labour": CategoryFactory(code="labour", name="劳动保障"),
        "traffic": CategoryFactory(code="traffic", name="交通出行"),
    }


def words(code: str, seed: int) -> list[str]:
    return random.Random(seed).sample(VOCABULARY[code], 5)


def closed_case(org, *, category, tokens: list[str] | None, state=T.ACCEPTED, when=NOW, status=S.CLOSED):
    """A case moved to `status` through the services, with a triage whose category state is `state`."""
    text = tokens or ["市民", "反映"]
    case = create_case(now=when, category=category, title="".join(text[:2]), content="，".join(text))
    case, _clock = drive(case, status, org, now=when)
    Triage.objects.create(case=case, tokens=" ".join(tokens or []), category_state=state, triaged_at=when)
    return case


def corpus(org, categories, *, per_category: int = 15, start=NOW, labels=None, seed: int = 0):
    """3 x per_category closed cases with distinct vocabularies, one hour apart, categories interleaved.

    `labels` maps the true category to the one the staff confirmed (default: the true one).
    Returns [(case, true code)] oldest first.
    """
    out = []
    for i in range(per_category * 3):
        code = list(VOCABULARY)[i % 3]
        confirmed = (labels or {}).get(code, code)
        case = closed_case(
            org,
            category=categories[confirmed],
            tokens=words(code, seed * 1000 + i),
            when=start + timedelta(hours=i),
        )
        out.append((case, code))
    return out


def relabel(categories, cases, mapping, *, state=T.CORRECTED) -> None:
    """The staff correct (or mis-correct) the category of `cases`: true code -> mapping[true code]."""
    for case, code in cases:
        Case.objects.filter(pk=case.pk).update(category=categories[mapping.get(code, code)])
        Triage.objects.filter(case=case).update(category_state=state)


def run(*args) -> str:
    out = StringIO()
    call_command("train_classifier", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def admin_url(model: str, view: str, *args) -> str:
    return reverse(f"admin:intake_{model}_{view}", args=args)


# ---------------------------------------------------------------------------------------------- data


def test_training_dataset_holds_only_closed_cases_whose_category_a_person_decided(org, categories):
    prop = categories["property"]
    later = NOW + timedelta(days=1)
    # created out of order: the data set is ordered by created_at, not by id
    accepted = closed_case(org, category=prop, tokens=["电梯", "停运"], state=T.ACCEPTED, when=later)
    corrected = closed_case(org, category=prop, tokens=None, state=T.CORRECTED, when=NOW)
    staff = closed_case(org, category=prop, tokens=["物业"], state=T.STAFF, when=later + timedelta(hours=1))
    historical = closed_case(
        org,
        category=categories["labour"],
        tokens=["工资"],
        state=T.HISTORICAL,
        when=later + timedelta(hours=2),
    )
    for state in (T.SUGGESTED, T.NEEDS_PERSON, T.NONE):
        closed_case(org, category=prop, tokens=["电梯"], state=state)
    closed_case(org, category=prop, tokens=["电梯"], state=T.ACCEPTED, status=S.IN_PROGRESS)
    closed_case(org, category=prop, tokens=["电梯"], state=T.ACCEPTED, status=S.REPLIED)
    closed_case(org, category=None, tokens=["电梯"], state=T.ACCEPTED)
    drive(create_case(category=prop), S.CLOSED, org)  # closed, but never triaged

    data = training_dataset()

    assert data.case_ids == [corrected.pk, accepted.pk, staff.pk, historical.pk]
    assert data.labels == ["property", "property", "property", "labour"]
    assert data.documents[1] == ["电梯", "停运"]  # the triage's tokens
    assert data.documents[0] == f"{corrected.title}\n{corrected.content}"  # no tokens: the raw text
    assert data.created == [
        corrected.created_at,
        accepted.created_at,
        staff.created_at,
        historical.created_at,
    ]
    recent = training_dataset(limit=2)
    assert recent.case_ids == [staff.pk, historical.pk]


def test_split_recent_holds_out_the_newest_cases():
    base = NOW
    # ids and times shuffled; two cases share a moment (the id breaks the tie)
    times = [base + timedelta(hours=h) for h in (5, 0, 9, 3, 9, 1, 7, 2, 8, 4, 6, 11)]
    ids = [30, 10, 91, 40, 90, 20, 70, 25, 80, 50, 60, 99]
    data = Dataset(case_ids=ids, documents=[["w"]] * 12, labels=[f"c{i % 2}" for i in ids], created=times)

    train, held = split_recent(data, holdout=0.25, min_holdout=2)

    assert held.case_ids == [90, 91, 99]
    assert held.created == sorted(held.created)
    assert train.case_ids == [10, 20, 25, 40, 50, 30, 60, 70, 80]
    assert set(train.case_ids).isdisjoint(held.case_ids)
    assert held.labels == [f"c{i % 2}" for i in held.case_ids]
    # the minimum size wins over a small share; with fewer cases than the minimum, all are held out
    assert len(split_recent(data, holdout=0.1, min_holdout=5)[1]) == 5
    assert len(split_recent(data, holdout=0.1, min_holdout=20)[0]) == 0
    with pytest.raises(ValueError, match="holdout"):
        split_recent(data, holdout=1.0)


# ---------------------------------------------------------------------------------------------- training


def test_the_first_version_is_trained_stored_and_activated(org, categories):
    cases = corpus(org, categories)

    result = train_from_cases(actor=org.admin, note="首次训练", now=NOW + timedelta(days=3))

    version = ClassifierVersion.objects.get()
    assert result.version.pk == version.pk and result.activated and version.is_active
    assert result.baseline is None and version.baseline == {}
    blob = bytes(version.model_file)
    assert version.sha256 == hashlib.sha256(blob).hexdigest() and version.size == len(blob)
    assert version.labels == ["labour", "property", "traffic"]
    assert version.trained_cases == 25 and version.note == "首次训练"
    assert version.created_by == org.admin and version.activated_by == org.admin
    newest = [case for case, _code in cases[-20:]]
    assert version.holdout["cases"] == 20
    assert version.holdout["from"] == newest[0].created_at.isoformat()
    assert version.holdout["to"] == newest[-1].created_at.isoformat()
    assert version.training["to"] == cases[24][0].created_at.isoformat()
    assert version.training["holdout"] == 0.1 and version.training["limit"] is None
    assert version.training["params"]["random_state"] == 0
    metrics = version.metrics
    assert metrics["cases"] == 20 and metrics["macro_f1"] > 0.9
    assert set(metrics["per_category"]) == {"labour", "property", "traffic"}
    assert sum(row["support"] for row in metrics["per_category"].values()) == 20
    switch = ClassifierSwitch.objects.get()
    assert (switch.version, switch.previous, switch.actor) == (version, None, org.admin)
    assert switch.evidence["previous"] is None and switch.evidence["slice"]["cases"] == 20
    # the stored model is the one workers load
    version_id, model = active_classifier()
    assert version_id == version.pk
    assert model.predict([["工资", "拖欠", "老板"], ["红绿灯", "路口", "拥堵"]]).tolist() == [
        "labour",
        "traffic",
    ]


def test_a_worse_version_is_stored_but_not_activated(org, categories):
    cases = corpus(org, categories)
    first = train_from_cases(actor=org.admin).version
    # staff "correct" the older cases the wrong way round; the recent ones stay right
    relabel(categories, cases[:25], WRONG)

    result = train_from_cases(actor=org.admin)

    second = ClassifierVersion.objects.get(pk=result.version.pk)
    assert not result.activated and not second.is_active and second.activated_at is None
    first.refresh_from_db()
    assert first.is_active
    assert second.baseline["macro_f1"] == first.metrics["macro_f1"]  # the active one, on the same slice
    assert second.metrics["macro_f1"] < second.baseline["macro_f1"]
    assert f"#{second.pk}" in result.message and "未启用" in result.message
    assert ClassifierSwitch.objects.count() == 1

    # the service refuses it too, and does not take made-up figures for proof
    forged = {
        "candidate": {"version": second.pk, "macro_f1": 1.0},
        "previous": {"version": first.pk, "macro_f1": 0.0},
        "slice": {"fingerprint": "0" * 64},
    }
    for evidence in (None, forged):
        with pytest.raises(Conflict, match="不高于"):
            classifier_activate(version=second, actor=org.admin, evidence=evidence)
    assert list(ClassifierVersion.objects.filter(is_active=True)) == [first]
    assert ClassifierSwitch.objects.count() == 1


def test_a_better_version_is_activated_and_the_switch_is_recorded(org, categories):
    # the staff confirmed the wrong categories at first, then corrected them
    cases = corpus(org, categories, labels=WRONG)
    first = train_from_cases(actor_label="cli:ops").version
    relabel(categories, cases, {})

    result = train_from_cases(actor=org.supervisor, now=NOW + timedelta(days=5))

    second = result.version
    assert result.activated
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_active and not first.is_active
    assert second.activated_by == org.supervisor and second.activated_at == NOW + timedelta(days=5)
    assert result.baseline["macro_f1"] < result.metrics["macro_f1"]
    switch = ClassifierSwitch.objects.get(version=second)
    assert switch.previous == first
    assert (switch.actor, switch.actor_label) == (org.supervisor, org.supervisor.username)
    assert switch.created_at == NOW + timedelta(days=5)
    evidence = switch.evidence
    assert evidence["candidate"]["macro_f1"] == second.metrics["macro_f1"]
    assert evidence["previous"] == {"version": first.pk, **learning._score(second.baseline)}
    assert evidence["slice"]["cases"] == 20 and evidence["slice"]["to"] == cases[-1][0].created_at.isoformat()
    assert evidence["recomputed"] is False  # same slice, same active model: the training figures serve
    assert ClassifierSwitch.objects.get(version=first).actor_label == "cli:ops"
    # going back is refused: the old model is worse on the same recent cases
    with pytest.raises(Conflict):
        classifier_activate(version=first, actor=org.admin)


def test_stale_evidence_is_recomputed_on_the_current_slice(org, categories):
    cases = corpus(org, categories, labels=WRONG)
    train_from_cases()
    relabel(categories, cases, {})
    candidate = train_from_cases(activate=False).version
    assert not candidate.is_active
    # newer cases arrive: the recent slice moves on, so the training figures no longer count
    corpus(org, categories, per_category=4, start=NOW + timedelta(days=10), seed=7)

    switch = classifier_activate(version=candidate, actor=org.admin, evidence={"slice": candidate.holdout})

    assert switch.evidence["recomputed"] is True
    assert (
        switch.evidence["slice"]["to"] == Case.objects.order_by("-created_at").first().created_at.isoformat()
    )
    assert switch.evidence["slice"]["cases"] == 20
    assert switch.evidence["candidate"]["macro_f1"] > switch.evidence["previous"]["macro_f1"]


def test_only_one_version_can_be_active(org):
    def stored(active: bool) -> ClassifierVersion:
        return ClassifierVersion.objects.create(
            created_at=NOW, model_file=b"x", sha256=hashlib.sha256(b"x").hexdigest(), is_active=active
        )

    active = stored(True)
    other = stored(False)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClassifierVersion.objects.filter(pk=other.pk).update(is_active=True)
    assert list(ClassifierVersion.objects.filter(is_active=True)) == [active]
    with pytest.raises(Conflict):  # an active version is not activated again
        classifier_activate(version=active)


def test_active_classifier_is_cached_and_reloaded_when_the_active_version_changes(
    org, categories, django_assert_num_queries
):
    assert active_classifier() is None
    corpus(org, categories)
    first = train_from_cases().version
    second = train_from_cases(activate=False).version

    _first_id, model = active_classifier()
    with django_assert_num_queries(1):  # the active id only; the model file is not read again
        again = active_classifier()
    assert again == (first.pk, model) and again[1] is model

    # another worker switches (the rows change behind this process's back)
    ClassifierVersion.objects.filter(pk=first.pk).update(is_active=False)
    ClassifierVersion.objects.filter(pk=second.pk).update(is_active=True)
    with django_assert_num_queries(2):  # the id, then the new model file
        switched_id, switched = active_classifier()
    assert switched_id == second.pk and switched is not model
    with django_assert_num_queries(1):
        assert active_classifier()[1] is switched


def test_a_damaged_active_model_is_no_model(org, caplog):
    ClassifierVersion.objects.create(
        created_at=NOW,
        model_file=b"not a model",
        sha256=hashlib.sha256(b"not a model").hexdigest(),
        is_active=True,
    )
    assert active_classifier() is None
    assert "cannot be loaded" in caplog.text


# ---------------------------------------------------------------------------------------------- too little data


def test_too_little_data_is_refused_and_stores_nothing(org, categories):
    corpus(org, categories, per_category=3)  # 9 cases: fewer than the 20 held out
    with pytest.raises(ValidationFailed, match="9 件") as info:
        train_from_cases()
    assert info.value.code == "too_little_data"
    with pytest.raises(ValidationFailed, match="留出比例"):
        train_from_cases(holdout=1.5)
    assert not ClassifierVersion.objects.exists()


def test_one_category_is_refused(org, categories):
    for i in range(30):
        closed_case(
            org, category=categories["property"], tokens=words("property", i), when=NOW + timedelta(hours=i)
        )
    with pytest.raises(ValidationFailed, match="至少需要 2 个"):
        train_from_cases()
    assert not ClassifierVersion.objects.exists()


def test_a_category_with_a_single_training_example_is_named(org, categories):
    closed_case(org, category=categories["traffic"], tokens=words("traffic", 0), when=NOW - timedelta(days=1))
    for i in range(40):
        code = "property" if i % 2 else "labour"
        closed_case(org, category=categories[code], tokens=words(code, i), when=NOW + timedelta(hours=i))
    with pytest.raises(ValidationFailed, match=r"交通出行（traffic）"):
        train_from_cases()
    assert not ClassifierVersion.objects.exists()


# ---------------------------------------------------------------------------------------------- the command


def test_command_trains_prints_the_comparison_and_records_the_actor(org, categories):
    corpus(org, categories)

    out = run("--from-cases", "--actor", org.admin.username, "--note", "首次", "-q")

    version = ClassifierVersion.objects.get()
    assert version.is_active and version.note == "首次"
    assert "训练样本 25 件" in out and "留出集 20 件" in out
    assert f"宏平均 F1 {version.metrics['macro_f1']:.4f}" in out
    assert "在用模型：无" in out
    for code, name in (("property", "物业管理"), ("labour", "劳动保障"), ("traffic", "交通出行")):
        row = next(line for line in out.splitlines() if line.startswith(f"{code}\t"))
        assert name in row and row.endswith(f"\t{version.metrics['per_category'][code]['support']}")
    assert f"模型 #{version.pk} 已启用" in out
    assert ClassifierSwitch.objects.get().actor == org.admin

    again = run("--from-cases", "--no-activate", "--holdout", "0.3")

    second = ClassifierVersion.objects.exclude(pk=version.pk).get()
    assert not second.is_active and second.created_by is None
    assert "在用模型（同一留出集）" in again and "按要求未启用" in again
    assert second.holdout["cases"] == 20 and second.training["holdout"] == 0.3


def test_command_records_the_os_user_without_actor(org, categories, monkeypatch):
    cases = corpus(org, categories, labels=WRONG)
    train_from_cases()
    relabel(categories, cases, {})
    monkeypatch.setattr("getpass.getuser", lambda: "ops")

    out = run("--from-cases", "-q")

    assert "已启用" in out
    switch = ClassifierSwitch.objects.order_by("-id").first()
    assert switch.actor is None and switch.actor_label == "cli:ops"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from-cases",), "只有 9 件"),
        (("--from-cases", "--actor", "nobody"), "nobody"),
        (("--from-cases", "--holdout", "0"), "留出比例"),
        (("--from-cases", "--limit", "0"), "样本上限"),
        ((), "--input"),
    ],
)
def test_command_exits_2_naming_the_problem(org, categories, args, message):
    corpus(org, categories, per_category=3)
    with pytest.raises(CommandError, match=message) as info:
        run(*args)
    assert info.value.returncode == 2
    assert not ClassifierVersion.objects.exists()


def test_the_minyi_script_routes_from_cases_to_the_database_command(org, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["minyi", "train-classifier", "--from-cases", "-q"])
    assert info.value.code == 2
    assert "只有 0 件" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- admin


@pytest.fixture
def two_versions(org, categories):
    """An active model learnt from wrong categories, and a better one (stored, not active) after correction."""
    cases = corpus(org, categories, labels=WRONG)
    old = train_from_cases().version
    relabel(categories, cases, {})
    new = train_from_cases(activate=False).version
    return old, new


def test_admin_lists_versions_without_reading_model_files(client, org, two_versions):
    _old, new = two_versions
    client.force_login(org.admin)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(admin_url("classifierversion", "changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{new.metrics['macro_f1']:.4f}" in html and f"{new.baseline['macro_f1']:.4f}" in html
    assert not any("model_file" in q["sql"] for q in queries.captured_queries)
    assert client.get(admin_url("classifierversion", "add")).status_code == 403
    assert client.post(admin_url("classifierversion", "delete", new.pk), {"post": "yes"}).status_code == 403
    assert ClassifierVersion.objects.count() == 2


def test_admin_change_page_shows_the_quality_per_category(client, org, two_versions):
    _old, new = two_versions
    client.force_login(org.admin)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(admin_url("classifierversion", "change", new.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="classifier-quality"' in html
    for code, name in (("property", "物业管理"), ("labour", "劳动保障"), ("traffic", "交通出行")):
        figures = new.metrics["per_category"][code]
        assert f"<td>{code}</td><td>{name}</td><td>{figures['precision']:.4f}</td>" in html
    assert "20 件" in html  # the held-out range
    assert not any("model_file" in q["sql"] for q in queries.captured_queries)
    # read-only: a forged POST changes nothing
    assert client.post(admin_url("classifierversion", "change", new.pk), {"note": "x"}).status_code == 403


def test_admin_action_activates_one_version_and_shows_refusals(client, org, two_versions):
    old, new = two_versions
    client.force_login(org.admin)
    changelist = admin_url("classifierversion", "changelist")

    def act(*versions):
        data = {"action": "activate_selected", "_selected_action": [v.pk for v in versions]}
        return client.post(changelist, data, follow=True).content.decode()

    assert "请只选择一个模型" in act(old, new)
    assert ClassifierVersion.objects.get(is_active=True) == old

    html = act(new)
    assert f"模型 #{new.pk} 已启用" in html
    assert ClassifierVersion.objects.get(is_active=True) == new
    switch = ClassifierSwitch.objects.get(version=new)
    assert (switch.previous, switch.actor, switch.actor_label) == (old, org.admin, org.admin.username)

    assert "不高于" in act(old)  # the refusal, as the service words it
    assert ClassifierVersion.objects.get(is_active=True) == new

    switches = client.get(admin_url("classifierswitch", "changelist")).content.decode()
    assert org.admin.username in switches and "近期 20 件" in switches


def test_admin_action_needs_the_change_permission(client, org, two_versions):
    _old, new = two_versions
    viewer = UserFactory(username="t_viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_classifierversion"))
    client.force_login(viewer)
    changelist = admin_url("classifierversion", "changelist")
    assert client.get(changelist).status_code == 200
    client.post(changelist, {"action": "activate_selected", "_selected_action": [new.pk]})
    assert not ClassifierVersion.objects.get(pk=new.pk).is_active
