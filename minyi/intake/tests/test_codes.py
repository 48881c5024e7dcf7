"""Tracking numbers and query codes."""

from __future__ import annotations

import re
from datetime import date

import pytest

from minyi.intake import codes
from minyi.intake.models import TrackingSequence

ALPHABET = set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")


def test_query_code_shape():
    for _ in range(200):
        code = codes.new_query_code()
        assert len(code) == 12
        assert set(code) <= ALPHABET
    assert not set("01OIL") & ALPHABET


def test_query_codes_do_not_repeat():
    assert len({codes.new_query_code() for _ in range(2000)}) == 2000


def test_hash_is_salted_and_verifies():
    code = codes.new_query_code()
    first, second = codes.hash_query_code(code), codes.hash_query_code(code)
    assert first != second  # different salts
    assert code not in first
    assert first.startswith("sha256$")
    assert codes.check_query_code(code, first) and codes.check_query_code(code, second)
    assert not codes.check_query_code(code[:-1] + ("2" if code[-1] != "2" else "3"), first)


@pytest.mark.parametrize("typed", ["abcd efgh jkmn", "ABCD-EFGH-JKMN", " abcdefghjkmn\n"])
def test_query_code_is_forgiving_about_case_and_separators(typed):
    stored = codes.hash_query_code("ABCDEFGHJKMN")
    assert codes.check_query_code(typed, stored)


@pytest.mark.parametrize("stored", ["", "nonsense", "md5$salt$abc", "sha256$only-two"])
def test_malformed_stored_hash_never_verifies(stored):
    assert not codes.check_query_code("ABCDEFGHJKMN", stored)


def test_empty_code_does_not_verify():
    assert not codes.check_query_code("", codes.hash_query_code("ABCDEFGHJKMN"))


@pytest.mark.django_db
def test_tracking_numbers_count_per_day(settings):
    settings.MINYI_TRACKING_PREFIX = "MY"
    day, next_day = date(2026, 3, 2), date(2026, 3, 3)
    first = [codes.next_tracking_number(day) for _ in range(3)]
    assert first == ["MY2026030200001", "MY2026030200002", "MY2026030200003"]
    assert codes.next_tracking_number(next_day) == "MY2026030300001"
    assert codes.next_tracking_number(day) == "MY2026030200004"
    assert TrackingSequence.objects.get(day=day).last == 4
    for number in first:
        assert re.fullmatch(r"MY\d{8}\d{5}", number)
