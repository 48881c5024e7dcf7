"""Surges in daily counts (突增): ``detect``, ``detect_many``, and warning levels: ``level``.

A *series* is a mapping ``date -> count`` of one key (a topic, a place, a category; the caller
builds it, e.g. with ``daily_counts``). A *surge* is a run of days whose count is well above
what the series' own past makes expected. The model, for a tested day ``d`` (the end of the
windows tested that day), with ``W = window_days``, ``B = baseline_days``, ``H =
max(112, B)`` days of weekday history (``WEEKDAY_DAYS``, 16 weeks) and ``c_i`` the count of day
``i``:

1. **Days.** A series is *observed* from its first day (its earliest key) on; a day inside that
   span that is absent from the mapping counts 0 (gaps). Days before the first day are not
   observed: they belong to no baseline. So the first days of a series have no baseline; they
   are tested against the floor (5.), and a series that *begins* with a burst alarms on it
   (a new topic or place). To say that a key was watched and quiet since some date, give that
   date with the count 0 (e.g. ``series.setdefault(history_start, 0)``); to skip the warm-up of
   a series whose first day is only the first day of the data (an export, a query's range),
   pass ``start`` a few weeks later. Day ``d`` is judged on counts up to ``d`` only: results do
   not depend on later data, days after ``end`` are never read, and ``start`` only selects what
   is reported (below).
2. **Flagged days.** The days of each day's alarming window (6.) are *flagged* and left out of
   later baselines, so that a burst does not raise the expectation of the weeks after it (which
   would hide a second burst). When fewer than half of the observed days of the baseline are
   unflagged, the baseline uses all of them: a lasting change of level becomes the new normal
   after about ``B / 2`` days instead of alarming for ever. Let ``u_i = 1`` for an observed,
   unflagged day, else 0. (Weekday factors do use flagged days: a weekly peak that alarmed in
   the first weeks must still be learnt.)
3. **Weekday factors** (``weekday=True``): from the observed days of the history
   ``D_H(d) = [d-W-H+1, d-W]``, with ``S_j`` their total count and ``N_j`` their number on
   weekday ``j``, and ``m = Σ_j S_j / Σ_j N_j``::

       g_j = (S_j + α) / (N_j · m + α),   α = WEEKDAY_PRIOR = 10 messages
       f_j = 7 · g_j / Σ_k g_k            (the week's factors average 1)

   ``α`` shrinks each weekday's rate toward the overall mean as if ``α`` more messages had been
   seen at that mean: a busy series (11 a day) keeps nearly its raw factors (weekend 0.5,
   Monday 1.15); a sparse one (0.5 a day) gets factors near 1 rather than the noise of a few
   messages per weekday. No history gives ``f_j = 1``; ``weekday=False`` sets ``f_j = 1``.
4. **Baseline rate** (messages per average day) from ``D_B(d) = [d-W-B+1, d-W]``, the ``B``
   days that end ``W`` days before ``d``, so that no tested window (5.) is in its own
   baseline::

       R(d) = Σ_{i∈D_B} u_i c_i / Σ_{i∈D_B} u_i f_{wd(i)}      (0 when no day of D_B is observed)

5. **Windows.** For ``w = 1..W``, the window ``[d-w+1, d]`` has the observed count
   ``k = Σ c_i`` and the expected count::

       λ = max(R(d) · Σ_{i=d-w+1..d} f_{wd(i)},  RATE_FLOOR · w),   RATE_FLOOR = 0.2 a day

   The floor keeps a series that was always 0 from alarming on two messages.
6. **Alarm** when all three hold::

       P(X >= k | X ~ Poisson(λ)) <= p_value,   k >= min_count,   k >= ratio · λ

   equivalently ``k >= alarm_threshold(λ, config)``: the smallest count meeting all three.
   ``p_value`` bounds the false alarms of pure noise; ``ratio`` keeps a large series from
   alarming on a small relative rise that is statistically clear but not a surge (a city's
   11 messages a day becoming 14); ``min_count`` keeps a tiny one from alarming on a handful.
   Of the windows alarming on day ``d``, the one with the smallest tail probability (ties:
   the shortest) is the day's window; its days are flagged (2.).
7. **Surges.** Day windows that overlap or touch (the next starts at most one day after the
   current ends) merge into a group, judged with the rate and factors of its first alarming day
   ``d0`` (whose baseline ends before every day of the group). The surge is the run of days
   ``[start, end]`` inside the group that alarms (6.) with the smallest tail probability (ties:
   the longer, then the earlier): a quiet day that a 3-day window dragged in is dropped, and the
   first alarming window always qualifies, so ``count >= threshold`` always holds. Its
   ``count = Σ c_i``, ``baseline = max(R(d0) · Σ_{i=start..end} f_{wd(i)}, RATE_FLOOR · days)``,
   ``threshold = alarm_threshold(baseline)``, ``ratio = count / baseline``, ``p_value =
   P(X >= count | Poisson(baseline))`` (0.0 when it underflows).

**Noise.** On simulated Poisson series of 0.05 to 100 messages a day (1,000 days, 20 series
each, default settings, the first 150 days as warm-up) the detector raised at most 0.23 alarms
per 100 series-days (one in ~450 days; none at 30 and 100 a day, where the ratio 2 rules;
``minyi/text/tests/test_surge.py`` checks a bound of 0.5).

``detect(series, start=, end=)`` reports the surges with at least one alarming day in
``[start, end]`` (default: the first and last day of the series); such a surge may begin before
``start`` (a surge still going on). ``detect_many`` does the same for many keys at once
(vectorised over keys with NumPy; the result is the same as ``detect`` key by key), in the
order of the mapping, each key's surges by date.

**Poisson tail.** ``poisson_tail(k, λ)`` sums the probability mass in log space
(``math.lgamma``): from ``k`` upwards when ``k > λ`` (terms shrink by ``λ / (k + i)``), else
``1 - P(X <= k-1)`` summed downwards, each until a term falls below 1e-17 of the sum. Near the
mean of a very large ``λ`` (more than 3,000 terms, so ``λ`` above ~10⁵) it uses the
Wilson–Hilferty approximation of the same regularised incomplete gamma function, whose error
there is far below any useful p-value. The scan first screens its candidate windows with NumPy
(the tail bracketed by partial sums of that series and a geometric bound on the rest) and calls
the exact function only for those the bracket cannot decide by a wide margin, so a decision
always agrees with ``alarm_threshold``.

**Bad input** raises ``ValueError`` with a short English message: a series that is not a
mapping; a key that is not a ``date`` (a ``datetime`` counts on its date); a count that is
negative, not a whole number, a ``bool``, NaN or above ``MAX_COUNT`` (10¹² a day). ``None``
counts 0 (a missing day). ``start > end`` (both given) raises; a series that ends before
``start`` has nothing to test and gives ``[]``, as does an empty series.

**Levels** (``level(surge, risk_score=, risk_codes=, rules=)``), with ``LevelRules``; a *critical*
code is one of ``CRITICAL_CODES``: gathering, road_block, self_harm, threat (the risk codes of
``minyi.text.risk`` that mean people may act or be hurt):

- with a surge: **red** when ``ratio >= red_ratio and count >= red_count``, or
  ``risk_score >= red_risk``, or a critical code; else **orange** when ``ratio >=
  orange_ratio`` or ``count >= orange_count`` or ``risk_score >= orange_risk``; else **yellow**;
- without a surge (a risk alone): **orange** when ``risk_score >= red_risk``; **yellow** when
  ``risk_score >= orange_risk`` or a critical code; else ``None``.

So a risk needs a surge to be red (one message is not yet a mass event), and a surge is at
least yellow. The reasons are the caller's to write.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "CRITICAL_CODES",
    "MAX_COUNT",
    "RATE_FLOOR",
    "WEEKDAY_DAYS",
    "WEEKDAY_PRIOR",
    "LevelRules",
    "Surge",
    "SurgeConfig",
    "alarm_threshold",
    "daily_counts",
    "detect",
    "detect_many",
    "level",
    "poisson_tail",
]

RATE_FLOOR = 0.2  # messages a day: the least a window of w days expects is 0.2·w
WEEKDAY_DAYS = 112  # 16 weeks of history for the weekday factors (at least baseline_days)
WEEKDAY_PRIOR = 10.0  # pseudo-messages pulling each weekday's rate toward the series' mean
MAX_COUNT = 10**12  # a day's count above this is refused
CRITICAL_CODES = frozenset({"gathering", "road_block", "self_harm", "threat"})

_MAX_TERMS = 3000  # terms of the Poisson sum before the Wilson-Hilferty approximation takes over
_CELLS = 1 << 21  # keys x days per batch of detect_many (memory: a few int64 arrays of this size)


@dataclass(frozen=True)
class SurgeConfig:
    """Settings of the detector (see the module docstring); ``ValueError`` when out of range."""

    baseline_days: int = 28
    window_days: int = 3
    min_count: int = 5
    ratio: float = 2.0
    p_value: float = 0.001
    weekday: bool = True

    def __post_init__(self) -> None:
        for name, low, high in (
            ("baseline_days", 1, 3660),
            ("window_days", 1, 366),
            ("min_count", 0, MAX_COUNT),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
            object.__setattr__(self, name, int(value))
        for name, low, high, low_open in (("ratio", 0.0, 1e6, False), ("p_value", 0.0, 1.0, True)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a number, not {value!r}")
            number = float(value)
            if not (low < number if low_open else low <= number) or not number <= high:
                raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}], not {value!r}")
            object.__setattr__(self, name, number)
        if not isinstance(self.weekday, bool):
            raise ValueError(f"weekday must be True or False, not {self.weekday!r}")


@dataclass(frozen=True)
class Surge:
    """A run of days whose count is well above its baseline."""

    key: str
    start: dt.date  # the burst's days, inclusive
    end: dt.date
    count: int  # observed count in [start, end]
    baseline: float  # expected count there
    threshold: int  # the count that would have raised the alarm for that expectation
    ratio: float  # count / baseline
    p_value: float  # P(X >= count | Poisson(baseline))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class LevelRules:
    """Thresholds of the warning levels (see the module docstring)."""

    red_ratio: float = 5.0
    red_count: int = 30
    orange_ratio: float = 3.0
    orange_count: int = 15
    red_risk: int = 60
    orange_risk: int = 40

    def __post_init__(self) -> None:
        for name in ("red_ratio", "red_count", "orange_ratio", "orange_count", "red_risk", "orange_risk"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not 0 <= float(value) < math.inf
            ):
                raise ValueError(f"{name} must be a number >= 0, not {value!r}")


# --- the Poisson tail ---------------------------------------------------------------------------


def poisson_tail(k: int, lam: float) -> float:
    """``P(X >= k)`` for ``X ~ Poisson(lam)`` (see the module docstring)."""
    lam = float(lam)
    if not 0.0 <= lam < math.inf:
        raise ValueError(f"the Poisson mean must be finite and >= 0, not {lam!r}")
    if k <= 0:
        return 1.0
    if lam == 0.0:
        return 0.0
    return _tail(int(k), lam)


def _tail(k: int, lam: float) -> float:
    log_tail = _log_tail(k, lam)
    return math.exp(log_tail) if log_tail > -745.0 else 0.0


@lru_cache(maxsize=1 << 16)
def _log_tail(k: int, lam: float) -> float:
    """log P(X >= k) for k >= 1, λ > 0 (see the module docstring)."""
    if k > lam:  # the upper sum: pmf(k) · (1 + λ/(k+1) + λ²/((k+1)(k+2)) + ...)
        log_first = k * math.log(lam) - lam - math.lgamma(k + 1.0)
        total = term = 1.0
        i = k
        for _ in range(_MAX_TERMS):
            i += 1
            term *= lam / i
            total += term
            if term <= total * 1e-17:
                break
        else:
            return _log_tail_wh(k, lam)
        return log_first + math.log(total)
    # 1 - P(X <= k-1): the lower sum pmf(k-1) · (1 + (k-1)/λ + (k-1)(k-2)/λ² + ...)
    j = k - 1
    log_first = j * math.log(lam) - lam - math.lgamma(j + 1.0)
    total = term = 1.0
    for _ in range(_MAX_TERMS):
        if j <= 0:
            break
        term *= j / lam
        j -= 1
        total += term
        if term <= total * 1e-17:
            break
    else:
        return _log_tail_wh(k, lam)
    log_lower = log_first + math.log(total)
    return math.log1p(-math.exp(log_lower)) if log_lower < 0.0 else -math.inf


def _log_tail_wh(k: int, lam: float) -> float:
    """Wilson-Hilferty: P(X >= k) = P(Gamma(k, 1) <= λ) ≈ Φ(z) (used for k, λ above ~10⁵)."""
    v = 1.0 / (9.0 * k)
    z = ((lam / k) ** (1.0 / 3.0) - (1.0 - v)) / math.sqrt(v)
    return math.log(max(0.5 * math.erfc(-z / math.sqrt(2.0)), 1e-300))


def _alarms(k: int, lam: float, config: SurgeConfig) -> bool:
    return k >= config.min_count and k >= config.ratio * lam and k >= 1 and _p(k, lam) <= config.p_value


def _p(k: int, lam: float) -> float:
    return 1.0 if k <= 0 else _tail(k, lam)


_LOG_FACTORIAL = np.array([math.lgamma(n + 1.0) for n in range(256)])


def _log_factorial(n: np.ndarray) -> np.ndarray:
    """log(n!) for an int64 array: a table below 256, Stirling's series above (error < 1e-15)."""
    small = n < 256
    out = np.empty(n.shape)
    out[small] = _LOG_FACTORIAL[n[small]]
    big = n[~small].astype(float)
    out[~small] = (
        big * np.log(big)
        - big
        + 0.5 * np.log(2.0 * math.pi * big)
        + 1.0 / (12.0 * big)
        - 1.0 / (360.0 * big**3)
    )
    return out


