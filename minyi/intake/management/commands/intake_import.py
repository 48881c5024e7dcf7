"""Import hotline / petition history from spreadsheets: `minyi import FILE… [--mapping mapping.toml] [--dry-run]`.

    minyi import 12345-2019.xlsx 12345-2020.csv
    minyi import export.csv --mapping docs/import-mapping.example.toml --source 12345
    minyi import export.csv --dry-run          # check columns and rows; write nothing but import-errors.csv

Each file goes in as finished cases, triaged in batches (minyi.intake.importer). Idempotent (a second run adds
nothing) and resumable (a run killed at any moment is finished by running it again). Bad rows are skipped and
listed in import-errors.csv (file, row, column, reason); the good rows go in.

Exit code: 0 when every row went in (or was there already), 1 when some rows were skipped, 2 when a file is
refused whole (unreadable, not a spreadsheet, no text column, a bad mapping file).
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minyi.accounts.models import User
from minyi.intake.importer import (
    DEFAULT_BATCH,
    ImportOptions,
    ImportRefused,
    ImportReport,
    default_actor_label,
    errors_path_default,
    import_file,
    write_errors_csv,
)
from minyi.text.records import load_mapping
from minyi.text.tabular import TableError

SHOWN_ISSUES = 20


class Command(BaseCommand):
    help = "Import history (CSV or XLSX) as finished cases, triaged; idempotent and resumable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="CSV or XLSX exports")
        parser.add_argument(
            "--mapping", help="a TOML mapping file (columns, values, defaults; see docs/import.md)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
        parser.add_argument(
            "--source", help="the system the files come from: row numbers are unique within a source (default: "
            "the mapping's `source`, else 'default')"
        )  # fmt: skip
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="rows per transaction")
        parser.add_argument(
            "--errors", default=None, help="where to write the bad rows (default ./import-errors.csv)"
        )
        parser.add_argument(
            "--no-create", action="store_true", help="report rows naming unknown categories or departments "
            "instead of creating them"
        )  # fmt: skip
        parser.add_argument(
            "--actor", help="the user name recorded as the importer (default: none, the system)"
        )
        parser.add_argument(
            "--workers", type=int, default=1, choices=(0, 1),
            help="1 (default): analyse the text of the next batch in a worker process while this one is written; "
            "0: all in this process",
        )  # fmt: skip
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, **opts) -> None:
        if opts["batch_size"] < 1 or opts["batch_size"] > 20_000:
            raise CommandError("--batch-size must be between 1 and 20000", returncode=2)
        mapping = None
        if opts["mapping"]:
            try:
                mapping = load_mapping(opts["mapping"])
            except (TableError, OSError) as exc:
                raise CommandError(str(exc), returncode=2) from None
        actor = None
        if opts["actor"]:
            actor = User.objects.filter(username=opts["actor"], is_active=True).first()
            if actor is None:
                raise CommandError(f"--actor: no active user named {opts['actor']!r}", returncode=2)
        options = ImportOptions(
            source=opts["source"],
            mapping=mapping,
            batch_size=opts["batch_size"],
            dry_run=opts["dry_run"],
            create_missing=not opts["no_create"],
            actor=actor,
            actor_label=actor.username if actor else default_actor_label(),
            workers=opts["workers"],
        )
        errors_path = opts["errors"] or errors_path_default()
        all_issues: list[tuple[str, int, str, str]] = []
        skipped_rows = False
        for name in opts["files"]:
            path = str(Path(name))
            try:
                report = self._one(path, options, quiet=opts["quiet"])
            except (TableError, ImportRefused) as exc:
                self._write_errors(errors_path, all_issues)
                raise CommandError(str(exc), returncode=2) from None
            all_issues += [(path, row, column, reason) for row, column, reason in report.issues]
            skipped_rows = skipped_rows or report.errors > 0
        self._write_errors(errors_path, all_issues)
        if all_issues:
            self.stdout.write(f"bad rows: {len(all_issues)}, listed in {errors_path}")
        if skipped_rows:
            sys.exit(1)

    def _write_errors(self, path: str, issues: list[tuple[str, int, str, str]]) -> None:
        try:
            write_errors_csv(path, issues)
        except OSError as exc:
            self.stderr.write(f"cannot write {path}: {exc.strerror or exc}")

    def _one(self, path: str, options: ImportOptions, *, quiet: bool) -> ImportReport:
        bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(
                desc=Path(path).name, unit="rows", unit_scale=True, file=sys.stderr, dynamic_ncols=True
            )

        def progress(done: int, total: int | None, report: ImportReport) -> None:
            if bar is None:
                return
            if total and bar.total != total:
                bar.total = total
                bar.n = report.rows_read - done
            bar.update(done)
            bar.set_postfix(imported=report.imported, present=report.already_present, errors=report.errors)

        try:
            report = import_file(path, options=options, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        self._summary(report)
        return report

    def _summary(self, report: ImportReport) -> None:
        out = self.stdout.write
        out(
            f"{report.path}: source {report.source!r}"
            + (" (dry run: nothing written)" if report.dry_run else "")
        )
        for name, columns in report.fields:
            out(f"  {name:14} <- {columns}")
        if report.unused_columns:
            out(f"  unused columns: {', '.join(report.unused_columns)}")
        if report.already_imported:
            out(f"  already imported by job #{report.job_id}: nothing added ({report.already_present} rows)")
            return
        if report.resumed_from:
            out(f"  resumed job #{report.job_id} after row {report.resumed_from}")
        rate = report.rows_read / report.seconds if report.seconds else 0.0
        verb = "would import" if report.dry_run else "imported"
        out(
            f"  rows read {report.rows_read:,}; {verb} {report.imported:,}; already present "
            f"{report.already_present:,}; bad rows {report.errors:,}; repeats flagged {report.repeats:,}; "
            f"{report.seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        if report.stages:
            out(
                "  time per stage: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report.stages.items(), key=lambda kv: -kv[1]))
            )
        if report.without_time:
            out(f"  {report.without_time:,} rows had no time: dated at the moment of import")
        if report.created_categories:
            shown = "、".join(report.created_categories[:20])
            out(f"  new categories ({len(report.created_categories)}): {shown}")
        if report.created_departments:
            shown = "、".join(report.created_departments[:20])
            out(f"  new departments ({len(report.created_departments)}): {shown}")
        for row, column, reason in report.issues[:SHOWN_ISSUES]:
            out(f"  row {row}" + (f" [{column}]" if column else "") + f": {reason}")
        if len(report.issues) > SHOWN_ISSUES:
            out(f"  … and {len(report.issues) - SHOWN_ISSUES:,} more bad rows")
