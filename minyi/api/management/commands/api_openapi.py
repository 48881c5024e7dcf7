"""Write the OpenAPI document of /api/v1 to a file (docs/openapi.json is committed and a test keeps it current).

minyi api_openapi                  # writes docs/openapi.json
minyi api_openapi --out -          # prints it
minyi api_openapi --check          # exit 1 when docs/openapi.json is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from minyi.api.v1 import api

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def openapi_text() -> str:
    """The document as committed: sorted keys, two-space indent, UTF-8 (Chinese kept), final newline."""
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Write the OpenAPI document of /api/v1 (default docs/openapi.json)."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(DEFAULT_PATH), help="file to write, or - for stdout")
        parser.add_argument("--check", action="store_true", help="fail when the file differs from the API")

    def handle(self, *args, out: str, check: bool, **options):
        text = openapi_text()
        if out == "-":
            sys.stdout.write(text)
            return
        path = Path(out)
        if check:
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != text:
                raise CommandError(f"{path} is stale: run `minyi api_openapi` and commit it")
            self.stdout.write(f"{path} is current")
            return
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {path} ({len(text):,} bytes)")
