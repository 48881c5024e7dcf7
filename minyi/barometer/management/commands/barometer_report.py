"""Generate a weekly or monthly report (民意周报 / 民意月报) and archive it (docs/reports.md).

    minyi barometer_report --kind weekly                    # the last complete ISO week (Mon 07:00 by the timers)
    minyi barometer_report --kind monthly                   # the last complete month (1st 07:00)
    minyi barometer_report --kind weekly --period 2026-W48  # a given week; monthly: --period 2026-11

Idempotent: running it again for the same period replaces that report's files. Exit code 2 on bad input,
with the reason in Chinese.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from minyi.barometer import reports
from minyi.core.exceptions import ValidationFailed


class Command(BaseCommand):
    help = "Generate the weekly or monthly report (PDF and XLSX) of a period and archive it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", default="", help="weekly | monthly")
        parser.add_argument(
            "--period",
            default="",
            help="2026-W48 (weekly) or 2026-11 (monthly); default: the last complete one",
        )

    def handle(self, *args, kind: str = "", period: str = "", **options) -> None:
        with translation.override(reports.REPORT_LANGUAGE):
            if not kind:
                raise CommandError(
                    "请用 --kind 指定报告类型：weekly（周报）或 monthly（月报）。", returncode=2
                )
            try:
                start, end = reports.report_period(kind, period or None)
            except ValidationFailed as exc:
                raise CommandError(str(exc.message), returncode=2) from None
            from minyi.reports.pdf import fonts_available

            if not fonts_available():
                self.stderr.write(
                    "警告：没有找到 Noto Sans SC 字体（npm ci 安装 @expo-google-fonts/noto-sans-sc，或设置 "
                    "MINYI_FONT_DIR），PDF 中的中文可能无法显示。"
                )
            report = reports.generate_report(kind, start)
            title = reports.report_title(kind, start)
            self.stdout.write(
                f"已生成{title}（{start.isoformat()} 至 {end.isoformat()}）：{report.pdf.name}、{report.xlsx.name}"
            )
