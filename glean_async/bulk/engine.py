"""The bulk engine: reads the input lazily, cuts pages, sends them in a safe order.

One :class:`BulkRun` per run. In an upload (``ordered``) the first page is acknowledged
before any other is sent; middle pages go out with at most the limiter's number in
flight; the last page (held back while the input is read, since only the end of the
input tells which page is last) is sent only after every other page was acknowledged,
no item failed, and the input ended cleanly. Otherwise the upload is left unfinished:
nothing is deleted on the server, and the report says what to resume.

Pages failing with 400, 413 or 422 concern only their own items: the other pages go on
(so a resume has less to send). Any other failure (401, 403, 409, retries given up,
...) stops the run: pages in flight finish, no new page is sent, the input is not read
further. Each page is retried under the client's retry policy by the HTTP core; the
engine sees every retried failure through :meth:`HTTPCore.call_prepared`'s hook, and
throttles (429, 503) cut the limiter.

Memory stays bounded: pages in flight (``concurrency`` at most), the held page and the
one being filled; on resume, also the items not yet acknowledged that come before the
end of the last acknowledged range (held until the whole input is checked against the
report, so a mismatch is refused before anything is sent).
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import attrs

from shared.bodies import PreparedBody
from shared.errors import InvalidInputError, SDKError

from .limiter import AdaptiveLimiter, TokenBucket
from .pages import Cutter, Encoded, Encoder, Envelope, Page
from .positions import AckSet, ResumeCheck
from .progress import BulkProgress, OnProgress, ProgressBar, make_bar
from .report import (
    BulkPartReport,
    BulkReport,
    BulkResumeError,
    BulkUploadError,
    ItemFailure,
    RunStats,
)
from .source import Source, chunks_of

if TYPE_CHECKING:
    from shared.http import HTTPCore
    from shared.operation import Operation
    from shared.retries import Retryable

__all__ = ["BulkRun", "Settings", "run_and_check", "succeeded"]

S = TypeVar("S", bound=RunStats)

THROTTLE_STATUSES = frozenset({429, 503})
PAGE_STATUSES = frozenset({400, 413, 422})
"""Failures that concern only the page's own items: the run goes on without them."""


@attrs.frozen
class Settings:
    """The knobs of one run, checked by the public API before it starts."""

    batch_size: int
    max_batch_bytes: int
    concurrency: int
    max_requests_per_second: float | None = None
    progress: bool = False
    on_progress: OnProgress | None = None
    allow_empty: bool = False


@attrs.define
class _Attempts:
    """Per page: the limiter generation its latest attempt was sent in."""

    generation: int


