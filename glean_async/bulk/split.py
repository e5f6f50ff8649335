"""Split uploads: one upload whose middle pages are sent from several processes.

    handle = await glean.bulk.open_upload("wiki", first_page)          # the first page
    part = await client.bulk.send_pages(handle, items, part="3")      # anywhere, any client
    report = await glean.bulk.finish_upload(handle, parts, last_page)  # the last page

:class:`BulkUpload` (the handle) and :class:`~glean_async.bulk.report.BulkPartReport`
hold plain data only (no client, no connection), so they pickle to worker processes
and back. ``finish_upload`` sends the last page only when every part report is
complete; otherwise it raises :class:`BulkIncompleteError` and sends nothing, so the
server deletes nothing and the failed parts can be sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from shared.errors import InvalidInputError

from .engine import BulkRun, Settings, run_and_check
from .kinds import kind as find_kind
from .pages import Encoded
from .plan import (
    DEFAULT_MAX_BATCH_BYTES,
    Scope,
    check_source,
    encoder,
    envelope,
    fresh_stats,
    new_upload_id,
    resumed,
    settings,
)
from .positions import AckSet
from .report import BulkPartReport, BulkReport, BulkUploadError, ItemFailure
from .source import items_of, length_hint

if TYPE_CHECKING:
    from shared.http import HTTPCore

__all__ = ["BulkIncompleteError", "BulkUpload", "finish_upload", "open_upload", "send_pages"]


@attrs.frozen
class BulkUpload:
    """An open upload, as :func:`open_upload` started it: what any process needs to send
    its pages (no client, no token, no connection). ``opened`` reports the first page."""

    kind: str
    upload_id: str
    datasource: str | None = None
    group: str | None = None
    keep_stale: bool = False
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    opened: BulkReport | None = attrs.field(default=None, eq=False, repr=False)

    def scope(self) -> Scope:
        find_kind(self.kind)
        return Scope.of(self.kind, self.datasource, self.group)


class BulkIncompleteError(BulkUploadError):
    """``finish_upload`` refused: some parts were not fully acknowledged (``parts`` names
    them); nothing was sent and the upload stays open."""

    def __init__(self, report: BulkReport, parts: Sequence[str], message: str | None = None):
        self.parts = list(parts)
        names = ", ".join(repr(part) for part in self.parts)
        super().__init__(
            report,
            message
            or (
                f"finish_upload refused: part(s) {names} did not have every item acknowledged; "
                "the last page was not sent (nothing deleted, the upload stays open): send "
                "those parts again (send_pages(..., resume=part_report)) and finish again"
            ),
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.report, self.parts, self.message))


async def open_upload(
    core: HTTPCore,
    kind: str,
    datasource: str | None,
    group: str | None,
    first_page: Any,
    *,
    upload_id: str | None,
    force_restart: bool,
    keep_stale: bool,
    max_batch_bytes: int,
) -> BulkUpload:
    """Send the first page of a new upload (one page: every item valid, the body within
    ``max_batch_bytes``, else refused with nothing sent) and return its handle."""
    find_kind(kind)
    scope = Scope.of(kind, datasource, group)
    items = [item async for item in items_of(check_source("first_page", first_page))]
    run_settings = settings(
        batch_size=max(len(items), 1),
        max_batch_bytes=max_batch_bytes,
        concurrency=1,
        allow_empty=True,
    )
    uid = new_upload_id(upload_id)
    body = envelope(scope, uid, force_restart=force_restart, keep_stale=keep_stale)
    item_encoder = encoder(core, scope, body, run_settings)
    stats = BulkReport(kind=kind, datasource=datasource, group=group, upload_id=uid)
    _check_first_page(items, item_encoder.encode, body.overhead, max_batch_bytes, stats)
    run = BulkRun(core, scope.kind.op, body, item_encoder, run_settings, stats, send_last=False)
    report = await run_and_check(run, items, raise_on_failure=False)
    if not report.first_page_acknowledged:
        raise BulkUploadError(report)
    return BulkUpload(
        kind,
        uid,
        datasource,
        group,
        keep_stale=bool(keep_stale),
        max_batch_bytes=max_batch_bytes,
        opened=report,
    )


def _check_first_page(
    items: list[Any], encode: Any, overhead: int, limit: int, stats: BulkReport
) -> None:
    encoded = [encode(position, item) for position, item in enumerate(items)]
    failures = [item for item in encoded if isinstance(item, ItemFailure)]
    if failures:
        stats.failures = failures
        stats.items_read = len(items)
        stats.error = "the first page has items that cannot be sent; nothing was sent"
        raise BulkUploadError(stats)
    size = overhead + sum(len(item.data) + 1 for item in encoded if isinstance(item, Encoded))
    if size - 1 > limit:
        raise InvalidInputError(
            "first_page", f"does not fit in one page ({size - 1} bytes > max_batch_bytes {limit})"
        )


async def send_pages(
    core: HTTPCore,
    handle: BulkUpload,
    items: Any,
    *,
    part: str,
    run: Settings,
    resume: Any,
    raise_on_failure: bool,
) -> BulkPartReport:
    """Send ``items`` as middle pages of ``handle``'s upload (never a first or last page)."""
    if not isinstance(handle, BulkUpload):
        raise InvalidInputError("handle", f"expected a BulkUpload, got {type(handle).__name__}")
    scope = handle.scope()
    source = check_source("items", items)
    body = envelope(scope, handle.upload_id, force_restart=False, keep_stale=handle.keep_stale)
    prior = None
    if resume is not None:
        previous = resumed(resume, BulkPartReport, scope, handle.upload_id)
        if previous.part != part:
            raise InvalidInputError(
                "resume", f"is the report of part {previous.part!r}, not {part!r}"
            )
        stats = fresh_stats(previous)
        prior = AckSet(previous.acknowledged)
    else:
        stats = BulkPartReport(
            kind=handle.kind,
            datasource=handle.datasource,
            group=handle.group,
            upload_id=handle.upload_id,
            part=part,
        )
    engine = BulkRun(
        core,
        scope.kind.op,
        body,
        encoder(core, scope, body, run),
        attrs.evolve(run, allow_empty=True),
        stats,
        first_done=True,
        send_last=False,
        prior=prior,
        total=length_hint(source),
    )
    return await run_and_check(engine, source, raise_on_failure)


