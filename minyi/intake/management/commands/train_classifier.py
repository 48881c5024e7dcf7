"""Train the category classifier on the closed cases whose category a person confirmed or corrected.

    minyi train-classifier --from-cases                    # train, store, activate when it beats the active one
    minyi train-classifier --from-cases --no-activate      # train and store only
    minyi train-classifier --from-cases --holdout 0.2 --limit 50000 --actor admin --note "月度重训"

The most recent share of the cases (--holdout, at least 20 cases) is held out: the new model and the active
one are both scored on it, and the new one is activated only when its macro-F1 is higher. Without
--from-cases, `minyi train-classifier` is the offline command that trains on files (minyi.text.commands).
Exit code 2 for too little data, bad options or an unknown --actor.
"""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from minyi.core.exceptions import ValidationFailed
from minyi.intake.learning import DEFAULT_HOLDOUT, train_from_cases
from minyi.routing.models import Category


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no login name in the environment or the password database
        return "unknown"


def _day(value: str | None) -> str:
    if not value:
        return "-"
    from datetime import datetime

    return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d")


def _figure(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _percent(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


class Command(BaseCommand):
    help = "Train the category classifier on closed cases whose category staff confirmed (--from-cases)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from-cases", action="store_true", help="learn from closed, human-categorised cases"
        )
        parser.add_argument(
            "--holdout",
            type=float,
            default=DEFAULT_HOLDOUT,
            help="share of the most recent cases held out for the comparison (default 0.1, at least 20 cases)",
        )
        parser.add_argument("--limit", type=int, help="use only the N most recent cases")
        parser.add_argument(
            "--no-activate", action="store_true", help="store the new model without activating it"
        )
        parser.add_argument("--actor", help="username recorded as who trained and switched")
        parser.add_argument("--note", default="", help="a note stored with the model (at most 200 chars)")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")

    def handle(
        self,
        *args,
        from_cases: bool = False,
        holdout: float = DEFAULT_HOLDOUT,
        limit: int | None = None,
        no_activate: bool = False,
        actor: str | None = None,
        note: str = "",
        quiet: bool = False,
        **options,
    ) -> None:
        if not from_cases:
            raise CommandError(
                _(
                    "未指定 --from-cases。从文件训练请用离线命令："
                    "minyi train-classifier --input 文件.csv --out 模型.npz（不读数据库）。"
                ),
                returncode=2,
            )
        user = None
        label = f"cli:{_os_user()}"
        if actor:
            user = get_user_model().objects.filter(username=actor, is_active=True).first()
            if user is None:
                raise CommandError(
                    _("--actor：没有名为“%(name)s”的在用账号。") % {"name": actor}, returncode=2
                )
            label = user.get_username()

        def progress(message: str) -> None:
            if not quiet:
                self.stderr.write(message)

        try:
            result = train_from_cases(
                actor=user,
                actor_label=label,
                holdout=holdout,
                limit=limit,
                activate=not no_activate,
                note=note,
                progress=progress,
            )
        except ValidationFailed as exc:
            raise CommandError(str(exc.message), returncode=2) from exc

        version = result.version
        training, held, metrics = version.training, version.holdout, result.metrics
        out = self.stdout.write
        out(
            _("训练样本 %(n)s 件（%(start)s 至 %(end)s）；留出集 %(h)s 件（%(hstart)s 至 %(hend)s）。")
            % {
                "n": version.trained_cases,
                "start": _day(training.get("from")),
                "end": _day(training.get("to")),
                "h": held.get("cases"),
                "hstart": _day(held.get("from")),
                "hend": _day(held.get("to")),
            }
        )
        out(
            _("新模型 #%(id)s：宏平均 F1 %(f1)s，准确率 %(acc)s，弃权率 %(abstain)s")
            % {
                "id": version.pk,
                "f1": _figure(metrics["macro_f1"]),
                "acc": _figure(metrics["accuracy"]),
                "abstain": _percent(metrics["abstain_rate"]),
            }
        )
        if result.baseline:
            out(
                _("在用模型（同一留出集）：宏平均 F1 %(f1)s，准确率 %(acc)s，弃权率 %(abstain)s")
                % {
                    "f1": _figure(result.baseline.get("macro_f1")),
                    "acc": _figure(result.baseline.get("accuracy")),
                    "abstain": _percent(result.baseline.get("abstain_rate")),
                }
            )
        else:
            out(_("在用模型：无"))

        per_category = metrics.get("per_category") or {}
        names = dict(Category.objects.filter(code__in=list(per_category)).values_list("code", "name"))
        header = [_("编码"), _("名称"), _("精确率"), _("召回率"), "F1", _("样本数")]
        rows = [
            [
                code,
                names.get(code, "-"),
                _figure(figures["precision"]),
                _figure(figures["recall"]),
                _figure(figures["f1"]),
                str(figures["support"]),
            ]
            for code, figures in sorted(per_category.items())
        ]
        out("")
        for row in [header, *rows]:
            out("\t".join(row))
        out("")
        out(result.message)