def _significant(k: np.ndarray, lam: np.ndarray, index: np.ndarray, p_cut: float) -> list[tuple[int, float]]:
    """(index, log p) of the windows with ``P(X >= k | λ) <= p_cut``, p = the Poisson tail.

    A vectorised screen brackets the tail between two partial sums (pmf(k) times 1 + r1 + r1·r2 +
    r1·r2·r3, plus a geometric bound on the rest, with r_i = λ/(k+i)); the windows it cannot
    decide by a wide margin, and those with k <= λ, get the exact ``poisson_tail`` (the same
    function as ``alarm_threshold``, so the decision always agrees with the threshold)."""
    kf = k.astype(float)
    log_pmf = kf * np.log(lam) - lam - _log_factorial(k)
    t1 = lam / (kf + 1.0)
    t2 = t1 * lam / (kf + 2.0)
    t3 = t2 * lam / (kf + 3.0)
    r4 = np.minimum(lam / (kf + 4.0), 0.5)
    low_sum = 1.0 + t1 + t2 + t3
    log_low = log_pmf + np.log(low_sum)
    log_high = log_pmf + np.log(low_sum + t3 * r4 / (1.0 - r4))
    log_cut = math.log(p_cut)
    margin = 1e-6 + 1e-12 * (np.abs(kf * np.log(lam)) + lam + kf)
    sure = (r4 < 0.5) & (log_high < log_cut - margin)
    unsure = ~sure & ~(log_low > log_cut + margin)
    out = [(int(i), float(v)) for i, v in zip(index[sure].tolist(), log_low[sure].tolist(), strict=True)]
    for i, count, mu in zip(index[unsure].tolist(), k[unsure].tolist(), lam[unsure].tolist(), strict=True):
        p = _tail(int(count), float(mu))
        if p <= p_cut:
            out.append((int(i), math.log(p) if p > 0.0 else -math.inf))
    return out


