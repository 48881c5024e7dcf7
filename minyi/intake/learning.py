"""The category classifier learns from the staff.

Training data are closed cases whose category a person decided (a Triage in one of HUMAN_STATES). Every
trained model is stored as a ClassifierVersion. A version becomes active only when it beats the active one
on the held-out slice of the most recent such cases, and every switch is a ClassifierSwitch row saying who
switched, why, and on what evidence. Workers load the active model with ``active_classifier()``, which
keeps it in memory until the active version changes.

The held-out slice is always the most recent share of the eligible cases (by created_at, id): the candidate
never saw it, and since the slice only moves forward in time as cases arrive, neither did the model that
was trained before it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from minyi.accounts.models import User
from minyi.cases.models import Case
from minyi.cases.workflow import CaseStatus
from minyi.core import clock
from minyi.core.exceptions import Conflict, ValidationFailed
from minyi.intake.models import HUMAN_STATES, ClassifierSwitch, ClassifierVersion
from minyi.routing.models import Category
from minyi.text.classify import Classifier, ModelFileError

logger = logging.getLogger(__name__)

#: The held-out slice is at least this many cases, whatever the share.
MIN_HOLDOUT = 20
DEFAULT_HOLDOUT = 0.1
#: Parameters of the classifier trained from cases (the text engine's defaults, seeded).
CLASSIFIER_PARAMS: dict[str, Any] = {"random_state": 0}


@dataclass(frozen=True)
class Dataset:
    """Labelled documents in (created_at, id) order; the four lists are parallel."""

    case_ids: list[int]
    documents: list[list[str] | str]
    labels: list[str]
    created: list[datetime]

    def __len__(self) -> int:
        return len(self.case_ids)

    def _take(self, indices: Sequence[int]) -> Dataset:
        return Dataset(
            case_ids=[self.case_ids[i] for i in indices],
            documents=[self.documents[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            created=[self.created[i] for i in indices],
        )


@dataclass(frozen=True)
class TrainResult:
    version: ClassifierVersion
    activated: bool
    metrics: dict
    baseline: dict | None
    message: str


# ---------------------------------------------------------------------------------------------- data


def _eligible_cases():
    return Case.objects.filter(
        status=CaseStatus.CLOSED,
        category__isnull=False,
        triage__category_state__in=sorted(str(s) for s in HUMAN_STATES),
    )


def training_dataset(*, limit: int | None = None) -> Dataset:
    """Closed cases with a category that a person decided, oldest first; ``limit`` keeps the most recent N.

    A document is the triage's tokens (split on whitespace) when it has them, else the raw title and content
    (the classifier segments it).
    """
    rows = _eligible_cases().values_list(
        "id", "title", "content", "triage__tokens", "category__code", "created_at"
    )
    if limit is not None:
        rows = list(rows.order_by("-created_at", "-id")[: max(0, int(limit))])
        rows.reverse()
    else:
        rows = rows.order_by("created_at", "id").iterator(chunk_size=2000)
    case_ids: list[int] = []
    documents: list[list[str] | str] = []
    labels: list[str] = []
    created: list[datetime] = []
    for case_id, title, content, tokens, code, created_at in rows:
        words = tokens.split() if tokens else []
        case_ids.append(case_id)
        documents.append(words or f"{title}\n{content}")
        labels.append(code)
        created.append(created_at)
    return Dataset(case_ids=case_ids, documents=documents, labels=labels, created=created)


def _holdout_size(n: int, holdout: float, min_holdout: int) -> int:
    # the small epsilon keeps 0.1 * 30 (3.0000000000000004) at 3
    return min(n, max(int(min_holdout), math.ceil(n * holdout - 1e-9)))


def split_recent(
    dataset: Dataset, *, holdout: float = DEFAULT_HOLDOUT, min_holdout: int = MIN_HOLDOUT
) -> tuple[Dataset, Dataset]:
    """(training part, held-out slice): the slice is the most recent ``holdout`` share, at least
    ``min_holdout`` cases (all of them when there are fewer). Raises ValueError for a share outside (0, 1)."""
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be between 0 and 1, not {holdout!r}")
    order = sorted(range(len(dataset)), key=lambda i: (dataset.created[i], dataset.case_ids[i]))
    cut = len(order) - _holdout_size(len(order), holdout, min_holdout)
    return dataset._take(order[:cut]), dataset._take(order[cut:])


def _fingerprint(dataset: Dataset) -> str:
    """Identifies a slice: the same cases with the same labels."""
    digest = hashlib.sha256()
    for case_id, label in zip(dataset.case_ids, dataset.labels, strict=True):
        digest.update(f"{case_id}:{label}\n".encode())
    return digest.hexdigest()


def _range(dataset: Dataset) -> dict[str, Any]:
    return {
        "cases": len(dataset),
        "from": dataset.created[0].isoformat() if dataset.created else None,
        "to": dataset.created[-1].isoformat() if dataset.created else None,
    }


def _current_slice(*, holdout: float, limit: int | None) -> Dataset:
    """The held-out slice of ``split_recent(training_dataset(limit=limit), holdout=holdout)``, reading only
    the slice's rows (both are the last N cases in the same order)."""
    n = _eligible_cases().count()
    if limit is not None:
        n = min(n, limit)
    return training_dataset(limit=_holdout_size(n, holdout, MIN_HOLDOUT))


