"""Personal data never reaches the logs: the redaction filter on every handler."""

from __future__ import annotations

import logging
import sys
import types

import pytest

from minyi.core.logging import RedactPersonalDataFilter


def _record(msg, *args) -> logging.LogRecord:
    return logging.LogRecord("minyi.test", logging.INFO, __file__, 1, msg, args, None)


def _emit(msg, *args) -> str:
    record = _record(msg, *args)
    assert RedactPersonalDataFilter().filter(record) is True
    return record.getMessage()


def test_phone_numbers_are_masked_in_messages_and_arguments():
    out = _emit("市民%s来电，身份证%s", "13812345678", "11010519491231002X")
    assert "13812345678" not in out
    assert "11010519491231002X" not in out
    assert out.startswith("市民")


def test_message_without_personal_data_is_untouched():
    record = _record("case %s accepted", 42)
    RedactPersonalDataFilter().filter(record)
    assert (record.msg, record.args) == ("case %s accepted", (42,))


def test_a_broken_format_string_keeps_the_record():
    record = _record("%s %s", "only one")
    assert RedactPersonalDataFilter().filter(record) is True


def test_masking_failure_keeps_the_record(monkeypatch):
    broken = types.ModuleType("minyi.text.pii")

    def mask_pii(text):
        raise RuntimeError("boom")

    broken.mask_pii = mask_pii
    monkeypatch.setitem(sys.modules, "minyi.text.pii", broken)
    record = _record("电话 %s", "13812345678")
    assert RedactPersonalDataFilter().filter(record) is True


def test_configured_handlers_carry_the_filter(settings):
    handlers = settings.LOGGING["handlers"]
    assert all("redact_pii" in h.get("filters", []) for h in handlers.values())


def test_end_to_end_through_a_logger():
    logger = logging.getLogger("minyi.redaction-test")
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactPersonalDataFilter())
    logger.addHandler(handler)
    try:
        logger.warning("联系电话 %s", "139-1234-5678")
    finally:
        logger.removeHandler(handler)
    assert len(seen) == 1
    assert "139-1234-5678" not in seen[0] and "12345678" not in seen[0]
    assert seen[0].startswith("联系电话 ")


@pytest.mark.parametrize("value", ["zhang.san@example.com", "13900001111"])
def test_various_kinds(value):
    assert value not in _emit("内容：%s", value)


def test_feedback_link_tokens_are_cut_out_of_log_lines():
    token = "SaGyNYQp0GfaV2fKeeM9wE-pr-kJoS06QeK3YFzHWYg"
    line = _emit("Bad Request: %s", f"/feedback/{token}/")
    assert token not in line and line.startswith("Bad Request: /feedback/")