def alarm_threshold(lam: float, config: SurgeConfig | None = None) -> int:
    """The smallest count that alarms for the expected count ``lam``: ``k >= min_count``,
    ``k >= ratio · lam`` and ``P(X >= k | Poisson(lam)) <= p_value``."""
    config = SurgeConfig() if config is None else config
    lam = float(lam)
    if not 0.0 < lam < math.inf:
        raise ValueError(f"the expected count must be finite and > 0, not {lam!r}")
    cut = config.p_value
    low = max(config.min_count, math.ceil(config.ratio * lam), 1)
    if _p(low, lam) <= cut:
        return low
    # the p-value decides: start at the Cornish-Fisher guess of the Poisson quantile, widen a bracket
    # (fail, ok) around it, then bisect (the tail falls with k)
    z = _upper_z(cut)
    guess = max(low + 1, math.ceil(lam + z * math.sqrt(lam) + (z * z - 1.0) / 6.0))
    if _p(guess, lam) <= cut:
        ok, step = guess, 1
        fail = ok - step
        while fail > low and _p(fail, lam) <= cut:
            ok, step = fail, step * 2
            fail = ok - step
        fail = max(fail, low)
    else:
        fail, step = guess, 1
        while _p(fail + step, lam) > cut:
            fail, step = fail + step, step * 2
        ok = fail + step
    while ok - fail > 1:
        mid = (ok + fail) // 2
        if _p(mid, lam) <= cut:
            ok = mid
        else:
            fail = mid
    return ok


