"""``glean.bulk``: bulk uploads, incremental indexing and deletes, split uploads (async).

Every upload method takes any iterable or async iterable of items (models, or dicts in
either spelling), reads it lazily, and returns a :class:`BulkReport`. When anything was
not accepted, the upload is left unfinished (its last page is not sent, so nothing is
deleted on the server) and :class:`BulkUploadError` is raised with the report (or the
report is returned, with ``raise_on_failure=False``). When the input itself raises,
:class:`BulkUploadError` is always raised, *from* the input's exception. An empty input
is refused (:class:`InvalidInputError`) unless ``allow_empty=True``: an empty upload
deletes everything uploaded before. ``resume=report`` (or its JSON) with the same input
sends only what the report does not list as acknowledged, under the same upload id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .engine import run_and_check
from .plan import (
    DEFAULT_MAX_BATCH_BYTES,
    Scope,
    check_source,
    delete_run,
    index_run,
    settings,
    upload_run,
)
from .progress import OnProgress
from .report import BulkPartReport, BulkReport
from .split import BulkUpload, finish_upload, open_upload, send_pages

if TYPE_CHECKING:
    from shared.http import HTTPCore

__all__ = ["AsyncBulk"]


class AsyncBulk:
    """The ``bulk`` namespace of :class:`glean_async.Glean` (see the module docstring).

    Common arguments: ``batch_size`` items at most per page; ``max_batch_bytes`` the
    largest request body (an item that cannot fit alone is reported failed, not sent);
    ``concurrency`` pages in flight at most (halved on 429/503, grown back on success);
    ``max_requests_per_second`` a cap on request starts; ``progress=True`` draws progress
    on stderr; ``on_progress(BulkProgress)`` is called as pages are acknowledged.
    """

    def __init__(self, core: HTTPCore) -> None:
        self._core = core

    def __repr__(self) -> str:
        return f"<AsyncBulk of {self._core!r}>"

    async def _upload(
        self,
        kind: str,
        items: Any,
        *,
        datasource: str | None = None,
        group: str | None = None,
        batch_size: int,
        max_batch_bytes: int,
        concurrency: int,
        upload_id: str | None,
        force_restart: bool,
        keep_stale: bool,
        allow_empty: bool,
        resume: BulkReport | str | None,
        progress: bool,
        on_progress: OnProgress | None,
        raise_on_failure: bool,
        max_requests_per_second: float | None,
    ) -> BulkReport:
        scope = Scope.of(kind, datasource, group)
        source = check_source(scope.kind.items_field, items)
        run_settings = settings(
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            max_requests_per_second=max_requests_per_second,
            progress=progress,
            on_progress=on_progress,
            allow_empty=allow_empty,
        )
        run = upload_run(
            self._core,
            scope,
            source,
            run_settings,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=keep_stale,
            resume=resume,
        )
        return await run_and_check(run, source, raise_on_failure)

    # -- uploads -----------------------------------------------------------------------

    async def documents(
        self,
        datasource: str,
        documents: Any,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        upload_id: str | None = None,
        force_restart: bool = False,
        disable_stale_document_deletion_check: bool = False,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Upload every document of ``datasource`` (``/bulkindexdocuments``); the server
        then deletes the documents this upload did not include. A document without
        ``datasource`` gets this one."""
        return await self._upload(
            "documents",
            documents,
            datasource=datasource,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=disable_stale_document_deletion_check,
            allow_empty=allow_empty,
            resume=resume,
            progress=progress,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
            max_requests_per_second=max_requests_per_second,
        )

    async def employees(
        self,
        employees: Any,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        upload_id: str | None = None,
        force_restart: bool = False,
        disable_stale_data_deletion_check: bool = False,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Upload every employee (``/bulkindexemployees``)."""
        return await self._upload(
            "employees",
            employees,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=disable_stale_data_deletion_check,
            allow_empty=allow_empty,
            resume=resume,
            progress=progress,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
            max_requests_per_second=max_requests_per_second,
        )

    async def teams(
        self,
        teams: Any,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        upload_id: str | None = None,
        force_restart: bool = False,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Upload every team (``/bulkindexteams``)."""
        return await self._upload(
            "teams",
            teams,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=False,
            allow_empty=allow_empty,
            resume=resume,
            progress=progress,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
            max_requests_per_second=max_requests_per_second,
        )

    async def users(
        self,
        datasource: str,
        users: Any,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        upload_id: str | None = None,
        force_restart: bool = False,
        disable_stale_data_deletion_check: bool = False,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Upload every user of ``datasource`` (``/bulkindexusers``)."""
        return await self._upload(
            "users",
            users,
            datasource=datasource,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=disable_stale_data_deletion_check,
            allow_empty=allow_empty,
            resume=resume,
            progress=progress,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
            max_requests_per_second=max_requests_per_second,
        )

    async def groups(
        self,
        datasource: str,
        groups: Any,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        upload_id: str | None = None,
        force_restart: bool = False,
        disable_stale_data_deletion_check: bool = False,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Upload every group of ``datasource`` (``/bulkindexgroups``)."""
        return await self._upload(
            "groups",
            groups,
            datasource=datasource,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=disable_stale_data_deletion_check,
            allow_empty=allow_empty,
            resume=resume,
            progress=progress,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
            max_requests_per_second=max_requests_per_second,
        )

    async def memberships(
        self,
        datasource: str,
        group: str,
        memberships: Any,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        upload_id: str | None = None,
        force_restart: bool = False,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Upload every membership of ``group`` in ``datasource`` (``/bulkindexmemberships``)."""
        return await self._upload(
            "memberships",
            memberships,
            datasource=datasource,
            group=group,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=False,
            allow_empty=allow_empty,
            resume=resume,
            progress=progress,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
            max_requests_per_second=max_requests_per_second,
        )

    async def shortcuts(
        self,
        shortcuts: Any,
        *,
        batch_size: int = 1000,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        upload_id: str | None = None,
        force_restart: bool = False,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Upload every shortcut (``/bulkindexshortcuts``)."""
        return await self._upload(
            "shortcuts",
            shortcuts,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=False,
            allow_empty=allow_empty,
            resume=resume,
            progress=progress,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
            max_requests_per_second=max_requests_per_second,
        )

    # -- incremental ---------------------------------------------------------------------

    async def index_documents(
        self,
        datasource: str,
        documents: Any,
        *,
        batch_size: int = 100,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        concurrency: int = 8,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Add or update documents in batches (``/indexdocuments``), concurrently and in no
        particular order; nothing is deleted. The report says which were accepted."""
        run_settings = settings(
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            concurrency=concurrency,
            max_requests_per_second=max_requests_per_second,
            progress=progress,
            on_progress=on_progress,
        )
        source = check_source("documents", documents)
        run = index_run(self._core, datasource, source, run_settings, resume=resume)
        return await run_and_check(run, source, raise_on_failure)

    async def delete_documents(
        self,
        datasource: str,
        ids: Iterable[str] | Any,
        *,
        object_type: str,
        concurrency: int = 8,
        resume: BulkReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Delete each document id (one ``/deletedocument`` request each, ``concurrency``
        at a time); the report says which deletes were acknowledged."""
        run_settings = settings(
            batch_size=1,
            max_batch_bytes=DEFAULT_MAX_BATCH_BYTES,
            concurrency=concurrency,
            max_requests_per_second=max_requests_per_second,
            progress=progress,
            on_progress=on_progress,
        )
        source = check_source("ids", ids)
        run = delete_run(self._core, datasource, object_type, source, run_settings, resume=resume)
        return await run_and_check(run, source, raise_on_failure)

    # -- split uploads -----------------------------------------------------------------

    async def open_upload(
        self,
        datasource: str | None,
        first_page: Any,
        *,
        kind: str = "documents",
        group: str | None = None,
        upload_id: str | None = None,
        force_restart: bool = False,
        disable_stale_deletion_check: bool = False,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> BulkUpload:
        """Start an upload whose pages other processes send: sends ``first_page`` (one
        page of items, possibly empty) and returns a picklable :class:`BulkUpload`."""
        return await open_upload(
            self._core,
            kind,
            datasource,
            group,
            first_page,
            upload_id=upload_id,
            force_restart=force_restart,
            keep_stale=disable_stale_deletion_check,
            max_batch_bytes=max_batch_bytes,
        )

    async def send_pages(
        self,
        handle: BulkUpload,
        items: Any,
        *,
        part: str | int = "",
        batch_size: int = 1000,
        max_batch_bytes: int | None = None,
        concurrency: int = 8,
        resume: BulkPartReport | str | None = None,
        progress: bool = False,
        on_progress: OnProgress | None = None,
        raise_on_failure: bool = False,
        max_requests_per_second: float | None = None,
    ) -> BulkPartReport:
        """Send ``items`` as middle pages of the upload ``handle`` opened (from any process,
        with its own client); returns a picklable :class:`BulkPartReport` for
        :meth:`finish_upload`. Failures are in the report (``raise_on_failure=True``
        raises :class:`BulkUploadError` instead)."""
        return await send_pages(
            self._core,
            handle,
            items,
            part=str(part),
            run=settings(
                batch_size=batch_size,
                max_batch_bytes=max_batch_bytes or handle.max_batch_bytes,
                concurrency=concurrency,
                max_requests_per_second=max_requests_per_second,
                progress=progress,
                on_progress=on_progress,
            ),
            resume=resume,
            raise_on_failure=raise_on_failure,
        )

    async def finish_upload(
        self,
        handle: BulkUpload,
        parts: Sequence[BulkPartReport],
        last_page: Any = (),
        *,
        batch_size: int = 1000,
        max_batch_bytes: int | None = None,
        concurrency: int = 8,
        allow_empty: bool = False,
        resume: BulkReport | str | None = None,
        raise_on_failure: bool = True,
        max_requests_per_second: float | None = None,
    ) -> BulkReport:
        """Finish the upload: sends ``last_page`` (more items, possibly none) with the last
        page flag, only if every part report says all its items were acknowledged;
        otherwise raises :class:`BulkIncompleteError` naming the failed parts, with
        nothing sent. Returns the whole upload's :class:`BulkReport`."""
        return await finish_upload(
            self._core,
            handle,
            parts,
            last_page,
            run=settings(
                batch_size=batch_size,
                max_batch_bytes=max_batch_bytes or handle.max_batch_bytes,
                concurrency=concurrency,
                max_requests_per_second=max_requests_per_second,
                allow_empty=allow_empty,
            ),
            resume=resume,
            raise_on_failure=raise_on_failure,
        )