# ---------------------------------------------------------------------------------------------- metrics


def evaluate_model(model: Classifier, dataset: Dataset) -> dict:
    """Quality of ``model`` on ``dataset``: macro-F1 over the labels present, accuracy, abstention rate and
    per-category figures, all on the model's best label (an abstention is scored by the label it would have
    given), as the text engine's benchmark scores them."""
    from minyi.text.commands import evaluate

    if not len(dataset):
        return {
            "cases": 0,
            "macro_f1": 0.0,
            "accuracy": 0.0,
            "abstain_rate": 0.0,
            "per_category": {},
            "from": None,
            "to": None,
        }
    result = evaluate(model, dataset.documents, dataset.labels)
    return {
        "cases": len(dataset),
        "macro_f1": result["macro_f1"],
        "accuracy": result["accuracy"],
        "abstain_rate": result["abstention_rate"],
        "per_category": result["per_class"],
        "from": dataset.created[0].isoformat(),
        "to": dataset.created[-1].isoformat(),
    }


def _score(metrics: dict) -> dict[str, Any]:
    return {k: metrics.get(k) for k in ("macro_f1", "accuracy", "abstain_rate")}


# ---------------------------------------------------------------------------------------------- model bytes


def _to_bytes(model: Classifier) -> bytes:
    with tempfile.TemporaryDirectory(prefix="minyi-classifier-") as folder:
        path = Path(folder) / "model.npz"
        model.save(path)
        return path.read_bytes()


def _from_bytes(blob: bytes, *, sha256: str = "") -> Classifier:
    """A Classifier from a stored model file; ModelFileError when it is damaged or not one."""
    if sha256 and hashlib.sha256(blob).hexdigest() != sha256:
        raise ModelFileError("the stored model file does not match its sha256")
    with tempfile.NamedTemporaryFile(prefix="minyi-classifier-", suffix=".npz") as handle:
        handle.write(blob)
        handle.flush()
        return Classifier.load(handle.name)


def _load_version(version_id: int, sha256: str) -> Classifier:
    cached = _cache
    if cached is not None and cached[0] == version_id and cached[1] == sha256 and cached[2] is not None:
        return cached[2]
    blob = ClassifierVersion.objects.filter(pk=version_id).values_list("model_file", flat=True).first()
    if blob is None:
        raise ModelFileError(f"classifier version {version_id} has no model file")
    return _from_bytes(bytes(blob), sha256=sha256)


# ---------------------------------------------------------------------------------------------- the active model

# (version id, sha256, classifier or None when its file could not be loaded)
_cache: tuple[int, str, Classifier | None] | None = None
_cache_lock = threading.Lock()


