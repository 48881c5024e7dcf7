"""The fixed-window rate limiter (no database: it lives in the cache)."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.test import RequestFactory

from minyi.core.exceptions import RateLimited
from minyi.core.ratelimit import check_rate, check_request_rate, client_ip, parse_rate


@pytest.fixture(autouse=True)
def _rate_limits_on(settings):
    settings.MINYI_RATE_LIMIT_ENABLED = True


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("10/m", (10, 60)),
        ("3/s", (3, 1)),
        ("100/h", (100, 3600)),
        ("5/d", (5, 86400)),
        ("7/min", (7, 60)),
        ("10", (10, 60)),
    ],
)
def test_parse_rate(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["ten/m", "10/x", "", "/m"])
def test_parse_rate_refuses_nonsense(rate):
    with pytest.raises((ValueError, KeyError)):
        parse_rate(rate)


def _window_start(window: int) -> float:
    # a moment well inside one window, so the test never straddles two
    return (time.time() // window + 1) * window + 1


def test_allows_the_limit_then_refuses():
    with time_machine.travel(_window_start(60), tick=False):
        for _ in range(3):
            check_rate(scope="submit", key="1.2.3.4", rate="3/m")
        with pytest.raises(RateLimited) as info:
            check_rate(scope="submit", key="1.2.3.4", rate="3/m")
        assert info.value.status_code == 429
        assert str(info.value)  # a message for the user


def test_keys_and_scopes_are_counted_apart():
    with time_machine.travel(_window_start(60), tick=False):
        for _ in range(2):
            check_rate(scope="submit", key="a", rate="2/m")
        check_rate(scope="submit", key="b", rate="2/m")
        check_rate(scope="track", key="a", rate="2/m")
        with pytest.raises(RateLimited):
            check_rate(scope="submit", key="a", rate="2/m")


def test_a_new_window_starts_afresh():
    start = _window_start(60)
    with time_machine.travel(start, tick=False):
        check_rate(scope="auth", key="k", rate="1/m")
        with pytest.raises(RateLimited):
            check_rate(scope="auth", key="k", rate="1/m")
    with time_machine.travel(start + 60, tick=False):
        check_rate(scope="auth", key="k", rate="1/m")


def test_configured_rates_are_used(settings):
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "track": "2/m"}
    with time_machine.travel(_window_start(60), tick=False):
        check_rate(scope="track", key="x")
        check_rate(scope="track", key="x")
        with pytest.raises(RateLimited):
            check_rate(scope="track", key="x")


def test_switched_off(settings):
    settings.MINYI_RATE_LIMIT_ENABLED = False
    for _ in range(20):
        check_rate(scope="submit", key="x", rate="1/m")


def test_request_rate_is_per_client_address(settings):
    factory = RequestFactory()
    one = factory.post("/submit", REMOTE_ADDR="10.0.0.1")
    two = factory.post("/submit", REMOTE_ADDR="10.0.0.2")
    assert client_ip(one) == "10.0.0.1"
    with time_machine.travel(_window_start(60), tick=False):
        limit = parse_rate(settings.MINYI_RATE_LIMITS["submit"])[0]
        for _ in range(limit):
            check_request_rate(one, "submit")
        with pytest.raises(RateLimited):
            check_request_rate(one, "submit")
        check_request_rate(two, "submit")


def test_missing_address_is_still_limited():
    request = RequestFactory().get("/", REMOTE_ADDR="")
    assert client_ip(request) == "unknown"
