"""Surge detection in daily counts: injected bursts, noise, weekdays, floors, merging, thresholds, levels, bad input."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import numpy as np
import pytest

from minyi.text import surge
from minyi.text.surge import (
    LevelRules,
    Surge,
    SurgeConfig,
    alarm_threshold,
    daily_counts,
    detect,
    detect_many,
    level,
    poisson_tail,
)

MONDAY = dt.date(2019, 1, 7)


def day(i: int) -> dt.date:
    return MONDAY + dt.timedelta(days=i)


def series(counts) -> dict[dt.date, int]:
    return {day(i): int(c) for i, c in enumerate(counts)}


def poisson(rate: float, days: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(rate, days)


# --- bursts and noise ------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "burst"), [(8.0, (15, 15, 15)), (0.3, (4, 3, 4)), (2.0, (0, 12, 0))])
def test_an_injected_burst_is_found_with_its_days_and_count(rate, burst):
    counts = poisson(rate, 300, seed=11)
    at = 200
    counts[at - 2 : at + 5] = np.minimum(
        counts[at - 2 : at + 5], math.ceil(rate)
    )  # no natural peak next to it
    clean = counts.copy()
    counts[at : at + 3] += burst
    found = detect(series(counts), key="k", start=day(150))
    days = [i for i, extra in enumerate(burst) if extra]
    first, last = at + days[0], at + days[-1]
    assert len(found) == 1
    (s,) = found
    assert (s.key, s.start, s.end) == ("k", day(first), day(last))
    assert s.count == int(counts[first : last + 1].sum())
    assert s.count >= s.threshold and s.p_value <= 0.001 and s.ratio >= 2.0
    assert s.ratio == pytest.approx(s.count / s.baseline)
    assert s.days == last - first + 1
    # and nothing without the burst
    assert detect(series(clean), start=day(150)) == []


@pytest.mark.parametrize("rate", [0.05, 0.3, 1.0, 3.0, 10.0, 30.0])
def test_pure_noise_raises_few_alarms(rate):
    # documented in the module: at most ~0.25 alarms per 100 series-days on Poisson noise; checked at 0.5
    counts = {f"s{i}": series(poisson(rate, 700, seed=100 + i)) for i in range(6)}
    alarms = detect_many(counts, start=day(150))
    assert len(alarms) / (6 * 550) * 100 <= 0.5


def test_a_lasting_change_of_level_becomes_the_new_normal():
    counts = np.concatenate([poisson(3, 200, seed=3), poisson(12, 200, seed=4)])
    found = detect(series(counts), start=day(150))
    assert len(found) == 1 and found[0].start == day(200)
    assert found[0].days <= surge.SurgeConfig().baseline_days  # not alarming for ever
    assert detect(series(counts), start=day(260)) == []


def test_a_new_key_that_begins_with_a_burst_alarms():
    (s,) = detect({dt.date(2019, 5, 1): 9, dt.date(2019, 5, 2): 7})
    assert (s.start, s.end, s.count) == (dt.date(2019, 5, 1), dt.date(2019, 5, 2), 16)
    assert s.baseline == pytest.approx(2 * surge.RATE_FLOOR)


def test_an_earlier_burst_does_not_hide_a_second_one():
    counts = poisson(5, 260, seed=8)
    counts[200:203] += 30
    counts[215:218] += 25
    found = detect(series(counts), start=day(150))
    assert [(s.start, s.end) for s in found] == [(day(200), day(202)), (day(215), day(217))]
    assert found[1].baseline < 3 * 8  # the first burst is not in the second one's baseline


# --- weekdays ----------------------------------------------------------------------------------


def test_monday_peaks_are_learnt_with_weekday_factors():
    counts = poisson(1, 7 * 40, seed=5)
    counts[::7] = poisson(12, 40, seed=6)  # day 0 is a Monday
    start = day(7 * 17)  # after the 16 weeks of weekday history
    with_weekday = detect(series(counts), start=start)
    without = detect(series(counts), start=start, config=SurgeConfig(weekday=False))
    mondays = 40 - 17
    assert len(with_weekday) <= 1
    assert sum(s.start.weekday() == 0 for s in without) > mondays / 2


def test_weekday_factors_do_not_hide_a_burst_on_a_busy_weekday():
    weekly = np.array([14, 15, 15, 13, 12, 5, 6])
    rng = np.random.default_rng(9)
    counts = rng.poisson(np.tile(weekly, 40))
    counts[7 * 30 : 7 * 30 + 3] += 20  # Monday to Wednesday of week 30
    found = detect(series(counts), start=day(7 * 17))
    assert [(s.start, s.end) for s in found] == [(day(210), day(212))]


# --- floors, thresholds, merging --------------------------------------------------------------


def test_a_series_that_was_always_zero_does_not_alarm_on_a_few_messages():
    quiet = [0] * 100
    relaxed = SurgeConfig(min_count=1, ratio=1.0)
    assert detect(series([*quiet, 2]), config=relaxed) == []
    assert detect(series([*quiet, 3]), config=relaxed) == []  # P(X >= 3 | 0.2) = 0.00115 > 0.001
    (s,) = detect(series([*quiet, 4]), config=relaxed)
    assert s.baseline == pytest.approx(surge.RATE_FLOOR) and s.threshold == 4


def test_min_count():
    quiet = [0] * 100
    assert detect(series([*quiet, 4])) == []
    assert [s.count for s in detect(series([*quiet, 5]))] == [5]
    assert detect(series([*quiet, 5]), config=SurgeConfig(min_count=6)) == []
    assert detect(series([*quiet, 2, 2])) == []
    assert [(s.start, s.count) for s in detect(series([*quiet, 2, 3]))] == [(day(100), 5)]


@pytest.mark.parametrize("weekday", [True, False])
@pytest.mark.parametrize("level_", [0, 3, 10, 50])
def test_the_threshold_is_the_count_that_alarms(weekday, level_):
    config = SurgeConfig(weekday=weekday)
    flat = [level_] * 200
    (big,) = detect(series([*flat, 10 * level_ + 40]), config=config, start=day(150))
    threshold = big.threshold
    assert threshold == alarm_threshold(big.baseline, config)
    (s,) = detect(series([*flat, threshold]), config=config, start=day(150))
    assert (s.start, s.end, s.count, s.threshold) == (day(200), day(200), threshold, threshold)
    assert detect(series([*flat, threshold - 1]), config=config, start=day(150)) == []


def test_alarm_threshold_meets_all_three_conditions():
    config = SurgeConfig()
    for lam in (0.2, 0.6, 1.0, 2.5, 7.0, 10.0, 33.3, 1e3, 1e6, 1e9):
        k = alarm_threshold(lam, config)
        assert k >= config.min_count and k >= config.ratio * lam and poisson_tail(k, lam) <= config.p_value
        below = k - 1
        assert (
            below < config.min_count
            or below < config.ratio * lam
            or poisson_tail(below, lam) > config.p_value
        )
    # where the p-value decides (ratio 1): the Poisson quantile
    loose = SurgeConfig(ratio=1.0, min_count=0)
    assert alarm_threshold(10.0, loose) == 21 + 1  # P(X >= 21 | 10) = 0.0016, P(X >= 22 | 10) = 0.0007
    k = alarm_threshold(1e6, loose)
    assert poisson_tail(k, 1e6) <= 0.001 < poisson_tail(k - 1, 1e6)
    assert 1e6 + 3.0 * 1000 < k < 1e6 + 3.2 * 1000  # z(0.001) = 3.09
    with pytest.raises(ValueError):
        alarm_threshold(0.0)


def test_adjacent_and_overlapping_alarms_merge_into_one_surge():
    counts = np.array([2, 1, 3, 2] * 50)
    counts[150:154] = [15, 2, 16, 18]  # one quiet day between two alarms: one surge
    counts[174] = 20  # 20 days later: another
    found = detect(series(counts), start=day(100))
    assert [(s.start, s.end) for s in found] == [(day(150), day(153)), (day(174), day(174))]
    assert found[0].count == 15 + 2 + 16 + 18


def test_a_quiet_day_dragged_in_by_a_window_is_not_part_of_the_surge():
    counts = np.array([3, 2, 4, 3] * 50)
    counts[150:152] = [25, 24]
    counts[152:155] = [3, 2, 3]
    (s,) = detect(series(counts), start=day(100))
    assert (s.start, s.end, s.count) == (day(150), day(151), 49)


# --- start, end, many keys -------------------------------------------------------------------


def test_start_and_end_select_what_is_reported_and_later_data_is_never_read():
    counts = poisson(4, 300, seed=41)
    counts[[120, 121, 200, 201, 260]] += [20, 20, 20, 20, 25]
    full = detect(series(counts))
    later = detect(series(counts), start=day(150))
    assert later == [s for s in full if s.end >= day(150)] and len(later) == 2
    until = detect(series(counts), start=day(150), end=day(230))
    assert until == [later[0]]
    changed = counts.copy()
    changed[231:] = 0
    assert detect(series(changed), start=day(150), end=day(230)) == until
    assert detect(series(counts), start=day(400)) == []
    assert detect(series(counts), end=day(-10)) == []


def test_detect_many_is_detect_key_by_key():
    rng = np.random.default_rng(51)
    keyed = {}
    for n in range(24):
        length, offset = int(rng.integers(1, 250)), int(rng.integers(0, 300))
        counts = rng.poisson(float(np.exp(rng.normal(0, 1.5))), length)
        if n % 2:
            at = int(rng.integers(0, length))
            counts[at : at + 3] += int(rng.integers(3, 30))
        keyed[f"k{n}"] = {day(offset + i): int(c) for i, c in enumerate(counts) if c or rng.random() < 0.1}
    keyed["empty"] = {}
    for kw in ({"start": day(100), "end": day(400)}, {"config": SurgeConfig(window_days=5, weekday=False)}):
        many = detect_many(keyed, **kw)
        assert many == [s for key, one in keyed.items() for s in detect(one, key=key, **kw)]
        assert all(s.count >= s.threshold for s in many)
        assert {s.key for s in many} <= set(keyed)


def test_gaps_are_zeros_and_none_counts_zero():
    counts = poisson(2, 200, seed=61)
    counts[150:153] += 15
    dense = series(counts)
    sparse = {d: c for d, c in dense.items() if c}
    nones = {d: (c if c else None) for d, c in dense.items()}
    expected = detect(dense)
    assert expected and detect(sparse) == expected and detect(nones) == expected
    # datetimes count on their date; numpy integers and whole floats are counts
    moments = {dt.datetime(d.year, d.month, d.day, 9): np.int64(c) for d, c in dense.items()}
    assert detect(moments) == expected
    assert detect({d: float(c) for d, c in dense.items()}) == expected


def test_empty_and_single_day_series():
    assert detect({}) == [] and detect_many({}) == [] and detect_many({"a": {}}) == []
    assert detect({MONDAY: 3}) == []
    (s,) = detect({MONDAY: 12})
    assert (s.start, s.end, s.count) == (MONDAY, MONDAY, 12)
    assert detect({MONDAY: 0}) == []


def test_huge_counts():
    counts = np.full(200, 10**9, dtype=np.int64)
    counts[180] = 3 * 10**9
    (s,) = detect(series(counts), start=day(150))
    assert (s.start, s.count, s.p_value) == (day(180), 3 * 10**9, 0.0)
    assert s.ratio == pytest.approx(3.0) and s.threshold == 2 * 10**9
    assert detect(series(np.full(200, 10**9))) == detect(series(np.full(200, 10**9)), start=day(0))


@pytest.mark.parametrize(
    "bad",
    [
        {MONDAY: -1},
        {MONDAY: 2.5},
        {MONDAY: True},
        {MONDAY: "3"},
        {MONDAY: float("nan")},
        {MONDAY: float("inf")},
        {MONDAY: 10**13},
        {MONDAY: 2**70},
        {"2019-01-07": 3},
        {None: 3},
        {20190107: 3},
        [(MONDAY, 3)],
        "2019-01-07",
        None,
    ],
)
def test_bad_series_raise_value_error(bad):
    with pytest.raises(ValueError):
        detect(bad)
    with pytest.raises(ValueError):
        detect_many({"k": bad})


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="after end"):
        detect({MONDAY: 1}, start=day(5), end=day(1))
    with pytest.raises(ValueError):
        detect({MONDAY: 1}, start="2019-01-01")
    with pytest.raises(ValueError):
        detect({MONDAY: 1}, config={"window_days": 3})
    with pytest.raises(ValueError):
        detect_many([("k", {MONDAY: 1})])
    for bad in (
        {"baseline_days": 0},
        {"window_days": 0},
        {"window_days": 2.5},
        {"min_count": -1},
        {"ratio": -1.0},
        {"ratio": float("nan")},
        {"p_value": 0.0},
        {"p_value": 1.5},
        {"p_value": "0.01"},
        {"weekday": "yes"},
    ):
        with pytest.raises(ValueError):
            SurgeConfig(**bad)
    with pytest.raises(ValueError):
        LevelRules(red_ratio=-1)


def test_daily_counts():
    moments = [dt.datetime(2019, 5, 1, 9), dt.date(2019, 5, 1), dt.datetime(2019, 4, 30, 23, 59), None]
    assert daily_counts(moments) == {dt.date(2019, 4, 30): 1, dt.date(2019, 5, 1): 2}
    assert list(daily_counts([dt.date(2019, 5, 3), dt.date(2019, 5, 1)])) == [
        dt.date(2019, 5, 1),
        dt.date(2019, 5, 3),
    ]
    assert daily_counts([]) == {}
    with pytest.raises(ValueError):
        daily_counts(["2019-05-01"])
    with pytest.raises(ValueError):
        daily_counts("2019-05-01")


# --- the Poisson tail ------------------------------------------------------------------------


def _exact_tail(k: int, lam: Fraction, terms: int = 400) -> float:
    pmf, total = Fraction(1), Fraction(0)  # e^λ · P(X = j), summed below k
    for j in range(k):
        if j:
            pmf = pmf * lam / j
        total += pmf
    return 1.0 - float(total) * math.exp(-float(lam))


@pytest.mark.parametrize(
    ("k", "lam"), [(1, 0.2), (5, 0.2), (5, 0.6), (3, 3.0), (10, 3.0), (22, 10.0), (40, 20.0)]
)
def test_poisson_tail_matches_an_exact_sum(k, lam):
    exact = _exact_tail(k, Fraction(lam))
    assert poisson_tail(k, lam) == pytest.approx(exact, rel=1e-9)


def test_poisson_tail_for_large_means_and_edges():
    assert poisson_tail(0, 5.0) == 1.0 and poisson_tail(-3, 5.0) == 1.0 and poisson_tail(3, 0.0) == 0.0
    # the median of Poisson(1e6) is about λ - 1/3 + ...; the normal approximation holds to ~1e-3 there
    for lam in (1e5, 1e6, 1e8):
        sd = math.sqrt(lam)
        assert poisson_tail(int(lam), lam) == pytest.approx(0.5, abs=2e-3)
        assert poisson_tail(int(lam + 3 * sd), lam) == pytest.approx(
            0.5 * math.erfc(3 / math.sqrt(2)), rel=0.05
        )
    # the Wilson-Hilferty branch agrees with the summed one where both apply
    assert surge._log_tail_wh(100_300, 1e5) == pytest.approx(math.log(poisson_tail(100_300, 1e5)), rel=1e-3)
    assert poisson_tail(3 * 10**9, 1e9) == 0.0
    previous = 1.0
    for k in range(60):  # falls with k
        value = poisson_tail(k, 12.5)
        assert value <= previous
        previous = value
    with pytest.raises(ValueError):
        poisson_tail(3, -1.0)
    with pytest.raises(ValueError):
        poisson_tail(3, float("nan"))


# --- levels ----------------------------------------------------------------------------------


def a_surge(count: int, ratio: float) -> Surge:
    return Surge("k", MONDAY, day(2), count, count / ratio, 5, ratio, 1e-6)


@pytest.mark.parametrize(
    ("s", "score", "codes", "expected"),
    [
        (a_surge(30, 5.0), 0, (), "red"),  # ratio and count both at red
        (a_surge(29, 9.0), 0, (), "orange"),  # red ratio, count short of red: count >= orange_count
        (a_surge(40, 4.0), 0, (), "orange"),  # red count, ratio short of red
        (a_surge(8, 3.0), 0, (), "orange"),  # orange ratio
        (a_surge(15, 2.1), 0, (), "orange"),  # orange count
        (a_surge(8, 2.1), 0, (), "yellow"),  # any other surge
        (a_surge(8, 2.1), 39, (), "yellow"),
        (a_surge(8, 2.1), 40, (), "orange"),  # orange risk
        (a_surge(8, 2.1), 60, (), "red"),  # red risk with a surge
        (a_surge(8, 2.1), 30, ("gathering",), "red"),  # a critical code with a surge
        (a_surge(8, 2.1), 30, ("road_block", "group"), "red"),
        (a_surge(8, 2.1), 0, ("self_harm",), "red"),
        (a_surge(8, 2.1), 0, "threat", "red"),  # one code as a string
        (a_surge(8, 2.1), 20, ("group", "repeated", "escalation"), "yellow"),
        (None, 0, (), None),
        (None, 39, ("group",), None),
        (None, 40, (), "yellow"),  # a risk alone
        (None, 30, ("gathering",), "yellow"),
        (None, 59, ("threat",), "yellow"),
        (None, 60, (), "orange"),  # a high risk alone: orange, never red
        (None, 100, ("self_harm",), "orange"),
        (None, None, None, None),
    ],
)
def test_levels(s, score, codes, expected):
    assert level(s, risk_score=score, risk_codes=codes) == expected


def test_level_rules_are_used_and_bad_input_refused():
    strict = LevelRules(
        red_ratio=10, red_count=100, orange_ratio=6, orange_count=50, red_risk=90, orange_risk=80
    )
    assert level(a_surge(30, 5.0), rules=strict) == "yellow"
    assert level(a_surge(30, 5.0), risk_score=85, rules=strict) == "orange"
    assert level(None, risk_score=85, rules=strict) == "yellow"
    with pytest.raises(ValueError):
        level("surge")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        level(None, risk_score="high")  # type: ignore[arg-type]


def test_the_package_exports_the_api():
    import minyi.text

    for name in ("detect", "detect_many", "daily_counts", "Surge", "SurgeConfig", "LevelRules", "level"):
        assert getattr(minyi.text, name) is getattr(surge, name)


# --- the real timeline -----------------------------------------------------------------------


@pytest.mark.data
def test_a_burst_injected_into_the_real_timeline_is_found(shared_data):
    from minyi.text.dates import parse_datetime
    from minyi.text.tabular import read_table

    with read_table(shared_data / "hot_messages.csv") as table:
        column = table.header.index("留言时间")
        days = [parse_datetime(values[column]).date() for _, values in table.rows if values[column].strip()]
    timeline = {
        d: c for d, c in daily_counts(days).items() if d >= dt.date(2019, 1, 1)
    }  # before: 4 stray messages
    first, last = min(timeline), max(timeline)
    assert (last - first).days > 300 and sum(timeline.values()) > 4000
    start = first + dt.timedelta(days=60)
    quiet = detect(timeline, start=start)
    at = dt.date(2019, 9, 10)  # a Tuesday
    burst = dict(timeline)
    for offset, extra in enumerate((17, 17, 16)):
        burst[at + dt.timedelta(days=offset)] = burst.get(at + dt.timedelta(days=offset), 0) + extra
    found = detect(burst, start=start)
    hits = [s for s in found if s.start <= at + dt.timedelta(days=2) and s.end >= at]
    assert len(hits) == 1
    assert hits[0].count >= 50 and hits[0].ratio >= 2.0
    assert hits[0].start >= at - dt.timedelta(days=1) and hits[0].end <= at + dt.timedelta(days=3)
    assert not [s for s in quiet if s.start <= at + dt.timedelta(days=2) and s.end >= at]