def active_classifier() -> tuple[int, Classifier] | None:
    """The active version's id and its Classifier, or None when no model is active (or its file is damaged,
    which is logged). One small query per call; the model file is read only when the active version changed.
    Safe to call from several threads."""
    global _cache
    row = ClassifierVersion.objects.filter(is_active=True).values_list("id", "sha256").first()
    if row is None:
        return None
    version_id, sha256 = row
    cached = _cache
    if cached is None or cached[:2] != (version_id, sha256):
        with _cache_lock:
            cached = _cache
            if cached is None or cached[:2] != (version_id, sha256):
                try:
                    model: Classifier | None = _load_version(version_id, sha256)
                except ModelFileError:  # a damaged file stays damaged: remembered, not re-read
                    logger.exception("the active classifier (version %s) cannot be loaded", version_id)
                    model = None
                except OSError:  # no room for the temporary file: try again on the next call
                    logger.exception("the active classifier (version %s) cannot be loaded", version_id)
                    return None
                cached = (version_id, sha256, model)
                _cache = cached
    return (version_id, cached[2]) if cached[2] is not None else None


# ---------------------------------------------------------------------------------------------- switching


def _actor_label(actor: User | None, actor_label: str) -> str:
    label = actor_label or (actor.get_username() if actor is not None else "")
    return label[:150]


@transaction.atomic
def classifier_activate(
    *,
    version: ClassifierVersion,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
    evidence: dict | None = None,
    now: datetime | None = None,
) -> ClassifierSwitch:
    """Make ``version`` the active classifier and record the switch.

    Refused (Conflict) unless it beats the active version's macro-F1 on the current held-out slice of recent
    cases (the candidate's own holdout share and limit). The figures in ``evidence`` (from train_from_cases)
    are reused only when they are for this candidate, the version active now, and the same slice; otherwise
    both models are scored again. Locks the active row and the candidate's.
    """
    now = now or clock.now()
    rows = list(
        ClassifierVersion.objects.select_for_update()
        .filter(Q(is_active=True) | Q(pk=version.pk))
        .defer("model_file")
        .order_by("id")
    )
    candidate = next((r for r in rows if r.pk == version.pk), None)
    if candidate is None:
        raise Conflict(_("该模型版本不存在。"))
    if candidate.is_active:
        raise Conflict(_("模型 #%(id)s 已在用。") % {"id": candidate.pk})
    previous = next((r for r in rows if r.is_active), None)

    training = candidate.training or {}
    holdout = training.get("holdout") or DEFAULT_HOLDOUT
    limit = training.get("limit")
    current = _current_slice(holdout=holdout, limit=limit)
    fingerprint = _fingerprint(current)
    slice_info = {**_range(current), "holdout": holdout, "limit": limit, "fingerprint": fingerprint}
    if previous is not None and len(current) < MIN_HOLDOUT:
        raise Conflict(
            _("近期可用于比较的已办结诉求只有 %(n)s 件（至少需要 %(min)s 件），无法证明新模型更好。")
            % {"n": len(current), "min": MIN_HOLDOUT}
        )

    given = evidence or {}
    reusable = (
        (given.get("slice") or {}).get("fingerprint") == fingerprint
        and (given.get("candidate") or {}).get("version") == candidate.pk
        and (given.get("previous") or {}).get("version") == (previous.pk if previous else None)
        and (given.get("candidate") or {}).get("macro_f1") is not None
    )
    if reusable:
        candidate_score = dict(given["candidate"])
        previous_score = dict(given["previous"]) if given.get("previous") else None
    else:
        try:
            model = _load_version(candidate.pk, candidate.sha256)
        except ModelFileError:
            logger.exception("classifier version %s cannot be loaded", candidate.pk)
            raise Conflict(_("模型 #%(id)s 的文件已损坏，不能启用。") % {"id": candidate.pk}) from None
        candidate_score = {"version": candidate.pk, **_score(evaluate_model(model, current))}
        previous_score = None
        if previous is not None:
            try:
                old = _load_version(previous.pk, previous.sha256)
            except ModelFileError:  # a model that cannot be read scores nothing
                logger.exception("the active classifier (version %s) cannot be loaded", previous.pk)
                previous_score = {"version": previous.pk, "macro_f1": None, "unreadable": True}
            else:
                previous_score = {"version": previous.pk, **_score(evaluate_model(old, current))}

    previous_f1 = previous_score.get("macro_f1") if previous_score is not None else None
    if previous_f1 is not None and not candidate_score["macro_f1"] > previous_f1:
        raise Conflict(
            _(
                "模型 #%(id)s 在近期 %(n)s 件诉求上的宏平均 F1 为 %(new).4f，不高于在用模型 #%(old_id)s 的 "
                "%(old).4f，未启用。"
            )
            % {
                "id": candidate.pk,
                "n": len(current),
                "new": candidate_score["macro_f1"],
                "old_id": previous.pk,
                "old": previous_f1,
            }
        )

    if previous is not None:
        previous.is_active = False
        previous.save(update_fields=["is_active"])
    candidate.is_active = True
    candidate.activated_at = now
    candidate.activated_by = actor
    try:
        with transaction.atomic():
            candidate.save(update_fields=["is_active", "activated_at", "activated_by"])
    except IntegrityError:  # another switch committed after our snapshot: one active model only
        raise Conflict(_("另一个模型刚刚被启用，请刷新后重试。")) from None
    switch = ClassifierSwitch(
        version=candidate,
        previous=previous,
        actor=actor,
        actor_label=_actor_label(actor, actor_label),
        reason=reason[:200],
        evidence={
            "candidate": candidate_score,
            "previous": previous_score,
            "slice": slice_info,
            "recomputed": not reusable,
        },
        created_at=now,
    )
    switch.save()
    logger.info(
        "classifier version %s activated (previous %s) by %s",
        candidate.pk,
        previous.pk if previous else None,
        switch.actor_label or "-",
    )
    return switch