class BulkRun(Generic[S]):
    """One run over one input; ``stats`` is the report it fills in.

    ``first_done``: the upload's first page is already acknowledged (resume, split
    uploads). ``send_last``: finish the upload (``False`` for the parts of a split
    upload). ``ordered=False``: independent batches, no first or last page.
    """

    def __init__(
        self,
        core: HTTPCore,
        op: Operation,
        envelope: Envelope,
        encoder: Encoder,
        settings: Settings,
        stats: S,
        *,
        ordered: bool = True,
        first_done: bool = False,
        send_last: bool = True,
        prior: AckSet | None = None,
        total: int | None = None,
    ) -> None:
        self.core = core
        self.op = op
        self.envelope = envelope
        self.encoder = encoder
        self.settings = settings
        self.stats = stats
        self.ordered = ordered
        self.first_done = first_done or not ordered
        self.send_last = send_last and ordered
        self.finalized = False
        self.acked = AckSet(prior.ranges()) if prior is not None else AckSet()
        self._prior = prior
        self._check = ResumeCheck(prior.ranges()) if prior is not None and len(prior) else None
        self.limiter = AdaptiveLimiter(settings.concurrency)
        self.bucket = TokenBucket(settings.max_requests_per_second)
        self.cutter = Cutter(settings.batch_size, settings.max_batch_bytes, envelope.overhead)
        self.stopped: str | None = None
        self.input_error: BaseException | None = None
        self.callback_error: BaseException | None = None
        self._content_type = _content_type(op)
        self._started = time.monotonic()
        self._elapsed_before = stats.elapsed_seconds
        self._failures: list[ItemFailure] = []
        self._held_back: list[Encoded] = []  # resume: read, held until the check passed
        self._bar: ProgressBar | None = make_bar(stats.kind, total) if settings.progress else None
        self._total = total

    # -- the run -----------------------------------------------------------------------

    async def run(self, source: Source) -> S:
        """Read ``source`` and send it; returns the filled-in report (never raises for
        failed items or pages; raises for an empty input without ``allow_empty``, a
        resume mismatch, and cancellation)."""
        pages = self._pages(source)
        try:
            remaining = await self._send_all_but_last(pages)
            await self._finish(remaining)
        finally:
            await pages.aclose()
            self._close_stats()
            if self._bar is not None:
                self._bar.close()
        return self.stats

    async def _send_all_but_last(self, pages: AsyncIterator[Page]) -> list[Page]:
        """Send every page but the last, which is held back and returned (with what was
        read but not cut yet, when the input raised); ``[]`` when the run stopped."""
        held: Page | None = None
        mismatch: BulkResumeError | None = None
        async with anyio.create_task_group() as group:
            try:
                async for page in pages:
                    if held is not None:
                        if not await self._dispatch(held, group):
                            self._not_sent([held, page, *self._rest()], self.stopped or "stop")
                            return []
                        if self.stopped is not None:
                            self._not_sent([page, *self._rest()], self.stopped)
                            return []
                    held = page
            except BulkResumeError as exc:  # raised before any page was sent
                mismatch = exc
            except Exception as exc:
                self.input_error = exc
        if mismatch is not None:
            raise mismatch
        remaining = [held] if held is not None else []
        return remaining + self._rest() if self.input_error is not None else remaining

    async def _dispatch(self, page: Page, group: anyio.abc.TaskGroup) -> bool:
        """Send ``page`` as the first page (waiting for its outcome) or start it as a
        middle one; ``False`` when it was not sent (the run had stopped)."""
        if not self.first_done:
            self.first_done = await self._send_one(page, first=True, last=False)
            return True
        if self.stopped is not None:
            return False
        generation = await self.limiter.acquire()
        if self.stopped is not None:
            self.limiter.release()
            return False
        group.start_soon(self._send_middle, page, generation)
        return True

    async def _send_middle(self, page: Page, generation: int) -> None:
        try:
            await self._post(page, generation, first=False, last=False)
        finally:
            self.limiter.release()

    async def _send_one(self, page: Page, *, first: bool, last: bool) -> bool:
        return await self._post(page, self.limiter.generation, first=first, last=last)

    async def _finish(self, remaining: list[Page]) -> None:
        """Send what is left: as the last page when everything else succeeded and the
        input ended cleanly, else as middle pages (the upload stays open)."""
        if self.stopped is not None:
            self._not_sent(remaining, self.stopped)
            return
        clean = self.input_error is None and not self._failures
        finishing = self.send_last and clean
        if not remaining and clean and self.ordered:
            if finishing:
                self._check_empty()
            if finishing or not self.first_done:
                remaining = [self.cutter.empty_page()]
        last = remaining.pop() if finishing else None
        for index, page in enumerate(remaining):
            sent = await self._send_one(page, first=not self.first_done, last=False)
            self.first_done = self.first_done or sent
            if self.stopped is not None:
                self._not_sent(remaining[index + 1 :], self.stopped)
                return
        if last is not None:
            self.finalized = await self._send_one(last, first=not self.first_done, last=True)
            self.first_done = self.first_done or self.finalized

    def _check_empty(self) -> None:
        if self.stats.items_read == 0 and self._prior is None and not self.settings.allow_empty:
            raise InvalidInputError(
                self.stats.kind,
                "the input has no items: an empty upload deletes everything uploaded "
                "before; pass allow_empty=True to do that (nothing was sent)",
            )

    # -- reading and cutting -----------------------------------------------------------

    async def _pages(self, source: Source) -> AsyncGenerator[Page, None]:
        """Pages cut from ``source``; acknowledged positions (resume) checked, skipped."""
        check, prior = self._check, self._prior or AckSet()
        position = -1
        stats, encode, add = self.stats, self.encoder.encode, self.cutter.add
        async for chunk in chunks_of(source):
            if check is None or check.done:  # nothing (left) to check: a chunk at a time
                start, position = position + 1, position + len(chunk)
                stats.items_read = position + 1
                good, bad = self.encoder.encode_many(start, chunk)
                if bad:
                    self._fail(bad)
                for page in self.cutter.add_many(good):
                    yield page
                # a chunk is about a millisecond of work: the loop then writes what
                # the socket took of the pages in flight, and reads their answers
                await anyio.sleep(0)
                continue
            for item in chunk:
                position += 1
                stats.items_read = position + 1
                if check is not None and position in prior:
                    check.see(position, self._key(position, item))
                    if check.done:
                        held_back, self._held_back = self._held_back, []
                        for page in self._cut(held_back):
                            yield page
                    continue
                encoded = encode(position, item)
                if isinstance(encoded, ItemFailure):
                    self._fail([encoded])
                elif check is not None and not check.done:
                    self._held_back.append(encoded)
                else:
                    cut = add(encoded)
                    if cut is not None:
                        yield cut
                        await anyio.sleep(0)  # let responses in between pages cut from a list
        self.stats.input_complete = True
        if check is not None:
            check.finish(position + 1)
        held_back, self._held_back = self._held_back, []
        for page in self._cut(held_back):
            yield page
        last = self.cutter.flush()
        if last is not None:
            yield last

    def _rest(self) -> list[Page]:
        """What was read but not cut into a page yet (when the run stops early)."""
        pages = self._cut(self._held_back)
        self._held_back = []
        last = self.cutter.flush()
        return [*pages, last] if last is not None else pages

    def _cut(self, items: list[Encoded]) -> list[Page]:
        pages = [self.cutter.add(item) for item in items]
        return [page for page in pages if page is not None]

    def _key(self, position: int, item: Any) -> str:
        key = self.encoder.raw_key(item)
        if key is not None:
            return key
        encoded = self.encoder.encode(position, item)
        return encoded.key if isinstance(encoded, Encoded) else ""

    # -- one page ----------------------------------------------------------------------

    async def _post(self, page: Page, generation: int, *, first: bool, last: bool) -> bool:
        """Send one page (the HTTP core retries it); record the outcome."""
        body = self.envelope.body(page, first=first, last=last)
        attempts = _Attempts(generation)
        on_retry = functools.partial(self._retried, attempts, len(body))
        await self.bucket.take()
        self.stats.requests += 1
        self.stats.bytes_sent += len(body)
        try:
            await self.core.call_prepared(
                self.op, PreparedBody(self._content_type, data=body), on_retry=on_retry
            )
        except SDKError as exc:
            if exc.status_code in THROTTLE_STATUSES:
                self.stats.throttles += 1
                self.limiter.throttled(attempts.generation)
            self._page_failed(page, exc, first=first, last=last)
            return False
        self._page_done(page)
        return True

    def _retried(self, attempts: _Attempts, size: int, seconds: float, failure: Retryable) -> None:
        stats = self.stats
        stats.retries += 1
        stats.requests += 1
        stats.bytes_sent += size
        self.bucket.charge()
        if failure.status_code in THROTTLE_STATUSES:
            stats.throttles += 1
            attempts.generation = self.limiter.throttled(attempts.generation)
        else:
            attempts.generation = self.limiter.generation

    def _page_done(self, page: Page) -> None:
        items = page.items
        self.acked.add_keys([item.position for item in items], [item.key for item in items])
        self.stats.pages += 1
        self.stats.accepted += len(items)
        self.limiter.succeeded()
        self._progress()

    def _page_failed(self, page: Page, error: SDKError, *, first: bool, last: bool) -> None:
        self.stats.pages_failed += 1
        reason = f"page {page.number} failed: {error}"
        if first and error.status_code == 409:
            reason = _conflict(self.stats, error)
        self._fail([ItemFailure(item.position, item.id, reason) for item in page.items])
        self._progress()
        if error.status_code not in PAGE_STATUSES or first or last:
            status = f"HTTP {error.status_code}" if error.status_code else type(error).__name__
            if self.stopped is None:
                self.stopped = (
                    reason
                    if error.status_code == 409
                    else f"page {page.number} failed ({status}); no further page was sent"
                )

    # -- bookkeeping -------------------------------------------------------------------

    def _fail(self, failures: list[ItemFailure]) -> None:
        self._failures.extend(failures)

    def _not_sent(self, pages: list[Page], why: str) -> None:
        reason = f"not sent: {why}"
        self._fail(
            [ItemFailure(item.position, item.id, reason) for page in pages for item in page.items]
        )

    def _progress(self) -> None:
        if self.settings.on_progress is None and self._bar is None:
            return
        stats = self.stats
        snapshot = BulkProgress(
            kind=stats.kind,
            accepted=stats.accepted,
            failed=len(self._failures),
            items_read=stats.items_read,
            pages=stats.pages,
            pages_failed=stats.pages_failed,
            bytes_sent=stats.bytes_sent,
            elapsed_seconds=self._elapsed_before + time.monotonic() - self._started,
            concurrency=self.limiter.limit,
            total=self._total,
        )
        if self.settings.on_progress is not None:
            try:
                self.settings.on_progress(snapshot)
            except Exception as exc:  # stops the run; raised once it has unwound
                if self.callback_error is None:
                    self.callback_error = exc
                    self.stopped = self.stopped or f"on_progress raised {type(exc).__name__}: {exc}"
        if self._bar is not None:
            self._bar.update(snapshot)

    def _close_stats(self) -> None:
        stats, limiter = self.stats, self.limiter
        stats.failures = sorted(self._failures, key=lambda failure: failure.position)
        stats.acknowledged = self.acked.ranges()
        stats.elapsed_seconds = self._elapsed_before + time.monotonic() - self._started
        stats.concurrency = limiter.maximum
        stats.concurrency_lowest = min(limiter.lowest, stats.concurrency_lowest or limiter.lowest)
        stats.concurrency_highest = max(limiter.highest, stats.concurrency_highest)
        stats.concurrency_drops += limiter.drops
        stats.concurrency_raises += limiter.raises
        stats.max_requests_per_second = self.settings.max_requests_per_second
        stats.error = self.stopped
        if self.input_error is not None:
            problem = f"the input raised {type(self.input_error).__name__}: {self.input_error}"
            stats.error = f"{problem}; {stats.error}" if stats.error else problem
        if isinstance(stats, BulkReport) and stats.upload:
            stats.finalized = self.finalized
            stats.first_page_acknowledged = self.first_done