@lru_cache(maxsize=64)
def _upper_z(p: float) -> float:
    """z with P(Z >= z) = p for a standard normal Z (bisection on erfc)."""
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if 0.5 * math.erfc(mid / math.sqrt(2.0)) > p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


# --- input -----------------------------------------------------------------------------------


def _as_day(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ValueError(f"{what} must be a date, not {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def daily_counts(days: Iterable[dt.date | dt.datetime | None]) -> dict[dt.date, int]:
    """The number of times each day occurs in ``days`` (a ``datetime`` counts on its date; ``None`` is
    skipped), as a dict in date order. ``ValueError`` for anything else."""
    if isinstance(days, (str, bytes, Mapping)) or not isinstance(days, Iterable):
        raise ValueError("daily_counts() takes an iterable of dates")
    counts = Counter(days)
    counts.pop(None, None)
    out: dict[dt.date, int] = {}
    for value, number in counts.items():
        day = _as_day(value, "each day")
        out[day] = out.get(day, 0) + number
    return dict(sorted(out.items()))


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"a count must be a whole number, not {value!r}")
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real):
        real = float(value)
        if not math.isfinite(real) or not real.is_integer():
            raise ValueError(f"a count must be a whole number, not {_show(value)}")
        number = int(real)
    else:
        raise ValueError(f"a count must be a whole number, not {_show(value)}")
    if not 0 <= number <= MAX_COUNT:
        raise ValueError(f"a count must be from 0 to {MAX_COUNT}, not {number}")
    return number


