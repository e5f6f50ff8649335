"""Retry policy: configuration, Retry-After, backoff with jitter, and the tenacity runner."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
import tenacity
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import SDKError
from shared.retries import (
    DEFAULT_RETRY_CONFIG,
    RETRYABLE_STATUSES,
    BackoffStrategy,
    Retryable,
    RetryConfig,
    backoff_seconds,
    retry_after_seconds,
    run_with_retries,
    wants_retry,
)

FAST = RetryConfig("backoff", BackoffStrategy(1, 5, 2.0, 2000), True)
NOW = datetime.datetime(2024, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


# --- configuration --------------------------------------------------------------------


def test_configs_take_the_official_sdk_positional_shape() -> None:
    config = RetryConfig("backoff", BackoffStrategy(500, 60000, 1.5, 120000), True)
    assert config.backoff == BackoffStrategy(
        initial_interval_ms=500, max_interval_ms=60000, exponent=1.5, max_elapsed_time_ms=120000
    )
    assert RetryConfig("none").strategy == "none"


def test_invalid_configs_are_rejected() -> None:
    with pytest.raises(ValueError):
        RetryConfig("sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BackoffStrategy(-1, 10, 2.0, 100)
    with pytest.raises(ValueError):
        BackoffStrategy(1, 10, 0, 100)


def test_default_is_the_documented_one() -> None:
    documented = RetryConfig("backoff", BackoffStrategy(500, 30_000, 2.0, 60_000), True)
    assert documented == DEFAULT_RETRY_CONFIG


# --- Retry-After ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("Mon, 01 Jan 2024 12:00:30 GMT", 30.0),
        ("Mon, 01 Jan 2024 11:00:00 GMT", 0.0),
        ("Monday, 01-Jan-24 12:01:00 GMT", 60.0),
        ("soon", None),
        ("nan", None),
        ("", None),
    ],
)
def test_retry_after_seconds(value: str, expected: float | None) -> None:
    assert retry_after_seconds({"Retry-After": value}, now=NOW) == expected


def test_no_retry_after_header() -> None:
    assert retry_after_seconds({}) is None


# --- backoff --------------------------------------------------------------------------


@given(
    initial=st.integers(0, 10_000),
    maximum=st.integers(0, 60_000),
    exponent=st.floats(1.0, 4.0),
    retry=st.integers(1, 30),
)
def test_backoff_stays_within_the_exponential_ceiling_and_the_cap(
    initial: int, maximum: int, exponent: float, retry: int
) -> None:
    strategy = BackoffStrategy(initial, maximum, exponent, 60_000)
    wait = backoff_seconds(strategy, retry)
    assert 0 <= wait <= min(initial * exponent ** (retry - 1), maximum) / 1000


def test_backoff_is_jittered() -> None:
    strategy = BackoffStrategy(1000, 30_000, 2.0, 60_000)
    waits = {backoff_seconds(strategy, 3) for _ in range(50)}
    assert len(waits) > 40
    assert max(waits) <= 4.0


# --- what is retried ------------------------------------------------------------------


def failure(status: int = 0, **headers: str) -> Retryable:
    return Retryable(SDKError(f"failed {status}", status), status_code=status, headers=headers)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert status in RETRYABLE_STATUSES
    assert wants_retry(FAST, failure(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 501, 505])
def test_permanent_statuses_are_not_retried(status: int) -> None:
    assert not wants_retry(FAST, failure(status))


def test_connection_errors_follow_the_flag_and_strategy_none_retries_nothing() -> None:
    assert wants_retry(FAST, failure())
    no_connection = RetryConfig("backoff", FAST.backoff, False)
    assert not wants_retry(no_connection, failure())
    assert wants_retry(no_connection, failure(503))
    assert not wants_retry(RetryConfig("none"), failure(503))
    assert not wants_retry(FAST, ValueError("not a Retryable"))


# --- the runner -----------------------------------------------------------------------


class Attempts:
    """An attempt function that fails with the given failures, then returns "done"."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.count = 0

    async def __call__(self) -> str:
        self.count += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


@pytest.mark.anyio
async def test_retries_until_success() -> None:
    attempts = Attempts(failure(503), failure(), failure(429))
    assert await run_with_retries(FAST, attempts) == "done"
    assert attempts.count == 4


@pytest.mark.anyio
async def test_non_retryable_failures_raise_at_once() -> None:
    attempts = Attempts(failure(404))
    with pytest.raises(SDKError) as caught:
        await run_with_retries(FAST, attempts)
    assert caught.value.status_code == 404
    assert attempts.count == 1
    plain = Attempts(KeyError("bug"))
    with pytest.raises(KeyError):
        await run_with_retries(FAST, plain)
    assert plain.count == 1


@pytest.mark.anyio
async def test_gives_up_at_max_elapsed_time_raising_the_last_sdk_error() -> None:
    count = 0

    async def always_failing() -> str:
        nonlocal count
        count += 1
        error = SDKError(f"attempt {count}", 503)
        error.__cause__ = OSError("root cause")
        raise Retryable(error, status_code=503, headers={"Retry-After": "0.05"})

    config = RetryConfig("backoff", BackoffStrategy(1, 5, 2.0, 300), True)
    waits: list[float] = []
    with pytest.raises(SDKError) as caught:
        await run_with_retries(config, always_failing, on_retry=lambda s, _: waits.append(s))
    assert not isinstance(caught.value, tenacity.RetryError)
    assert str(caught.value) == f"attempt {count}"
    assert isinstance(caught.value.__cause__, OSError)
    # No wait would end past the 0.3 s budget; how many fit depends on the machine's
    # speed (a stalled loop spends the budget sooner), never more than the waits allow.
    assert sum(waits) <= 0.3 and len(waits) == count - 1
    assert 1 <= count <= 8


@pytest.mark.anyio
async def test_retry_after_replaces_the_backoff() -> None:
    waits: list[tuple[float, str]] = []
    attempts = Attempts(failure(429, **{"Retry-After": "0.2"}), failure(503))
    config = RetryConfig("backoff", BackoffStrategy(1, 1, 2.0, 5000), True)
    started = time.monotonic()
    result = await run_with_retries(
        config, attempts, on_retry=lambda seconds, fail: waits.append((seconds, fail.reason))
    )
    assert result == "done"
    assert time.monotonic() - started >= 0.2
    assert waits[0] == (0.2, "429")
    assert waits[1][1] == "503" and waits[1][0] <= 0.001


@pytest.mark.anyio
async def test_retry_after_longer_than_the_time_left_gives_up_without_waiting() -> None:
    attempts = Attempts(failure(429, **{"Retry-After": "30"}))
    started = time.monotonic()
    with pytest.raises(SDKError) as caught:
        await run_with_retries(FAST, attempts)
    assert caught.value.status_code == 429
    assert attempts.count == 1
    assert time.monotonic() - started < 1


@pytest.mark.anyio
async def test_strategy_none_makes_one_attempt() -> None:
    attempts = Attempts(failure(503))
    with pytest.raises(SDKError):
        await run_with_retries(RetryConfig("none"), attempts)
    assert attempts.count == 1


@pytest.mark.anyio
async def test_backoff_without_a_strategy_uses_the_default_one() -> None:
    waits: list[float] = []
    attempts = Attempts(failure(503))
    config: Any = RetryConfig("backoff")
    await run_with_retries(config, attempts, on_retry=lambda seconds, _: waits.append(seconds))
    assert attempts.count == 2
    assert 0 <= waits[0] <= 0.5
