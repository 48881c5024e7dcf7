"""Dates from spreadsheet cells: the shapes of real exports, serial numbers, ambiguity and refusals."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import from_excel

from minyi.text import dates
from minyi.text.dates import DateParseError, parse_datetime


def d(*parts: int) -> dt.datetime:
    return dt.datetime(*parts)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019/4/16 22:05:13", d(2019, 4, 16, 22, 5, 13)),
        ("2019/4/16 9:05", d(2019, 4, 16, 9, 5)),
        ("2019-04-16 22:05:13", d(2019, 4, 16, 22, 5, 13)),
        ("2019-04-16T22:05:13", d(2019, 4, 16, 22, 5, 13)),
        ("2019-04-16 22:05:13.123", d(2019, 4, 16, 22, 5, 13, 123000)),
        ("2019-04-16T22:05:13,5", d(2019, 4, 16, 22, 5, 13, 500000)),
        ("2019-04-16 22:05:13.123456789", d(2019, 4, 16, 22, 5, 13, 123456)),
        ("2019.4.16", d(2019, 4, 16)),
        ("2019/04/16", d(2019, 4, 16)),
        ("20190416", d(2019, 4, 16)),
        ("20190416220513", d(2019, 4, 16, 22, 5, 13)),
        ("201904162205", d(2019, 4, 16, 22, 5)),
        ("20190416220513123", d(2019, 4, 16, 22, 5, 13, 123000)),
        ("20190416 22:05", d(2019, 4, 16, 22, 5)),
        ("2019年4月16日", d(2019, 4, 16)),
        ("2019年4月16号", d(2019, 4, 16)),
        ("2019年04月16日 22时05分", d(2019, 4, 16, 22, 5)),
        ("2019年4月16日22时05分13秒", d(2019, 4, 16, 22, 5, 13)),
        ("2019年4月16日22:05", d(2019, 4, 16, 22, 5)),
        ("2019年4月16日 下午3点", d(2019, 4, 16, 15, 0)),
        ("2019 年 4 月 16 日", d(2019, 4, 16)),
        ("2019/4/16 下午3:05", d(2019, 4, 16, 15, 5)),
        ("2019/4/16下午3:05", d(2019, 4, 16, 15, 5)),
        ("2019/4/16 下午 03:05:13", d(2019, 4, 16, 15, 5, 13)),
        ("2019/4/16 上午9:05", d(2019, 4, 16, 9, 5)),
        ("2019/4/16 上午12:30", d(2019, 4, 16, 0, 30)),
        ("2019/4/16 下午12:30", d(2019, 4, 16, 12, 30)),
        ("2019/4/16 中午12:30", d(2019, 4, 16, 12, 30)),
        ("2019/4/16 中午1:30", d(2019, 4, 16, 13, 30)),
        ("2019/4/16 晚上8:00", d(2019, 4, 16, 20, 0)),
        ("2019/4/16 凌晨2:00", d(2019, 4, 16, 2, 0)),
        ("2019/4/16 3:05 PM", d(2019, 4, 16, 15, 5)),
        ("2019/4/16 3:05 a.m.", d(2019, 4, 16, 3, 5)),
        ("2019/4/16 下午15:05", d(2019, 4, 16, 15, 5)),
        # full-width digits and signs, surrounding whitespace and invisible characters
        ("２０１９／４／１６　２２：０５：１３", d(2019, 4, 16, 22, 5, 13)),
        ("２０１９年４月１６日", d(2019, 4, 16)),
        ("  2019/4/16 22:05:13\t", d(2019, 4, 16, 22, 5, 13)),
        ("\ufeff\u200b2019/4/16\u200d 22:05:13\u2060", d(2019, 4, 16, 22, 5, 13)),
        ("2019/4/16\xa0\xa022:05", d(2019, 4, 16, 22, 5)),
        ("\n2019-04-16\n", d(2019, 4, 16)),
    ],
)
def test_accepts_the_shapes_of_exports(value, expected):
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-04-16T22:05:13Z", d(2019, 4, 17, 6, 5, 13)),
        ("2019-04-16T22:05:13+08:00", d(2019, 4, 16, 22, 5, 13)),
        ("2019-04-16T22:05:13+0900", d(2019, 4, 16, 21, 5, 13)),
        ("2019-04-16T22:05:13.5-05:00", d(2019, 4, 17, 11, 5, 13, 500000)),
        ("2019-04-16 22:05:13 UTC+8", d(2019, 4, 16, 22, 5, 13)),
        ("2019-04-16 22:05 GMT", None),
    ],
)
def test_offsets_are_converted_to_china_time_and_dropped(value, expected):
    if expected is None:
        with pytest.raises(DateParseError):
            parse_datetime(value)
        return
    result = parse_datetime(value)
    assert result == expected and result.tzinfo is None


def test_datetime_and_date_objects():
    naive = d(2019, 4, 16, 22, 5, 13)
    assert parse_datetime(naive) == naive
    assert parse_datetime(dt.date(2019, 4, 16)) == d(2019, 4, 16)
    aware = dt.datetime(2019, 4, 16, 14, 5, 13, tzinfo=dt.UTC)
    assert parse_datetime(aware) == d(2019, 4, 16, 22, 5, 13)
    assert parse_datetime(aware).tzinfo is None
    with pytest.raises(DateParseError, match="year 1900"):
        parse_datetime(dt.datetime(1900, 1, 1))
    with pytest.raises(DateParseError, match="time of day"):
        parse_datetime(dt.time(22, 5))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (43571.91875, d(2019, 4, 16, 22, 3)),
        ("43571.91875", d(2019, 4, 16, 22, 3)),
        (43571, d(2019, 4, 16)),
        ("43571", d(2019, 4, 16)),
        (43571.0, d(2019, 4, 16)),
        (decimal.Decimal("43571.5"), d(2019, 4, 16, 12)),
        (dates.SERIAL_MIN, d(1950, 1, 1)),
        (dates.SERIAL_END - 1, d(2100, 12, 31)),
        # integers of 8 digits are compact dates, not serials
        (20190416, d(2019, 4, 16)),
        (20190416.0, d(2019, 4, 16)),
    ],
)
def test_spreadsheet_serial_numbers(value, expected):
    assert parse_datetime(value) == expected


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=dates.SERIAL_MIN, max_value=dates.SERIAL_END - 0.01, allow_nan=False))
def test_serials_agree_with_openpyxl(serial):
    assert parse_datetime(serial) == from_excel(serial)
    assert parse_datetime(repr(serial)) == from_excel(serial)


def test_serial_constants_are_the_documented_days():
    assert from_excel(dates.SERIAL_MIN) == d(1950, 1, 1)
    assert from_excel(dates.SERIAL_END) == d(2101, 1, 1)


@pytest.mark.parametrize("value", [dates.SERIAL_MIN - 1, dates.SERIAL_END, 100, "60", 1.5, "99999.5"])
def test_serials_outside_1950_2100_are_refused(value):
    with pytest.raises(DateParseError, match="outside the spreadsheet date range"):
        parse_datetime(value)


def test_epoch_seconds_and_milliseconds_are_utc():
    assert parse_datetime(1555423513) == d(2019, 4, 16, 22, 5, 13)
    assert parse_datetime("1555423513") == d(2019, 4, 16, 22, 5, 13)
    assert parse_datetime("1555423513250") == d(2019, 4, 16, 22, 5, 13, 250000)
    with pytest.raises(DateParseError, match="after 2100"):
        parse_datetime("9999999999")
    with pytest.raises(DateParseError, match="not a date"):
        parse_datetime("13812345678")  # 11 digits: a phone number, not a time


def test_day_month_order():
    with pytest.raises(DateParseError, match="ambiguous day/month order"):
        parse_datetime("05/04/2019")
    with pytest.raises(DateParseError, match="ambiguous day/month order"):
        parse_datetime("05.04.2019 10:00")
    assert parse_datetime("05/04/2019", day_first=True) == d(2019, 4, 5)
    assert parse_datetime("16/04/2019") == d(2019, 4, 16)  # day above 12
    assert parse_datetime("16-04-2019 22:05") == d(2019, 4, 16, 22, 5)
    assert parse_datetime("04/16/2019 10:05 PM") == d(2019, 4, 16, 22, 5)  # month first, US
    assert parse_datetime("05/05/2019") == d(2019, 5, 5)  # same either way
    with pytest.raises(DateParseError, match="impossible"):
        parse_datetime("04/16/2019", day_first=True)
    assert parse_datetime("2019/05/04", day_first=True) == d(2019, 5, 4)  # year first: always Y/M/D


def test_explicit_formats_are_tried_first():
    assert parse_datetime("2019/05/04", formats=("%Y/%d/%m",)) == d(2019, 4, 5)
    assert parse_datetime("05/04/2019", formats=("%m/%d/%Y",)) == d(2019, 5, 4)
    # a value the formats do not fit falls back to the automatic shapes
    assert parse_datetime("2019-04-16 22:05:13", formats=("%d.%m.%Y",)) == d(2019, 4, 16, 22, 5, 13)
    assert parse_datetime("16-Apr-2019", formats=("%d-%b-%Y",)) == d(2019, 4, 16)
    assert parse_datetime("2019-04-16 14:05 +0000", formats=("%Y-%m-%d %H:%M %z",)) == d(2019, 4, 16, 22, 5)
    with pytest.raises(DateParseError, match="year 1900"):
        parse_datetime("22:05", formats=("%H:%M",))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u200b\ufeff", "empty"),
        (None, "empty"),
        ("2019-02-30", "impossible date"),
        ("2019-02-29 10:00", "impossible date"),
        ("2019/4/16 24:00", "impossible date"),
        ("2019/4/16 22:60", "impossible date"),
        ("20190230", "impossible date"),
        ("2019年13月1日", "impossible date"),
        ("1949-12-31", "year 1949 outside 1950-2100"),
        ("2101/1/1", "year 2101 outside 1950-2100"),
        ("19491231", "year 1949"),
        ("19/4/16", "not a date"),
        ("2019/4/1622:05", "not a date"),
        ("2019-04", "not a date"),
        ("yesterday", "not a date"),
        ("#VALUE!", "not a date"),
        ("22:05:13", "time of day without a date"),
        ("2019/4/16 上午15:00", "contradicts"),
        ("2019/4/16 晚上12:00", "ambiguous hour"),
        ("2019/4/16 下午3:05 PM", "two 12-hour markers"),
        (True, "not a date"),
        (-43571, "not a date"),
        (float("nan"), "not a date"),
        ([2019, 4, 16], "not a date"),
    ],
)
def test_refusals_say_what_was_wrong(value, message):
    with pytest.raises(DateParseError, match=message):
        parse_datetime(value)


def test_date_parse_error_is_a_value_error():
    assert issubclass(DateParseError, ValueError)


def test_the_common_shapes_take_the_fast_path(monkeypatch):
    def slow(*args, **kwargs):
        raise AssertionError("slow path")

    monkeypatch.setattr(dates, "_parse", slow)
    for value in (
        "2019/4/16 22:05:13",
        "2019-04-16 22:05:13",
        "2019/4/16 9:05",
        "2019.4.16",
        "2019-04-16T22:05:13.123",
    ):
        assert parse_datetime(value).year == 2019
    with pytest.raises(AssertionError, match="slow path"):
        parse_datetime("2019年4月16日")


@pytest.mark.data
def test_every_time_in_the_hot_messages_parses_into_2018_2020(shared_data):
    from minyi.text.tabular import read_table

    low, high = d(2018, 1, 1), d(2020, 12, 31, 23, 59, 59)
    parsed = 0
    outside = []
    shapes = set()
    with read_table(shared_data / "hot_messages.csv") as table:
        column = table.header.index("留言时间")
        for number, values in table.rows:
            value = values[column]
            if not value.strip():
                continue
            moment = parse_datetime(value)
            shapes.add("-" in value)
            if not low <= moment <= high:
                outside.append((number, values[0], value))
            parsed += 1
    assert parsed > 4000 and shapes == {True, False}  # both "2019/4/16 ..." and "2019-04-16 ..."
    # one message of the published data set is dated 2017 (its last row); every other one lies in 2018-2020
    assert outside == [(4327, "360114", "2017-06-08 17:31:20")]


@pytest.mark.data
def test_every_time_column_of_the_shared_data_parses(shared_data):
    from minyi.text.tabular import read_table

    columns = {"留言时间", "答复时间", "time"}
    seen = 0
    for path in sorted(shared_data.glob("*.csv")):
        with read_table(path) as table:
            wanted = [i for i, h in enumerate(table.header) if h in columns]
            for _, values in table.rows:
                for i in wanted:
                    if values[i].strip():
                        assert 2000 <= parse_datetime(values[i]).year <= 2021, (path.name, values[i])
                        seen += 1
    assert seen > 10_000
