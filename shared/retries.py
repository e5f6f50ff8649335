"""Retry policy: which failures are retried, how long to wait, when to give up.

Shaped like the official Glean SDK (``RetryConfig("backoff", BackoffStrategy(...), True)``)
and run by tenacity. What is retried: connection errors and timeouts (when
``retry_connection_errors``), and the statuses in :data:`RETRYABLE_STATUSES`. The wait is
the server's ``Retry-After`` when it sends one, else exponential backoff with full jitter.
The call gives up, raising the last SDK error, when the next wait would end after
``max_elapsed_time_ms``.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, TypeVar

import attrs
import tenacity

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth another attempt.

501 (Not Implemented) and 505 (HTTP Version Not Supported) are 5xx but permanent by
definition: repeating the request cannot succeed. 409 (Glean: "retrying unchanged may
continue to fail") and 413 (split the batch instead) are never retried, nor any other 4xx.
"""

_non_negative = attrs.validators.ge(0)


@attrs.frozen
class BackoffStrategy:
    """Exponential backoff: the n-th wait is drawn from ``[0, initial * exponent**(n-1)]``.

    Each bound is capped at ``max_interval_ms``; no retry starts once ``max_elapsed_time_ms``
    would be passed (counted from the first attempt).
    """

    initial_interval_ms: int = attrs.field(validator=_non_negative)
    max_interval_ms: int = attrs.field(validator=_non_negative)
    exponent: float = attrs.field(validator=attrs.validators.gt(0))
    max_elapsed_time_ms: int = attrs.field(validator=_non_negative)


DEFAULT_BACKOFF = BackoffStrategy(
    initial_interval_ms=500, max_interval_ms=30_000, exponent=2.0, max_elapsed_time_ms=60_000
)


@attrs.frozen
class RetryConfig:
    """How a call is retried: ``RetryConfig("backoff", BackoffStrategy(...), True)``.

    ``strategy="none"`` disables retries. ``backoff=None`` with ``"backoff"`` uses the
    default strategy (500 ms initial, 30 s max interval, exponent 2, 60 s max elapsed).
    ``retry_connection_errors`` also retries failures to connect, dropped connections
    and timeouts.
    """

    strategy: Literal["backoff", "none"] = attrs.field(
        validator=attrs.validators.in_(("backoff", "none"))
    )
    backoff: BackoffStrategy | None = None
    retry_connection_errors: bool = True


DEFAULT_RETRY_CONFIG = RetryConfig("backoff", DEFAULT_BACKOFF, True)
"""Used when neither the client nor the call sets ``retries``.

Backoff with full jitter from 500 ms, doubling each attempt up to 30 s between attempts,
giving up once 60 s have elapsed; connection errors and timeouts are retried, as are
408, 429, 500, 502, 503 and 504. ``Retry-After`` (seconds or HTTP date) replaces the
computed wait. Pass ``RetryConfig("none")`` to turn retries off.
"""

NO_RETRIES = RetryConfig("none")


class Retryable(Exception):
    """Raised by an attempt whose failure another attempt may fix.

    ``error`` is the SDK exception to raise if no retry follows; ``status_code`` is 0 for a
    connection error or timeout; ``headers`` are the response's (for ``Retry-After``).
    """

    def __init__(
        self,
        error: Exception,
        *,
        status_code: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.status_code = status_code
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    @property
    def is_connection_error(self) -> bool:
        """Whether no response arrived (connection failure or timeout)."""
        return self.status_code == 0

    @property
    def reason(self) -> str:
        """Short text for logs: the status, or ``connection error``."""
        return str(self.status_code) if self.status_code else "connection error"


def retry_after_seconds(
    headers: Mapping[str, str], now: datetime.datetime | None = None
) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (never negative), if any.

    Accepts delta seconds (``120``) and an HTTP date (``Wed, 21 Oct 2015 07:28:00 GMT``).
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now)
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is not a wait