async def finish_upload(
    core: HTTPCore,
    handle: BulkUpload,
    parts: Sequence[BulkPartReport],
    last_page: Any,
    *,
    run: Settings,
    resume: Any,
    raise_on_failure: bool,
) -> BulkReport:
    """Send the last page(s) once every part is complete (see the module docstring)."""
    if not isinstance(handle, BulkUpload):
        raise InvalidInputError("handle", f"expected a BulkUpload, got {type(handle).__name__}")
    scope = handle.scope()
    reports = _checked_parts(handle, parts)
    source = check_source("last_page", last_page)
    opened = handle.opened
    sent_before = (opened.accepted if opened else 0) + sum(part.accepted for part in reports)
    if resume is not None:
        stats = fresh_stats(resumed(resume, BulkReport, scope, handle.upload_id))
        prior: AckSet | None = AckSet(stats.acknowledged)
    else:
        stats = _aggregate(handle, reports)
        prior = None
    incomplete = [part for part in reports if not part.complete]
    if incomplete:
        stats.error = f"{len(incomplete)} part(s) incomplete; nothing was sent"
        raise BulkIncompleteError(stats, [part.part for part in incomplete])
    body = envelope(scope, handle.upload_id, force_restart=False, keep_stale=handle.keep_stale)
    engine = BulkRun(
        core,
        scope.kind.op,
        body,
        encoder(core, scope, body, run),
        attrs.evolve(run, allow_empty=run.allow_empty or sent_before > 0),
        stats,
        first_done=True,
        prior=prior,
        total=length_hint(source),
    )
    return await run_and_check(engine, source, raise_on_failure)


def _checked_parts(handle: BulkUpload, parts: Any) -> list[BulkPartReport]:
    if isinstance(parts, BulkPartReport) or not isinstance(parts, Sequence):
        raise InvalidInputError("parts", "expected a list of BulkPartReport")
    for index, part in enumerate(parts):
        if not isinstance(part, BulkPartReport):
            problem = f"expected a BulkPartReport, got {type(part).__name__}"
            raise InvalidInputError(f"parts[{index}]", problem)
        if part.upload_id != handle.upload_id:
            problem = f"is a part of upload {part.upload_id!r}, not {handle.upload_id!r}"
            raise InvalidInputError(f"parts[{index}]", problem)
    return list(parts)


def _aggregate(handle: BulkUpload, parts: list[BulkPartReport]) -> BulkReport:
    """A report for the whole upload, counting the first page and every part."""
    stats = BulkReport(
        kind=handle.kind,
        datasource=handle.datasource,
        group=handle.group,
        upload_id=handle.upload_id,
        first_page_acknowledged=True,
    )
    for report in [handle.opened, *parts]:
        if report is None:
            continue
        for name in ("accepted", "pages", "pages_failed", "requests", "retries", "throttles"):
            setattr(stats, name, getattr(stats, name) + getattr(report, name))
        stats.bytes_sent += report.bytes_sent
        stats.concurrency_drops += report.concurrency_drops
        stats.concurrency_raises += report.concurrency_raises
        if report.concurrency_lowest:
            stats.concurrency_lowest = min(
                stats.concurrency_lowest or report.concurrency_lowest, report.concurrency_lowest
            )
        stats.concurrency_highest = max(stats.concurrency_highest, report.concurrency_highest)
    return stats
