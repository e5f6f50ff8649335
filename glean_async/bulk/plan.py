"""Setting up a run: arguments checked, the envelope, the encoder, resume state.

Everything here runs before the first request, so a bad argument or a resume report
that does not fit is refused with nothing sent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from shared.errors import InvalidInputError

from .engine import BulkRun, Settings
from .kinds import KINDS, Kind
from .pages import Envelope, IdEncoder, ItemEncoder
from .positions import AckSet
from .progress import OnProgress
from .report import BulkReport, BulkResumeError, RunStats
from .source import Source, length_hint

if TYPE_CHECKING:
    from shared.http import HTTPCore

__all__ = ["MiB", "Scope", "check_source", "delete_run", "settings", "upload_run"]

MiB = 1024 * 1024
DEFAULT_MAX_BATCH_BYTES = 5 * MiB

S = TypeVar("S", bound=RunStats)


@attrs.frozen
class Scope:
    """Where the items go: the kind, and its datasource and group when it has them."""

    kind: Kind
    datasource: str | None = None
    group: str | None = None

    @classmethod
    def of(cls, kind: str, datasource: str | None = None, group: str | None = None) -> Scope:
        found = KINDS[kind]
        if found.scope != "none":
            _check_name("datasource", datasource)
        elif datasource is not None:
            raise InvalidInputError("datasource", f"bulk {kind} have no datasource")
        if found.scope == "group":
            _check_name("group", group)
        elif group is not None:
            raise InvalidInputError("group", f"bulk {kind} have no group")
        return cls(found, datasource, group)


def _check_name(field: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(field, f"expected a non-empty str, got {value!r:.80}")


def _check_int(field: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(field, f"expected an int >= {minimum}, got {value!r:.80}")


def check_source(field: str, source: Any) -> Source:
    """``source`` if it is an iterable or async iterable of items (not a str or bytes)."""
    if isinstance(source, (str, bytes, bytearray, dict)) or not isinstance(
        source, (Iterable, AsyncIterable)
    ):
        raise InvalidInputError(
            field, f"expected an iterable or async iterable of items, got {type(source).__name__}"
        )
    return source


def settings(
    *,
    batch_size: int,
    max_batch_bytes: int,
    concurrency: int,
    max_requests_per_second: float | None = None,
    progress: bool = False,
    on_progress: OnProgress | None = None,
    allow_empty: bool = False,
) -> Settings:
    """Checked :class:`Settings` (:class:`InvalidInputError` naming the argument)."""
    _check_int("batch_size", batch_size, 1)
    _check_int("max_batch_bytes", max_batch_bytes, 64)
    _check_int("concurrency", concurrency, 1)
    rate = max_requests_per_second
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))):
        raise InvalidInputError("max_requests_per_second", f"expected a number, got {rate!r}")
    if rate is not None and not rate > 0:
        raise InvalidInputError("max_requests_per_second", "must be a positive number")
    if on_progress is not None and not callable(on_progress):
        raise InvalidInputError("on_progress", "expected a callable taking a BulkProgress")
    return Settings(
        batch_size=batch_size,
        max_batch_bytes=max_batch_bytes,
        concurrency=concurrency,
        max_requests_per_second=float(rate) if rate is not None else None,
        progress=bool(progress),
        on_progress=on_progress,
        allow_empty=bool(allow_empty),
    )


def new_upload_id(upload_id: str | None) -> str:
    if upload_id is None:
        return str(uuid.uuid4())
    _check_name("upload_id", upload_id)
    return upload_id


def envelope(scope: Scope, upload_id: str, *, force_restart: bool, keep_stale: bool) -> Envelope:
    """The request body of an upload page of ``scope``."""
    kind = scope.kind
    fields: dict[str, Any] = {"uploadId": upload_id}
    if scope.datasource is not None:
        fields["datasource"] = scope.datasource
    if scope.group is not None:
        fields["group"] = scope.group
    if keep_stale and kind.stale_flag is None:
        raise InvalidInputError(
            "disable_stale_data_deletion_check", f"bulk {kind.name} have no such option"
        )
    first_only = {"forceRestartUpload": True} if force_restart else None
    last_only = {kind.stale_flag: True} if keep_stale and kind.stale_flag else None
    return Envelope(kind.items_field, fields, first_only, last_only)


def encoder(core: HTTPCore, scope: Scope, body: Envelope, run: Settings) -> ItemEncoder:
    limit = run.max_batch_bytes - body.overhead
    if limit < 2:
        raise InvalidInputError(
            "max_batch_bytes", f"{run.max_batch_bytes} bytes leave no room for an item"
        )
    return ItemEncoder(scope.kind, core.config.serializer, scope.datasource, limit)


# -- resume -------------------------------------------------------------------------------


def resumed(
    resume: Any, cls: type[S], scope: Scope, upload_id: str | None, *, upload: bool = True
) -> S:
    """The report ``resume`` (a report or its JSON), checked against this run."""
    report = cls.from_json(resume) if isinstance(resume, (str, bytes)) else resume
    if not isinstance(report, cls):
        raise InvalidInputError(
            "resume", f"expected a {cls.__name__} (or its JSON), got {type(resume).__name__}"
        )
    expected = (scope.kind.name, scope.datasource, scope.group)
    recorded = (report.kind, report.datasource, report.group)
    if recorded != expected:
        raise BulkResumeError(
            f"the report being resumed is for {_where(*recorded)}, not {_where(*expected)}; "
            "nothing was sent"
        )
    if isinstance(report, BulkReport) and report.upload != upload:
        raise BulkResumeError("the report being resumed is not of this kind of run")
    if isinstance(report, BulkReport) and report.finalized:
        raise BulkResumeError(
            f"upload {report.upload_id} was already finalized; nothing is left to resume"
        )
    if upload_id is not None and report.upload_id is not None and upload_id != report.upload_id:
        raise BulkResumeError(
            f"upload_id={upload_id!r} differs from the resumed upload's {report.upload_id!r}"
        )
    return report


def _where(kind: str, datasource: str | None, group: str | None) -> str:
    text = f"bulk {kind}"
    if datasource is not None:
        text += f" of datasource {datasource!r}"
    if group is not None:
        text += f", group {group!r}"
    return text


def fresh_stats(previous: S) -> S:
    """The counters of ``previous`` carried on; failures, error and reading start over."""
    return attrs.evolve(
        previous,
        failures=[],
        acknowledged=list(previous.acknowledged),
        items_read=0,
        input_complete=False,
        error=None,
    )


# -- runs ---------------------------------------------------------------------------------


def upload_run(
    core: HTTPCore,
    scope: Scope,
    source: Source,
    run: Settings,
    *,
    upload_id: str | None,
    force_restart: bool,
    keep_stale: bool,
    resume: Any,
) -> BulkRun[BulkReport]:
    """A :class:`BulkRun` for a whole upload of ``scope`` (possibly resumed)."""
    prior: AckSet | None = None
    first_done = False
    if resume is not None:
        previous = resumed(resume, BulkReport, scope, upload_id)
        stats = fresh_stats(previous)
        upload_id = previous.upload_id
        prior = AckSet(previous.acknowledged)
        first_done = previous.first_page_acknowledged
    options = {"force_restart": bool(force_restart), "keep_stale": bool(keep_stale)}
    uid = new_upload_id(upload_id)
    body = envelope(scope, uid, force_restart=force_restart, keep_stale=keep_stale)
    if resume is None:
        stats = BulkReport(
            kind=scope.kind.name,
            datasource=scope.datasource,
            group=scope.group,
            upload_id=uid,
            options=options,
        )
    return BulkRun(
        core,
        scope.kind.op,
        body,
        encoder(core, scope, body, run),
        run,
        stats,
        first_done=first_done,
        prior=prior,
        total=length_hint(source),
    )


def index_run(
    core: HTTPCore, datasource: str, source: Source, run: Settings, *, resume: Any
) -> BulkRun[BulkReport]:
    """Independent ``/indexdocuments`` batches (no upload, no deletion)."""
    scope = Scope.of("index_documents", datasource)
    body = Envelope("documents", {"datasource": datasource}, flags=False)
    stats, prior = _unordered_stats(scope, resume)
    return BulkRun(
        core,
        scope.kind.op,
        body,
        encoder(core, scope, body, run),
        run,
        stats,
        ordered=False,
        prior=prior,
        total=length_hint(source),
    )


def delete_run(
    core: HTTPCore,
    datasource: str,
    object_type: str,
    source: Source,
    run: Settings,
    *,
    resume: Any,
) -> BulkRun[BulkReport]:
    """One ``/deletedocument`` request per id, ``run.concurrency`` at a time."""
    import importlib

    _check_name("object_type", object_type)
    scope = Scope(_DELETE_KIND, datasource)
    _check_name("datasource", datasource)
    fields = {"datasource": datasource, "objectType": object_type}
    body = Envelope("id", fields, flags=False, single=True)
    stats, prior = _unordered_stats(scope, resume)
    operations = importlib.import_module("glean_async._generated.operations_indexing")
    return BulkRun(
        core,
        operations.INDEXING_DOCUMENTS_DELETE,
        body,
        IdEncoder("ids", run.max_batch_bytes - body.overhead),
        attrs.evolve(run, batch_size=1),
        stats,
        ordered=False,
        prior=prior,
        total=length_hint(source),
    )


_DELETE_KIND = Kind("delete_documents", "INDEXING_DOCUMENTS_DELETE", "id", "", (), ordered=False)


def _unordered_stats(scope: Scope, resume: Any) -> tuple[BulkReport, AckSet | None]:
    if resume is None:
        report = BulkReport(
            kind=scope.kind.name, datasource=scope.datasource, group=scope.group, upload=False
        )
        return report, None
    previous = resumed(resume, BulkReport, scope, None, upload=False)
    return fresh_stats(previous), AckSet(previous.acknowledged)