def _seconds_until(http_date: str, now: datetime.datetime | None) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max((when - now).total_seconds(), 0.0)


def backoff_seconds(backoff: BackoffStrategy, retry_number: int) -> float:
    """A full-jitter wait before retry number ``retry_number`` (1 for the first retry)."""
    ceiling = backoff.initial_interval_ms * backoff.exponent ** (retry_number - 1)
    return random.uniform(0, min(ceiling, backoff.max_interval_ms)) / 1000


def wants_retry(config: RetryConfig, failure: BaseException) -> bool:
    """Whether ``failure`` (raised by an attempt) may be retried under ``config``."""
    if config.strategy != "backoff" or not isinstance(failure, Retryable):
        return False
    if failure.is_connection_error:
        return config.retry_connection_errors
    return failure.status_code in RETRYABLE_STATUSES


def next_wait(backoff: BackoffStrategy, retry_number: int, failure: Retryable) -> float:
    """Seconds to wait before the next attempt: ``Retry-After`` if sent, else backoff."""
    requested = retry_after_seconds(failure.headers)
    return requested if requested is not None else backoff_seconds(backoff, retry_number)


OnRetry = Callable[[float, Retryable], None]


async def run_with_retries(
    config: RetryConfig,
    attempt: Callable[[], Awaitable[T]],
    *,
    on_retry: OnRetry | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, raises a non-retryable error, or time runs out.

    ``attempt`` signals a retryable failure by raising :class:`Retryable`; when no retry
    follows, the SDK error it carries is raised (never tenacity's ``RetryError``).
    ``on_retry(seconds, failure)`` is called before each wait. The first attempt runs
    directly; tenacity takes over only once it has failed in a retryable way, so a call
    that succeeds pays nothing for the retry machinery.
    """
    started = time.monotonic()
    try:
        return await attempt()
    except Retryable as failure:
        first_failure = failure
    return await retry_after_first(config, attempt, first_failure, started, on_retry)


async def retry_after_first(
    config: RetryConfig,
    attempt: Callable[[], Awaitable[T]],
    first_failure: Retryable,
    started: float,
    on_retry: OnRetry | None = None,
) -> T:
    """What :func:`run_with_retries` does once its first attempt (begun at ``started``,
    a ``time.monotonic()`` value) failed with ``first_failure``: raise its SDK error when
    it is not retried, else retry. For callers that run the first attempt themselves."""
    if not wants_retry(config, first_failure):
        raise first_failure.error from first_failure.error.__cause__
    return await _retry(config, attempt, first_failure, started, on_retry)


async def _retry(
    config: RetryConfig,
    attempt: Callable[[], Awaitable[T]],
    first_failure: Retryable,
    started: float,
    on_retry: OnRetry | None,
) -> T:
    """Tenacity's loop, resumed after a first failed attempt (replayed, not re-sent)."""
    backoff = config.backoff or DEFAULT_BACKOFF
    max_elapsed = backoff.max_elapsed_time_ms / 1000
    pending = [first_failure]
    already_spent = time.monotonic() - started

    async def replay_then_attempt() -> T:
        if pending:
            raise pending.pop()
        return await attempt()

    def wait(state: tenacity.RetryCallState) -> float:
        return next_wait(backoff, state.attempt_number, _failure_of(state))

    def stop(state: tenacity.RetryCallState) -> bool:
        elapsed = already_spent + (state.seconds_since_start or 0.0)
        return elapsed + state.upcoming_sleep > max_elapsed

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None:
            on_retry(state.upcoming_sleep, _failure_of(state))

    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception(lambda exc: wants_retry(config, exc)),
        wait=wait,
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return await retrying(replay_then_attempt)
    except Retryable as failure:
        raise failure.error from failure.error.__cause__


def _failure_of(state: tenacity.RetryCallState) -> Retryable:
    assert state.outcome is not None
    failure = state.outcome.exception()
    assert isinstance(failure, Retryable)
    return failure