def _conflict(stats: RunStats, error: SDKError) -> str:
    where = f"datasource {stats.datasource!r}" if stats.datasource else f"the {stats.kind}"
    return (
        f"HTTP 409 Conflict: another upload of {where} is in progress under a different "
        f"upload id. Wait for it to finish, resume it with its upload id, or pass "
        f"force_restart=True to abandon it and start this one over (nothing was sent "
        f"after the first page; {error})"
    )


def _content_type(op: Operation) -> str:
    body = op.body
    content_type = body.content_type if body is not None else "application/json"
    return content_type if "json" in content_type else "application/json"


async def run_and_check(run: BulkRun[S], source: Source, raise_on_failure: bool) -> S:
    """Run ``run``; :class:`BulkUploadError` when anything failed (``raise_on_failure``),
    and always when the input or the ``on_progress`` callback raised (chained from it)."""
    report = await run.run(source)
    if run.input_error is not None or run.callback_error is not None:
        raise BulkUploadError(report) from (run.input_error or run.callback_error)
    if raise_on_failure and not succeeded(report):
        raise BulkUploadError(report)
    return report


def succeeded(report: RunStats) -> bool:
    if isinstance(report, BulkReport):
        return report.ok
    if isinstance(report, BulkPartReport):
        return report.complete
    return not report.failures and report.error is None
