"""Personal data never reaches the logs: every record is passed through the text engine's masking. Secrets that
travel in URLs (the single-use feedback links' tokens) are cut out too, so that a 4xx warning of
django.request ("Bad Request: /feedback/<token>/") cannot be used to answer someone else's feedback."""

from __future__ import annotations

import logging
import re

#: URL segments that are credentials: /feedback/<token>/ (disclosure.feedback).
_URL_SECRETS = re.compile(r"(/feedback/)[A-Za-z0-9_\-]{8,}")


def redact_url_secrets(text: str) -> str:
    return _URL_SECRETS.sub(r"\1…", text)


class RedactPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            return True
        try:
            from minyi.text.pii import mask_pii

            masked = mask_pii(redact_url_secrets(message))
        except Exception:  # noqa: BLE001 - masking failure must not drop logs
            masked = message
        if masked != message:
            record.msg, record.args = masked, None
        return True