# ---------------------------------------------------------------------------------------------- training


def _category_names(codes: Sequence[str]) -> dict[str, str]:
    return dict(Category.objects.filter(code__in=list(codes)).values_list("code", "name"))


def _check_enough(train: Dataset, held: Dataset) -> None:
    if len(held) < MIN_HOLDOUT or not len(train):
        raise ValidationFailed(
            _(
                "可用于训练的已办结诉求（分类经人工确认或更正）只有 %(n)s 件；留出 %(min)s 件用于检验后，"
                "还需要有训练样本。"
            )
            % {"n": len(train) + len(held), "min": MIN_HOLDOUT},
            code="too_little_data",
        )
    counts = Counter(train.labels)
    if len(counts) < 2:
        raise ValidationFailed(
            _("训练部分只有 %(n)s 个分类（%(codes)s），至少需要 2 个。")
            % {"n": len(counts), "codes": "、".join(sorted(counts)) or "-"},
            code="too_little_data",
        )
    single = sorted(code for code, n in counts.items() if n == 1)
    if single:
        names = _category_names(single)
        shown = "、".join(f"{names.get(c, c)}（{c}）" for c in single[:10])
        more = _("等 %(n)s 个") % {"n": len(single)} if len(single) > 10 else ""
        raise ValidationFailed(
            _("以下分类在训练部分只有 1 件诉求：%(codes)s%(more)s；每个分类至少需要 2 件。")
            % {"codes": shown, "more": more},
            code="too_little_data",
        )


def _params(model: Classifier) -> dict[str, Any]:
    params = {}
    for key, value in model.get_params().items():
        if key in ("segmenter", "stop_words"):
            continue
        params[key] = list(value) if isinstance(value, tuple) else value
    return params


