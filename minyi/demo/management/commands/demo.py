"""Fill an empty database with the demo city 江城市: departments, categories, staff accounts and ~2,000 appeals.

    minyi demo                     # needs DJANGO_DEBUG=1; 2,000 cases over the last 90 days
    minyi demo --cases 300 --seed 7
    minyi demo --if-empty          # do nothing when cases exist (what `make run` calls)
    minyi demo --force             # run with DEBUG off (never on a production database)
    minyi demo --now 2026-06-30T18:00   # as of another moment: with --seed, the same data every time

Every case goes through the real services (submission, then each workflow action by the right role, at its
own moment), so histories, deadlines and evaluations are consistent. E-mail is not sent while it runs.
The accounts' password is MINYI_DEMO_PASSWORD when set, otherwise a random one printed at the end.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from minyi.cases.models import Case
from minyi.demo import runner

DEFAULT_SEED = 20260301


def print_logins(out, logins, password: str | None, extra: int = 0) -> None:
    rows = [("用户名 username", "角色 role", "部门 department", "密码 password")]
    rows += [
        (x.username, x.role, x.department, password or "(见首次运行输出 / see first run)") for x in logins
    ]
    widths = [max(_width(r[i]) for r in rows) for i in range(4)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out.write(line)
    for n, row in enumerate(rows):
        out.write("| " + " | ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)) + " |")
        if n == 0:
            out.write(line)
    out.write(line)
    if extra:
        out.write(
            f"另有 {extra} 个部门账号（<部门编码>-handler / <部门编码>-head，如 rsj-handler），密码相同。"
            f" ({extra} more department accounts, same password.)"
        )


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _parse_now(value: str | None) -> datetime:
    if not value:
        return timezone.now()
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"--now: {value[:40]!r} is not an ISO 8601 date and time", returncode=2) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now():
        raise CommandError("--now must not be in the future", returncode=2)
    return moment


class Command(BaseCommand):
    help = "Create the demo city, staff accounts and appeals in every state (refuses with DEBUG off)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=2000, help="how many appeals (default 2000)")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="random seed (same seed, same data)"
        )
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the database has cases")
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")
        parser.add_argument("--now", help="the moment the demo ends (ISO 8601; default: now)")

    def handle(
        self, *args, cases: int, seed: int, if_empty: bool, force: bool, now: str | None = None, **options
    ) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "refusing to write demo data with DEBUG off (this looks like a production database). "
                "Set DJANGO_DEBUG=1, or pass --force if you are sure.",
                returncode=2,
            )
        if cases < 1 or cases > 200_000:
            raise CommandError(f"--cases must be between 1 and 200000, not {cases}", returncode=2)
        moment = _parse_now(now)
        existing = Case.objects.count()
        if existing:
            if not if_empty:
                raise CommandError(
                    f"the database already holds {existing} case(s); the demo only fills an empty database "
                    "(use --if-empty to skip quietly)",
                    returncode=1,
                )
            self.stdout.write(
                f"演示数据已存在（{existing} 件诉求），未做改动。Demo data exists ({existing} cases)."
            )
            password = settings.MINYI_DEMO_PASSWORD or None
            logins = runner.main_logins()
            if logins and password and runner.password_matches(password):
                print_logins(self.stdout, logins, password)
            elif logins:
                self.stdout.write(
                    "账号密码已在首次运行时打印。忘记了可执行 `minyi demo_reset_passwords` 重新生成。"
                    " Passwords were printed at the first run; reset them with `minyi demo_reset_passwords`."
                )
            return

        password = settings.MINYI_DEMO_PASSWORD or runner.new_password()
        self.stdout.write(f"正在生成演示数据：{cases} 件诉求（seed={seed}）… Generating {cases} appeals…")

        def progress(done: int, total: int) -> None:
            if done % 500 == 0 or done >= total:
                self.stdout.write(f"  {done}/{total}")

        result = runner.generate(seed=seed, count=cases, now=moment, password=password, progress=progress)
        by_status = "  ".join(f"{status}={n}" for status, n in sorted(result.statuses.items()))
        self.stdout.write(
            f"完成 done: {result.cases} cases, {result.events} events, escalated now: {result.escalated_now}, "
            f"{result.seconds:.1f} s"
        )
        self.stdout.write(f"状态 statuses: {by_status}")
        if result.model:
            self.stdout.write(f"分类模型 model: {result.model}")
        self.stdout.write(
            f"留言板 public board: {result.published} published cases at /board/, scoreboard at /scoreboard/"
        )
        if result.barometer:
            self.stdout.write(f"晴雨表 barometer: {result.barometer} — /staff/barometer/")
        if result.open311_key:
            self.stdout.write(
                f"Open311 api_key（只显示这一次 / shown once）: {result.open311_key}  — /open311/v2/discovery.json"
            )
        if result.errors:
            self.stderr.write(f"{len(result.errors)} planned step(s) were refused by the services:")
            for line in result.errors[:20]:
                self.stderr.write(f"  {line}")
        self.stdout.write("")
        self.stdout.write("演示账号 Demo logins:")
        print_logins(self.stdout, result.logins, password, result.extra_accounts)
        if not settings.MINYI_DEMO_PASSWORD:
            self.stdout.write("密码为随机生成，只显示这一次；可用 `minyi demo_reset_passwords` 重置。")
