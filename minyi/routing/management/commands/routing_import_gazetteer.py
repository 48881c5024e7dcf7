"""Import the gazetteer (regions and places) from a CSV or XLSX file: docs/gazetteer.md.

    minyi routing_import_gazetteer places.csv              # import; all-or-nothing
    minyi routing_import_gazetteer places.csv --dry-run    # validate and count; write nothing
    minyi routing_import_gazetteer places.csv --encoding gb18030

Idempotent: re-importing the same file counts every row as unchanged. Exit code 2, with the errors (row
and reason), when the file cannot be read or any row is bad; nothing is written then.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minyi.core.exceptions import DomainError
from minyi.routing.gazetteer import gazetteer_import, report_lines

MAX_ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = "Import regions and places (the gazetteer) from a CSV or XLSX file (--dry-run validates only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV or XLSX file (see docs/gazetteer.md)")
        parser.add_argument("--dry-run", action="store_true", help="validate and count; write nothing")
        parser.add_argument(
            "--encoding", help="the CSV file's encoding (default: detect UTF-8, GB18030, Big5)"
        )

    def handle(self, *args, file: str, dry_run: bool = False, encoding: str | None = None, **options) -> None:
        try:
            report = gazetteer_import(path=file, dry_run=dry_run, encoding=encoding)
        except DomainError as exc:
            raise CommandError(f"{file}: {exc.message}", returncode=2)
        for line in report_lines(report):
            self.stdout.write(line)
        if report.errors:
            for row, message in report.errors[:MAX_ERRORS_SHOWN]:
                self.stderr.write(f"{file}: row {row}: {message}")
            more = len(report.errors) - MAX_ERRORS_SHOWN
            if more > 0:
                self.stderr.write(f"... and {more} more error(s)")
            raise CommandError(
                f"{file}: {len(report.errors)} error(s) in {len({r for r, _m in report.errors})} row(s); "
                "nothing was written",
                returncode=2,
            )
        if dry_run:
            self.stdout.write("dry run: nothing was written")
