"""Progress of a bulk run: :class:`BulkProgress` snapshots, and a bar on stderr.

``on_progress(BulkProgress)`` is called each time a page is acknowledged or fails; the
counts only grow. ``progress=True`` draws a tqdm bar when tqdm is installed (the
``progress`` extra) and stderr is a terminal, otherwise one plain line on stderr
rewritten in place (``\\r``), ended with a newline when the run ends.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import attrs

__all__ = ["BulkProgress", "PlainLine", "ProgressBar", "make_bar"]


@attrs.frozen
class BulkProgress:
    """Counts so far: items accepted / failed / read, pages, bytes, elapsed seconds."""

    kind: str
    accepted: int
    failed: int
    items_read: int
    pages: int
    pages_failed: int
    bytes_sent: int
    elapsed_seconds: float
    concurrency: int
    total: int | None = None


OnProgress = Callable[[BulkProgress], Any]


class ProgressBar:
    """What draws progress: updated with each snapshot, closed at the end."""

    def update(self, progress: BulkProgress) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class PlainLine(ProgressBar):
    """A plain status line on ``stream``: rewritten in place on a terminal (at most every
    0.1 s); elsewhere (a log, a pipe) a whole line at most every ``interval`` seconds
    (2 s) and a last one at the end, so logs stay readable."""

    def __init__(self, stream: IO[str], interval: float | None = None) -> None:
        isatty = getattr(stream, "isatty", None)
        self._terminal = bool(isatty is not None and isatty())
        self._stream = stream
        self._interval = interval if interval is not None else 0.1 if self._terminal else 2.0
        self._last = 0.0
        self._width = 0
        self._latest: BulkProgress | None = None
        self._drawn: BulkProgress | None = None

    def update(self, progress: BulkProgress) -> None:
        self._latest = progress
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._draw(progress)

    def _draw(self, progress: BulkProgress) -> None:
        total = f"/{progress.total}" if progress.total is not None else ""
        rate = progress.accepted / progress.elapsed_seconds if progress.elapsed_seconds else 0.0
        text = (
            f"bulk {progress.kind}: {progress.accepted}{total} accepted, {progress.failed} "
            f"failed, {progress.pages} pages, {rate:.0f}/s, concurrency {progress.concurrency}"
        )
        if self._terminal:
            self._stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self._stream.write(text + "\n")
        self._drawn = progress
        self._stream.flush()

    def close(self) -> None:
        if self._latest is not None and self._latest is not self._drawn:
            self._draw(self._latest)
        if self._terminal and self._drawn is not None:
            self._stream.write("\n")
            self._stream.flush()


class _Tqdm(ProgressBar):
    def __init__(self, tqdm: Any, stream: IO[str], kind: str, total: int | None) -> None:
        self._bar = tqdm(total=total, unit="item", desc=f"bulk {kind}", file=stream)
        self._done = 0

    def update(self, progress: BulkProgress) -> None:
        done = progress.accepted + progress.failed
        self._bar.update(done - self._done)
        self._done = done
        self._bar.set_postfix(failed=progress.failed, concurrency=progress.concurrency)

    def close(self) -> None:
        self._bar.close()


def make_bar(kind: str, total: int | None, stream: IO[str] | None = None) -> ProgressBar:
    """tqdm on a terminal when it is installed, else :class:`PlainLine`."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        try:
            tqdm = importlib.import_module("tqdm").tqdm
        except ImportError:
            pass
        else:
            return _Tqdm(tqdm, stream, kind, total)
    return PlainLine(stream)
