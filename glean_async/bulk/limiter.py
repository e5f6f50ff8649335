"""How many pages may be in flight, and how fast requests may start.

:class:`AdaptiveLimiter` is additive-increase / multiplicative-decrease: a throttle (429,
503) halves the number of pages allowed in flight (never below 1), and each run of
successes as long as the current limit raises it by one, up to the maximum. Throttles
seen by pages sent before the last cut do not cut again (one cut per window, as in TCP).

:class:`TokenBucket` caps requests per second: each request reserves the next free
slot, ``1 / rate`` seconds after the previous one; a retry the HTTP core makes on its
own is charged to the bucket afterwards (:meth:`TokenBucket.charge`), so the long-run
rate stays under the cap.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["AdaptiveLimiter", "TokenBucket"]


class AdaptiveLimiter:
    """Slots for pages in flight, ``maximum`` at most; see the module docstring."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self.generation = 0  # bumped at each cut
        self.lowest = maximum
        self.highest = maximum
        self.drops = 0
        self.raises = 0
        self._successes = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> int:
        """Wait for a free slot and take it; returns the generation to report with."""
        while self.in_flight >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.in_flight += 1
        return self.generation

    def release(self) -> None:
        """Give a slot back (whatever the page's outcome)."""
        self.in_flight -= 1
        self._wake()

    def succeeded(self) -> None:
        """A page was acknowledged: count towards the next raise."""
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self.raises += 1
            self.highest = max(self.highest, self.limit)
            self._successes = 0
            self._wake()

    def throttled(self, generation: int) -> int:
        """A request sent at ``generation`` was throttled; returns the current generation."""
        if generation == self.generation:
            new_limit = max(1, self.limit // 2)
            if new_limit < self.limit:
                self.limit = new_limit
                self.drops += 1
                self.lowest = min(self.lowest, new_limit)
            self.generation += 1
            self._successes = 0
        return self.generation

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        for waiter in list(self._waiters)[: max(free, 0)]:
            if not waiter.done():
                waiter.set_result(None)


class TokenBucket:
    """At most ``rate`` request starts per second (``None``: no cap).

    ``clock`` and ``sleep`` are the time source and the wait (tests pass their own).
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError("max_requests_per_second must be a positive number")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def take(self) -> float:
        """Wait for this request's slot; returns when that slot starts (clock time)."""
        now = self._clock()
        if self.rate is None:
            return now
        start = max(now, self._next)
        self._next = start + 1 / self.rate
        if start > now:
            await self._sleep(start - now)
        return start

    def charge(self) -> None:
        """Count a request already made (a retry): later ones start that much later."""
        if self.rate is not None:
            self._next = max(self._clock(), self._next) + 1 / self.rate