def train_from_cases(
    *,
    actor: User | None = None,
    actor_label: str = "",
    holdout: float = DEFAULT_HOLDOUT,
    limit: int | None = None,
    activate: bool = True,
    note: str = "",
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a classifier on the closed, human-categorised cases, store it, and activate it when it beats the
    active one on the held-out slice of the most recent cases.

    Raises ValidationFailed (nothing stored) for bad options or too little data. Training runs outside any
    transaction; the version is stored in one insert, and the switch is classifier_activate's.
    """
    say = progress or (lambda _message: None)
    if not isinstance(holdout, int | float) or not 0 < holdout < 1:
        raise ValidationFailed(_("留出比例须在 0 与 1 之间。"), fields={"holdout": _("无效")})
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValidationFailed(_("样本上限须为正整数。"), fields={"limit": _("无效")})
    if len(note) > 200:
        raise ValidationFailed(_("说明不能超过 200 字。"), fields={"note": _("过长")})
    now = now or clock.now()

    say(_("正在读取已办结诉求…"))
    dataset = training_dataset(limit=limit)
    train, held = split_recent(dataset, holdout=holdout, min_holdout=MIN_HOLDOUT)
    _check_enough(train, held)

    say(_("正在训练：%(n)s 件诉求…") % {"n": len(train)})
    model = Classifier(**CLASSIFIER_PARAMS)
    try:
        model.fit(train.documents, train.labels)
    except ValueError as exc:  # e.g. no document has any word to learn from
        raise ValidationFailed(
            _("无法用这些诉求训练模型：%(reason)s") % {"reason": exc}, code="too_little_data"
        ) from exc

    say(_("正在检验：留出 %(n)s 件近期诉求…") % {"n": len(held)})
    metrics = evaluate_model(model, held)
    active = active_classifier()
    baseline: dict = evaluate_model(active[1], held) if active is not None else {}
    blob = _to_bytes(model)
    holdout_info = {**_range(held), "fingerprint": _fingerprint(held)}
    train_range = _range(train)
    version = ClassifierVersion.objects.create(
        created_at=now,
        created_by=actor,
        model_file=blob,
        sha256=hashlib.sha256(blob).hexdigest(),
        size=len(blob),
        labels=[str(c) for c in model.classes_],
        trained_cases=len(train),
        training={
            "from": train_range["from"],
            "to": train_range["to"],
            "holdout": holdout,
            "limit": limit,
            "params": _params(model),
            "categories": dict(sorted(Counter(train.labels).items())),
        },
        holdout=holdout_info,
        metrics=metrics,
        baseline=baseline,
        note=note,
    )

    activated = False
    better = active is None or metrics["macro_f1"] > baseline.get("macro_f1", -1.0)
    if not activate:
        message = _("模型 #%(id)s 已保存，按要求未启用。") % {"id": version.pk}
    elif not better:
        message = _(
            "模型 #%(id)s 已保存但未启用：留出集宏平均 F1 %(new).4f 不高于在用模型 #%(old_id)s 的 %(old).4f。"
        ) % {"id": version.pk, "new": metrics["macro_f1"], "old_id": active[0], "old": baseline["macro_f1"]}
    else:
        evidence = {
            "candidate": {"version": version.pk, **_score(metrics)},
            "previous": {"version": active[0], **_score(baseline)} if active is not None else None,
            "slice": {**holdout_info, "holdout": holdout, "limit": limit},
        }
        try:
            classifier_activate(
                version=version,
                actor=actor,
                actor_label=actor_label,
                reason=_("训练后自动启用：留出集质量优于在用模型")
                if active is not None
                else _("训练后自动启用：尚无在用模型"),
                evidence=evidence,
                now=now,
            )
        except Conflict as exc:
            message = _("模型 #%(id)s 已保存但未启用：%(reason)s") % {"id": version.pk, "reason": exc.message}
        else:
            activated = True
            version.refresh_from_db(fields=["is_active", "activated_at", "activated_by"])
            message = _("模型 #%(id)s 已启用。") % {"id": version.pk}
    return TrainResult(
        version=version,
        activated=activated,
        metrics=metrics,
        baseline=baseline if active is not None else None,
        message=message,
    )
