"""The adaptive limiter (AIMD on throttles) and the token bucket, on their own."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glean_async.bulk.limiter import AdaptiveLimiter, TokenBucket

pytestmark = pytest.mark.anyio


def test_a_throttle_halves_the_limit_and_successes_grow_it_back() -> None:
    limiter = AdaptiveLimiter(8)
    limiter.throttled(limiter.generation)
    assert limiter.limit == 4 and limiter.lowest == 4 and limiter.drops == 1
    for _ in range(4):  # a run as long as the limit: one more slot
        limiter.succeeded()
    assert limiter.limit == 5 and limiter.raises == 1
    for _ in range(5 + 6 + 7):
        limiter.succeeded()
    assert limiter.limit == 8 and limiter.highest == 8
    for _ in range(20):  # never past the maximum
        limiter.succeeded()
    assert limiter.limit == 8


def test_throttles_from_one_window_cut_once_and_never_below_one() -> None:
    limiter = AdaptiveLimiter(8)
    sent_at = limiter.generation
    for _ in range(5):  # five pages sent together, all throttled: one cut
        limiter.throttled(sent_at)
    assert limiter.limit == 4
    for _ in range(10):  # each retry sent after the latest cut is throttled again
        limiter.throttled(limiter.generation)
    assert limiter.limit == 1 and limiter.lowest == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["ok", "throttle", "stale-throttle"]), max_size=200))
def test_the_limit_stays_between_one_and_the_maximum(events: list[str]) -> None:
    limiter = AdaptiveLimiter(6)
    old = limiter.generation
    for event in events:
        if event == "ok":
            limiter.succeeded()
        elif event == "throttle":
            limiter.throttled(limiter.generation)
        else:
            limiter.throttled(old)
        assert 1 <= limiter.limit <= 6
        assert limiter.lowest <= limiter.limit <= limiter.highest


async def test_acquire_waits_for_a_free_slot_under_the_current_limit() -> None:
    limiter = AdaptiveLimiter(2)
    await limiter.acquire()
    await limiter.acquire()
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    assert not waiting.done()
    limiter.throttled(limiter.generation)  # limit 1: one release is not enough
    limiter.release()
    await asyncio.sleep(0)
    assert not waiting.done()
    limiter.release()
    await asyncio.wait_for(waiting, 1)
    assert limiter.in_flight == 1


async def test_a_cancelled_wait_leaves_no_waiter_behind() -> None:
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    limiter.release()
    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.acquire(), 1)


async def test_the_token_bucket_spaces_request_starts_by_one_over_the_rate() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(4, clock=lambda: now[0], sleep=sleep)
    starts = [await bucket.take() for _ in range(5)]
    assert starts == [100.0, 100.25, 100.5, 100.75, 101.0]
    bucket.charge()  # a retry the HTTP core made: the next start moves on
    assert await bucket.take() == 101.5
    now[0] += 10  # idle time is not saved up as a burst
    assert await bucket.take() == 111.5
    assert await bucket.take() == 111.75


async def test_without_a_rate_the_bucket_never_waits() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("waited")

    bucket = TokenBucket(None, clock=lambda: 5.0, sleep=sleep)
    assert [await bucket.take() for _ in range(3)] == [5.0, 5.0, 5.0]
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)
