"""The `minyi` console script (also `python -m minyi`).

Offline commands (the text engine's train/evaluate/classify, and `analyze` of minyi.reports) run
without Django or a database. Everything else is a Django management command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

OFFLINE_COMMANDS: dict[str, str] = {
    # command name -> "module:function"; the function takes argv (without the command name) and returns an exit code
    "train-classifier": "minyi.text.commands:train_classifier_main",
    "evaluate-classifier": "minyi.text.commands:evaluate_classifier_main",
    "classify": "minyi.text.commands:classify_main",
    "analyze": "minyi.reports.analyze:analyze_main",
}


#: `minyi <alias>` runs the management command named here (names that Python or Django would not take as module names).
DJANGO_ALIASES: dict[str, str] = {"import": "intake_import"}


def _resolve(target: str) -> Callable[[list[str]], int]:
    import importlib

    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def _wants_django(argv: list[str]) -> bool:
    # `train-classifier --from-cases` reads cases from the database (issue 4): hand it to Django.
    return "--from-cases" in argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    command = argv[1] if len(argv) > 1 else ""
    if command in OFFLINE_COMMANDS and not _wants_django(argv[2:]):
        return int(_resolve(OFFLINE_COMMANDS[command])(argv[2:]) or 0)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load the settings now, to report a bad environment plainly
    except ImproperlyConfigured as exc:
        sys.stderr.write(
            f"minyi: configuration error: {exc}\n"
            "Set it in the environment or in .env (see .env.example); for local development, DJANGO_DEBUG=1.\n"
        )
        return 2

    argv[0] = "minyi"
    if command in DJANGO_ALIASES:
        argv[1] = DJANGO_ALIASES[command]
    elif command in OFFLINE_COMMANDS:  # the database-backed variant is a management command with underscores
        argv[1] = command.replace("-", "_")
    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
