"""Personal data never reaches the logs: every record is passed through the text engine's masking."""

from __future__ import annotations

import logging


class RedactPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            return True
        try:
            from minyi.text.pii import mask_pii

            masked = mask_pii(message)
        except Exception:  # noqa: BLE001 - masking failure must not drop logs
            masked = message
        if masked != message:
            record.msg, record.args = masked, None
        return True
