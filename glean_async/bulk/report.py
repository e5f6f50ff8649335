"""What a bulk run tells afterwards: :class:`BulkReport`, :class:`BulkPartReport`, errors.

A report records which input positions the server acknowledged, as ranges of positions
with a digest of the item ids in each range (:class:`AckRange`), so ``resume=report``
can skip them again and refuse an input that is not the same. Reports round-trip
through JSON (:meth:`BulkReport.to_json` / :meth:`BulkReport.from_json`) and pickle.
They hold ids, counts and error messages, never a token or an item's content.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import attrs

from shared.errors import InvalidInputError

from ..errors import GleanError

__all__ = [
    "AckRange",
    "BulkPartReport",
    "BulkReport",
    "BulkResumeError",
    "BulkUploadError",
    "ItemFailure",
    "RunStats",
]

_FORMAT = 1
"""Version of the JSON layout written by ``to_json``."""

R = TypeVar("R", bound="RunStats")


@attrs.frozen
class ItemFailure:
    """One input item the server did not accept: its position, its id, why."""

    position: int
    id: str | None
    reason: str


@attrs.frozen
class AckRange:
    """Input positions ``start`` to ``stop - 1``, all acknowledged by the server.

    ``digest`` (32 hex digits) sums a hash of each position with its item's id, so two
    adjacent ranges merge by adding their digests, and a different input (another id,
    or the same ids in another order) gives another digest.
    """

    start: int
    stop: int
    digest: str

    def __len__(self) -> int:
        return self.stop - self.start


@attrs.define(kw_only=True)
class RunStats:
    """What every bulk run counts (uploads, parts of a split upload, incremental runs)."""

    kind: str
    datasource: str | None = None
    group: str | None = None
    upload_id: str | None = None
    items_read: int = 0
    input_complete: bool = False
    accepted: int = 0
    failures: list[ItemFailure] = attrs.field(factory=list)
    acknowledged: list[AckRange] = attrs.field(factory=list)
    pages: int = 0
    pages_failed: int = 0
    requests: int = 0
    retries: int = 0
    throttles: int = 0
    bytes_sent: int = 0
    elapsed_seconds: float = 0.0
    concurrency: int = 0
    concurrency_lowest: int = 0
    concurrency_highest: int = 0
    concurrency_drops: int = 0
    concurrency_raises: int = 0
    max_requests_per_second: float | None = None
    error: str | None = None

    @property
    def failed(self) -> int:
        """How many items were not accepted."""
        return len(self.failures)

    @property
    def acknowledged_items(self) -> int:
        """How many input positions the recorded ranges cover."""
        return sum(len(span) for span in self.acknowledged)

    def failed_positions(self) -> list[int]:
        return [failure.position for failure in self.failures]

    def failed_ids(self) -> list[str | None]:
        return [failure.id for failure in self.failures]

    # -- JSON --------------------------------------------------------------------------

    def to_json(self, *, indent: int | None = None) -> str:
        """The report as JSON text (:meth:`from_json` reads it back)."""
        data = attrs.asdict(self, recurse=True)
        data["format"] = _FORMAT
        data["type"] = type(self).__name__
        return json.dumps(data, indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls: type[R], text: str | bytes) -> R:
        """A report written by :meth:`to_json`; :class:`ValueError` when it is not one."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a bulk report: the text is not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("type") != cls.__name__:
            raise ValueError(f"not a {cls.__name__} (its JSON has no matching 'type')")
        if data.pop("format", None) != _FORMAT:
            raise ValueError(f"a {cls.__name__} in an unknown format")
        data.pop("type")
        return _structure(cls, data)

    # -- text --------------------------------------------------------------------------

    def _outcome(self) -> str:
        return "finished" if not self.failures and self.error is None else "incomplete"

    def _lines(self) -> Iterator[str]:
        where = ", ".join(
            f"{name} {value!r}"
            for name, value in (("datasource", self.datasource), ("group", self.group))
            if value is not None
        )
        head = f"bulk {self.kind}" + (f" ({where})" if where else "")
        if self.upload_id is not None:
            head += f", upload {self.upload_id}"
        yield f"{head}: {self._outcome()}"
        rate = self.accepted / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0
        yield (
            f"  {self.accepted} accepted, {self.failed} failed, {self.items_read} read"
            f"{'' if self.input_complete else ' (input not read to the end)'}"
            f" in {self.elapsed_seconds:.2f} s ({rate:.0f}/s)"
        )
        yield (
            f"  {self.pages} pages ({self.pages_failed} failed), {self.requests} requests, "
            f"{self.retries} retries, {self.throttles} throttled, {self.bytes_sent} bytes sent"
        )
        yield (
            f"  concurrency {self.concurrency}: lowest {self.concurrency_lowest}, highest "
            f"{self.concurrency_highest} ({self.concurrency_drops} drops, "
            f"{self.concurrency_raises} raises)"
            + (
                f", at most {self.max_requests_per_second:g} requests/s"
                if self.max_requests_per_second
                else ""
            )
        )
        if self.error is not None:
            yield f"  stopped: {self.error}"
        for failure in self.failures[:5]:
            yield f"  item {failure.position} (id {failure.id!r}): {failure.reason}"
        if len(self.failures) > 5:
            yield f"  ... and {len(self.failures) - 5} more failed items"

    def summary(self) -> str:
        """A few readable lines: outcome, counts, rates, the first failures."""
        return "\n".join(self._lines())

    def __str__(self) -> str:
        return self.summary()


