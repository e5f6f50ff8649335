"""The cyclic garbage collector paused while a large response body becomes models.

Parsing and structuring a large body (a 219 KB search response is about 1,500 models
and their lists) allocates many container objects in a burst. Each 700 allocations start
a young-generation pass, which moves the half-built tree into older generations, and
those promotions trigger full passes over the whole heap (every class and function of
the program). Those passes cost more than the structuring itself and find nothing: the
tree has no garbage cycles. :func:`paused` turns the collector off for that burst and on
again afterwards; collection then goes on as before, just after the burst.

It nests and works across threads: the collector is turned off only when it was on,
and on again when the last pause ends. Set ``GLEAN_FLUX0_ASYNC_GC_PAUSE=0`` to leave
the collector alone (a program that switches it itself from another thread while a body
is structured should: the end of a pause turns it back on).
"""

from __future__ import annotations

import gc
import os
import threading
from types import TracebackType

__all__ = ["PAUSE_FROM_BYTES", "enabled", "paused"]

PAUSE_FROM_BYTES = 32 * 1024  # bodies this large or larger are structured with GC paused

enabled = os.environ.get("GLEAN_FLUX0_ASYNC_GC_PAUSE", "1").strip().lower() not in (
    "0",
    "false",
    "no",
    "off",
)


class _Pause:
    """A context manager: the collector off inside (when it was on), shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False  # whether the first pause turned the collector off

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                if self._resume:
                    gc.disable()
            self._depth += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                self._resume = False
                gc.enable()


paused = _Pause()
