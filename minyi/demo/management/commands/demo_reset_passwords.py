"""Give every demo account a new random password and print the logins (when the first run's output is lost).

minyi demo_reset_passwords
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from minyi.demo import runner
from minyi.demo.management.commands.demo import print_logins


class Command(BaseCommand):
    help = "Set new random passwords for the demo accounts and print them (refuses with DEBUG off)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off")

    def handle(self, *args, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("refusing with DEBUG off; pass --force if you are sure", returncode=2)
        if not runner.demo_users().exists():
            raise CommandError("there are no demo accounts (run `minyi demo` first)", returncode=1)
        password, count = runner.reset_passwords()
        self.stdout.write(f"已为 {count} 个演示账号设置新密码。New password for {count} demo accounts:")
        print_logins(self.stdout, runner.main_logins(), password, count - len(runner.main_logins()))