@attrs.define(kw_only=True)
class BulkReport(RunStats):
    """The outcome of one bulk upload (or incremental run); see the module docstring.

    ``finalized``: the last page was acknowledged (the server then deleted the items the
    upload did not include). ``first_page_acknowledged`` lets ``resume=`` continue the
    upload without starting it again. ``ok``: nothing failed and, for an upload, it was
    finalized.
    """

    finalized: bool = False
    first_page_acknowledged: bool = False
    upload: bool = True
    options: dict[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and self.error is None and (self.finalized or not self.upload)

    def _outcome(self) -> str:
        if self.upload:
            return "finalized" if self.finalized else "NOT finalized (nothing was deleted)"
        return super()._outcome()


@attrs.define(kw_only=True)
class BulkPartReport(RunStats):
    """The outcome of :meth:`send_pages`: one part of a split upload (middle pages only).

    ``complete``: the part's input was read to the end and every item acknowledged, what
    :meth:`finish_upload` requires of every part.
    """

    part: str = ""

    @property
    def complete(self) -> bool:
        return self.input_complete and not self.failures and self.error is None

    def _outcome(self) -> str:
        return f"part {self.part!r} " + ("complete" if self.complete else "INCOMPLETE")


def _structure(cls: type[R], data: dict[str, Any]) -> R:
    names = {field.name for field in attrs.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"not a {cls.__name__}: unknown fields {', '.join(unknown)}")
    try:
        data["failures"] = [ItemFailure(**item) for item in data.get("failures", [])]
        data["acknowledged"] = [AckRange(**item) for item in data.get("acknowledged", [])]
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"not a {cls.__name__}: {exc}") from None


# -- errors -----------------------------------------------------------------------------


class BulkUploadError(GleanError):
    """A bulk run did not fully succeed; ``report`` says what was and was not accepted.

    When the input itself raised, this error is raised *from* the input's exception
    (``__cause__``), and the report's ``error`` names it. Pickles with its report.
    """

    def __init__(self, report: RunStats, message: str | None = None) -> None:
        super().__init__(message or _message(report))
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.report, self.message))


class BulkResumeError(InvalidInputError):
    """``resume=`` does not fit this run (another input, datasource or upload); raised
    before anything is sent."""

    def __init__(self, problem: str) -> None:
        super().__init__("resume", problem)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problem,))


def _message(report: RunStats) -> str:
    parts = [f"bulk {report.kind}: {report.accepted} accepted, {report.failed} failed"]
    if isinstance(report, BulkReport) and report.upload:
        parts.append("the upload was NOT finalized (its last page was not sent or failed)")
    if report.error:
        parts.append(report.error)
    return "; ".join(parts)


def merged_failures(reports: Iterable[RunStats]) -> list[ItemFailure]:
    return [failure for report in reports for failure in report.failures]