def _arrays(series: Any, last: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Day ordinals and counts of a series (days after ``last`` dropped), validated."""
    if not isinstance(series, Mapping):
        raise ValueError(f"a series must be a mapping of date -> count, not {type(series).__name__}")
    if not series:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = list(series.keys())
    values = list(series.values())
    if set(map(type, keys)) == {dt.date}:
        ordinals = np.fromiter(map(dt.date.toordinal, keys), np.int64, len(keys))
        unique = True
    else:
        ordinals = np.fromiter(
            (_as_day(key, "a series key").toordinal() for key in keys), np.int64, len(keys)
        )
        unique = False
    try:
        counts = np.array(values)
    except (TypeError, ValueError, OverflowError):
        counts = np.zeros(0, object)
    if counts.ndim != 1 or counts.dtype.kind not in "iu":
        counts = np.fromiter(map(_count, values), np.int64, len(values))
    else:
        counts = counts.astype(np.int64, copy=False)
        if counts.size and (counts.min() < 0 or counts.max() > MAX_COUNT):
            bad = counts[(counts < 0) | (counts > MAX_COUNT)][0]
            raise ValueError(f"a count must be from 0 to {MAX_COUNT}, not {int(bad)}")
    if last is not None:
        keep = ordinals <= last
        ordinals, counts = ordinals[keep], counts[keep]
    if not unique and ordinals.size:
        days, inverse = np.unique(ordinals, return_inverse=True)
        summed = np.zeros(days.size, np.int64)
        np.add.at(summed, inverse, counts)
        ordinals, counts = days, summed
    return ordinals, counts


# --- the scan --------------------------------------------------------------------------------


@dataclass
class _Alarm:
    day: int  # index of the tested day (the window's end)
    days: int  # the window's length
    rate: float  # R(d)
    factors: tuple[float, ...] | None  # f_j by weekday index 0 = Monday (None: weekday=False)


def _scan(
    counts: np.ndarray, known_from: np.ndarray, weekday0: int, config: SurgeConfig
) -> list[list[_Alarm]]:
    """Every alarming day of each column of ``counts`` (days x keys; day 0 has weekday ``weekday0``;
    key ``r`` is observed from day ``known_from[r]``), flagging the day's window of each alarm."""
    days, keys = counts.shape
    window, base = config.window_days, config.baseline_days
    history = max(WEEKDAY_DAYS, base)
    use_weekday = config.weekday
    alpha = WEEKDAY_PRIOR
    floor = RATE_FLOOR
    min_count, ratio, p_cut = config.min_count, config.ratio, config.p_value
    cum = np.zeros((days + 1, keys), np.int64)
    np.cumsum(counts, axis=0, out=cum[1:])
    flagged = np.zeros((days, keys), bool)
    alarms: list[list[_Alarm]] = [[] for _ in range(keys)]
    # D_B (the baseline days) and D_H (the weekday history) of the tested day t, kept by adding the
    # day t-W that enters both and removing the days that leave them; arrays are weekday x key
    base_days = np.zeros((7, keys), np.int64)  # unflagged observed days per weekday in D_B
    known_days = np.zeros((7, keys), np.int64)  # observed days per weekday in D_B
    base_sum = np.zeros(keys, np.int64)  # Σ u·c over D_B
    base_all = np.zeros(keys, np.int64)  # Σ c over D_B (days before a key's first day count 0)
    hist_sum = np.zeros((7, keys), np.int64)  # S_j
    hist_days = np.zeros((7, keys), np.int64)  # N_j
    everyone_known = days and bool((known_from <= 0).all())

    def usable(day: int) -> tuple[np.ndarray | bool, np.ndarray]:
        if everyone_known:
            return True, ~flagged[day]
        known = known_from <= day
        return known, known & ~flagged[day]

    def step(t: int) -> None:
        """Move the state from day t-1 to day t: the day t-W enters, t-W-B and t-W-H leave."""
        enter = t - window
        if enter < 0:
            return
        j = (weekday0 + enter) % 7
        known, u = usable(enter)
        uc = counts[enter] * u
        base_sum[:] += uc
        base_all[:] += counts[enter]
        base_days[j] += u
        known_days[j] += known
        if use_weekday:
            hist_sum[j] += counts[enter]
            hist_days[j] += known
        leave = enter - base
        if leave >= 0:
            j = (weekday0 + leave) % 7
            known, u = usable(leave)
            base_sum[:] -= counts[leave] * u
            base_all[:] -= counts[leave]
            base_days[j] -= u
            known_days[j] -= known
        leave = enter - history
        if use_weekday and leave >= 0:
            j = (weekday0 + leave) % 7
            hist_sum[j] -= counts[leave]
            hist_days[j] -= known_from <= leave

    def rebuild(t: int) -> None:
        """The state of day t from scratch (after a long quiet stretch: same integers as the steps)."""
        for array in (base_days, known_days, base_sum, base_all, hist_sum, hist_days):
            array[...] = 0
        last = t - window
        if last < 0:
            return
        for first, history_part in ((max(last - base + 1, 0), False), (max(last - history + 1, 0), True)):
            if history_part and not use_weekday:
                continue
            block = slice(first, last + 1)
            known = np.arange(first, last + 1)[:, None] >= known_from[None, :]
            c = counts[block]
            if history_part:
                for j in range(7):
                    rows = slice((j - weekday0 - first) % 7, None, 7)
                    hist_sum[j] = c[rows].sum(axis=0)
                    hist_days[j] = known[rows].sum(axis=0)
                continue
            u = known & ~flagged[block]
            base_sum[:] = (c * u).sum(axis=0)
            base_all[:] = c.sum(axis=0)
            for j in range(7):
                rows = slice((j - weekday0 - first) % 7, None, 7)
                base_days[j] = u[rows].sum(axis=0)
                known_days[j] = known[rows].sum(axis=0)

    # the days on which some key has min_count in its longest window: the others cannot alarm
    longest = cum[1:] - cum[np.maximum(np.arange(1, days + 1) - window, 0)]
    busy_days = np.flatnonzero((longest >= min_count).any(axis=1)).tolist()
    done = -1  # the state is that of day `done`
    for t in busy_days:
        if t - done > 2 * window + 8:
            rebuild(t)
        else:
            for s in range(done + 1, t + 1):
                step(s)
        done = t
        busy = np.flatnonzero(longest[t] >= min_count)
        today = cum[t + 1, busy]
        observed = [today - cum[max(t + 1 - w, 0), busy] for w in range(1, window + 1)]
        unflagged = base_days[:, busy]
        known = known_days[:, busy]
        if use_weekday:
            s_j = hist_sum[:, busy]
            n_j = hist_days[:, busy]
            mean = s_j.sum(axis=0) / np.maximum(n_j.sum(axis=0), 1)
            g = (s_j + alpha) / (n_j * mean + alpha)
            factors = g * (7.0 / g.sum(axis=0))
            expected_base = (factors * unflagged).sum(axis=0)
            expected_known = (factors * known).sum(axis=0)
        else:
            factors = None
            expected_base = unflagged.sum(axis=0).astype(float)
            expected_known = known.sum(axis=0).astype(float)
        enough = 2 * unflagged.sum(axis=0) >= known.sum(axis=0)  # else a lasting change: use every day
        numerator = np.where(enough, base_sum[busy], base_all[busy])
        denominator = np.where(enough, expected_base, expected_known)
        rate = np.divide(numerator, denominator, out=np.zeros(busy.size), where=denominator > 0)
        span = np.zeros(busy.size)
        best: dict[int, tuple[float, int]] = {}
        for w in range(1, window + 1):
            k = observed[w - 1]
            if factors is not None:
                span = span + factors[(weekday0 + t - w + 1) % 7]
                lam = np.maximum(rate * span, floor * w)
            else:
                lam = np.maximum(rate * float(w), floor * w)
            hits = np.flatnonzero((k >= min_count) & (k >= ratio * lam))
            if hits.size:
                for i, log_p in _significant(k[hits], lam[hits], hits, p_cut):
                    if i not in best or log_p < best[i][0]:
                        best[i] = (log_p, w)
        for i, (_, w) in best.items():
            key = int(busy[i])
            flagged[max(t - w + 1, 0) : t + 1, key] = True
            alarms[key].append(
                _Alarm(
                    t,
                    w,
                    float(rate[i]),
                    tuple(float(x) for x in factors[:, i]) if factors is not None else None,
                )
            )
    return alarms


def _expected(alarm: _Alarm, weekday0: int, first: int, last: int) -> float:
    """λ of the index range [first, last] with the alarm's rate and factors (summed from the end, as
    in the scan, so that a surge of one window reproduces its test exactly)."""
    days = last - first + 1
    if alarm.factors is None:
        return max(alarm.rate * float(days), RATE_FLOOR * days)
    span = 0.0
    for i in range(last, first - 1, -1):
        span = span + alarm.factors[(weekday0 + i) % 7]
    return max(alarm.rate * span, RATE_FLOOR * days)


def _day_expected(alarm: _Alarm, weekday0: int, i: int) -> float:
    return alarm.rate * (alarm.factors[(weekday0 + i) % 7] if alarm.factors is not None else 1.0)


def _surges(
    key: Hashable,
    row: np.ndarray,
    alarms: list[_Alarm],
    origin: int,
    test_first: int,
    test_last: int,
    config: SurgeConfig,
) -> list[Surge]:
    """Merge a key's alarming windows into surges (indices relative to ``origin``)."""
    weekday0 = dt.date.fromordinal(origin).weekday()
    groups: list[list[Any]] = []  # [first index, last index, first alarm, any alarm in the tested range]
    for alarm in alarms:
        if alarm.day > test_last:
            break
        first, last = max(alarm.day - alarm.days + 1, 0), alarm.day
        tested = alarm.day >= test_first
        if groups and first <= groups[-1][1] + 1:
            group = groups[-1]
            group[0], group[1] = min(group[0], first), max(group[1], last)
            group[3] = group[3] or tested
        else:
            groups.append([first, last, alarm, tested])
    groups = [group for group in groups if group[3]]
    if not groups:
        return []
    low = max(groups[0][0] - 1, 0)
    cum = [0] * (low + 1) + np.cumsum(
        row[low : groups[-1][1] + 1], dtype=np.int64
    ).tolist()  # cum[i] = Σ row[low:i]
    out = []
    for first, last, alarm, _ in groups:
        a, b = _strongest(row, cum, first, last, alarm, weekday0, config)
        count, lam = cum[b + 1] - cum[a], _expected(alarm, weekday0, a, b)
        out.append(
            Surge(
                key=key,  # type: ignore[arg-type]
                start=dt.date.fromordinal(origin + a),
                end=dt.date.fromordinal(origin + b),
                count=count,
                baseline=lam,
                threshold=alarm_threshold(lam, config),
                ratio=count / lam,
                p_value=_p(count, lam),
            )
        )
    return out


def _strongest(
    row: np.ndarray, cum: list[int], first: int, last: int, alarm: _Alarm, weekday0: int, config: SurgeConfig
) -> tuple[int, int]:
    """The days of a merged group that make its surge: of the sub-runs that alarm (with the rate of the
    group's first alarm), the one with the smallest tail probability (ties: the longer, then the
    earlier); its first alarming window always qualifies. Runs of more than 20 days only start and end
    on the 40 days of largest excess over their expectation."""
    if last - first < 20:
        edges = list(range(first, last + 1))
    else:
        excess = sorted(range(first, last + 1), key=lambda i: -(row[i] - _day_expected(alarm, weekday0, i)))
        edges = sorted({first, last, alarm.day, max(alarm.day - alarm.days + 1, first), *excess[:40]})
    best: tuple[float, int, int] | None = None
    result = (max(alarm.day - alarm.days + 1, first), alarm.day)
    for x, a in enumerate(edges):
        for b in edges[x:]:
            count = cum[b + 1] - cum[a]
            lam = _expected(alarm, weekday0, a, b)
            if not _alarms(count, lam, config):
                continue
            score = (_log_tail(count, lam), a - b, a)
            if best is None or score < best:
                best, result = score, (a, b)
    return result


# --- the API ---------------------------------------------------------------------------------


def _bounds(start: Any, end: Any) -> tuple[int | None, int | None]:
    first = None if start is None else _as_day(start, "start").toordinal()
    last = None if end is None else _as_day(end, "end").toordinal()
    if first is not None and last is not None and first > last:
        raise ValueError(f"start ({dt.date.fromordinal(first)}) is after end ({dt.date.fromordinal(last)})")
    return first, last


def detect(
    series: Mapping[dt.date, int],
    *,
    key: str = "",
    config: SurgeConfig | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[Surge]:
    """The surges of one daily series with an alarming day in ``[start, end]`` (module docstring)."""
    return _detect_all({key: series}, config, start, end)


def detect_many(
    series_by_key: Mapping[str, Mapping[dt.date, int]],
    *,
    config: SurgeConfig | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[Surge]:
    """``detect`` for every key of ``series_by_key`` at once, in the mapping's order."""
    if not isinstance(series_by_key, Mapping):
        raise ValueError(
            f"series_by_key must be a mapping of key -> series, not {type(series_by_key).__name__}"
        )
    return _detect_all(series_by_key, config, start, end)


def _detect_all(
    series_by_key: Mapping[Any, Mapping[dt.date, int]],
    config: SurgeConfig | None,
    start: Any,
    end: Any,
) -> list[Surge]:
    config = SurgeConfig() if config is None else config
    if not isinstance(config, SurgeConfig):
        raise ValueError(f"config must be a SurgeConfig, not {type(config).__name__}")
    start_ord, end_ord = _bounds(start, end)
    # each key: (position, key, ordinals, counts, first day, last tested day)
    todo = []
    for position, (key, series) in enumerate(series_by_key.items()):
        ordinals, counts = _arrays(series, end_ord)
        if not ordinals.size:
            continue
        first = int(ordinals[0]) if ordinals.size == 1 else int(ordinals.min())
        last = end_ord if end_ord is not None else int(ordinals.max())
        if start_ord is not None and start_ord > last:
            continue
        todo.append((position, key, ordinals, counts, first, last))
    # batches of keys with close first and last days share one timeline (zeros before a key's first day
    # change nothing: they are never flagged), cut to a bounded number of cells
    batches: list[list[Any]] = []
    for item in sorted(todo, key=lambda item: item[4]):
        if not batches or item[4] - batches[-1][0][4] > 366:
            batches.append([])
        batches[-1].append(item)
    results: dict[int, list[Surge]] = {}
    for items in batches:
        origin = min(item[4] for item in items)
        final = max(item[5] for item in items)
        width = final - origin + 1
        size = max(1, _CELLS // width)
        for at in range(0, len(items), size):
            chunk = items[at : at + size]
            matrix = np.zeros((width, len(chunk)), np.int64)
            known_from = np.zeros(len(chunk), np.int64)
            for row, (_, _, ordinals, counts, first, _) in enumerate(chunk):
                matrix[ordinals - origin, row] = counts
                known_from[row] = first - origin
            weekday0 = dt.date.fromordinal(origin).weekday()
            alarms = _scan(matrix, known_from, weekday0, config)
            for row, (position, key, _, _, first, last) in enumerate(chunk):
                if not alarms[row]:
                    continue
                test_first = (max(first, start_ord) if start_ord is not None else first) - origin
                results[position] = _surges(
                    key, matrix[:, row], alarms[row], origin, test_first, last - origin, config
                )
    return [surge for position in sorted(results) for surge in results[position]]


def level(
    surge: Surge | None,
    *,
    risk_score: int = 0,
    risk_codes: Collection[str] = (),
    rules: LevelRules | None = None,
) -> str | None:
    """ "red" | "orange" | "yellow" | None for a surge and/or a risk (rules in the module docstring)."""
    rules = LevelRules() if rules is None else rules
    if surge is not None and not isinstance(surge, Surge):
        raise ValueError(f"surge must be a Surge or None, not {type(surge).__name__}")
    if risk_score is not None and (isinstance(risk_score, bool) or not isinstance(risk_score, numbers.Real)):
        raise ValueError(f"risk_score must be a number, not {_show(risk_score)}")
    score = 0.0 if risk_score is None or risk_score != risk_score else float(risk_score)
    codes = {risk_codes} if isinstance(risk_codes, str) else set(risk_codes or ())
    critical = bool(codes & CRITICAL_CODES)
    if surge is None:
        if score >= rules.red_risk:
            return "orange"
        if score >= rules.orange_risk or critical:
            return "yellow"
        return None
    if (
        (surge.ratio >= rules.red_ratio and surge.count >= rules.red_count)
        or score >= rules.red_risk
        or critical
    ):
        return "red"
    if surge.ratio >= rules.orange_ratio or surge.count >= rules.orange_count or score >= rules.orange_risk:
        return "orange"
    return "yellow"
