"""The embedded Glean server's state: stored items per kind and key, and bulk uploads.

Items are stored as the wire JSON they were sent as, per *kind* (``documents``,
``employees``, ``teams``, ``users``, ``groups``, ``memberships``, ``shortcuts``) and
*key* (the datasource; ``datasource/group`` for memberships; ``""`` for the kinds Glean
keeps once per deployment), by each kind's natural id (:func:`item_id`).

Bulk uploads follow one state machine for every kind (:meth:`GleanState.bulk_page`):
a first page starts an upload, the pages' items are upserted as they arrive, the last
page finalizes it and deletes what no page of the upload contained (paused when more
than 20% of the stored items would go, unless the page disables the check). Every page
and every ordering violation is kept in :class:`UploadRecord`.

All methods take the state's lock: the server runs on its own thread while tests read.
Stored dicts are replaced, never changed in place, so the copies handed out are shallow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

JSON = Any

# kind -> the item fields that identify an item, tried in order
ID_FIELDS: dict[str, tuple[str, ...]] = {
    "documents": ("id",),
    "employees": ("email",),
    "teams": ("id",),
    "users": ("email",),
    "groups": ("name",),
    "memberships": ("memberUserId", "memberGroupName"),
    "shortcuts": ("inputAlias",),
}
KINDS = tuple(ID_FIELDS)
GLOBAL_KINDS = frozenset({"employees", "teams", "shortcuts"})  # one key: ""
# the page flag that disables the stale-deletion check, per kind
STALE_FLAGS = {"documents": "disableStaleDocumentDeletionCheck"}
STALE_FLAG = "disableStaleDataDeletionCheck"  # the other kinds'
PAUSE_SHARE = 0.2  # stale deletion pauses when more than this share of items would go

# processing states, as the datasource status reports them
STARTED, IN_PROGRESS, COMPLETED, PAUSED = (
    "UPLOAD STARTED",
    "UPLOAD IN PROGRESS",
    "UPLOAD COMPLETED",
    "DELETION PAUSED",
)


def item_id(kind: str, item: JSON) -> str | None:
    """The natural id of an item of ``kind``: its first non-empty id field, else None."""
    if not isinstance(item, dict):
        return None
    for name in ID_FIELDS[kind]:
        value = item.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def membership_key(datasource: str, group: str | None) -> str:
    """The store key of a group's memberships in a datasource."""
    return f"{datasource}/{group or ''}"


class StateError(Exception):
    """A request the state refuses: ``status``, a short ``reason`` slug and a ``detail``."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


@attrs.define
class PageRecord:
    """One bulk page as the upload state machine saw it."""

    first: bool
    last: bool
    items: int
    ids: list[str]
    status: int  # the HTTP status answered (updated when a fault changed it)
    concurrent: bool  # other pages of the upload were in flight when it arrived
    detail: str = ""  # why it was refused, when it was


@attrs.define
class UploadRecord:
    """The history of one bulk upload (one ``uploadId`` of one kind and key)."""

    kind: str
    key: str
    upload_id: str
    started: bool = False  # a first page was accepted
    pages: list[PageRecord] = attrs.Factory(list)
    finalized: bool = False
    finalizations: int = 0
    deletion_paused: bool = False
    deleted_ids: list[str] = attrs.Factory(list)
    violations: list[str] = attrs.Factory(list)
    restarted: bool = False  # replaced by another upload's forceRestartUpload
    started_at: float | None = None
    ended_at: float | None = None
    seen: set[str] = attrs.field(factory=set, repr=False)  # ids sent by its pages

    @property
    def processing_state(self) -> str:
        """The state Glean's datasource status shows for it."""
        if self.deletion_paused:
            return PAUSED
        if self.finalized:
            return COMPLETED
        return IN_PROGRESS if len(self.pages) > 1 else STARTED


@attrs.frozen
class Page:
    """A bulk page's upload fields and items, as sent."""

    kind: str
    key: str
    upload_id: str
    items: list[JSON]
    first: bool = False
    last: bool = False
    force_restart: bool = False
    skip_stale_check: bool = False  # disableStaleDocumentDeletionCheck / ...DataDeletionCheck


@attrs.frozen
class Arrival:
    """What was in flight when a bulk page arrived (before any delay)."""

    concurrent: bool = False  # other (non-last) pages of the same upload were in flight
    after_last: bool = False  # the upload's last page was in flight


class GleanState:
    """Stored items, bulk uploads and pages in flight; see the module doc."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._clear()

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._items: dict[str, dict[str, dict[str, JSON]]] = {kind: {} for kind in KINDS}
        self._stamps: dict[tuple[str, str, str], float] = {}  # (kind, key, id) -> upserted
        self._uploads: list[UploadRecord] = []
        self._current: dict[tuple[str, str], UploadRecord] = {}  # latest started per key
        self._in_flight: dict[tuple[str, str, str], list[bool]] = {}  # -> last flags
        self._violations: list[str] = []

    # -- items ----------------------------------------------------------------------

    def upsert(self, kind: str, key: str, items: Iterable[JSON]) -> list[str]:
        """Store items (replacing those with the same id); their ids, in order."""
        ids: list[str] = []
        with self._lock:
            store = self._items[kind].setdefault(key, {})
            now = self._clock()
            for item in items:
                ident = require_id(kind, item, len(ids))
                store[ident] = item
                self._stamps[(kind, key, ident)] = now
                ids.append(ident)
        return ids

    def delete(self, kind: str, key: str, ident: str) -> bool:
        """Remove one item; whether it was stored."""
        with self._lock:
            self._stamps.pop((kind, key, ident), None)
            return self._items[kind].get(key, {}).pop(ident, None) is not None

    def items(self, kind: str, key: str | None = None) -> dict[str, JSON]:
        """The stored items of a kind: of one key, or of every key merged (``None``)."""
        if kind not in self._items:
            raise KeyError(f"no item kind {kind!r}; the kinds are {', '.join(KINDS)}")
        with self._lock:
            if key is not None:
                return dict(self._items[kind].get(key, {}))
            merged: dict[str, JSON] = {}
            for stored in self._items[kind].values():
                merged.update(stored)
            return merged

    def keys(self, kind: str) -> list[str]:
        """The keys (datasources...) holding items of a kind, or having had an upload."""
        with self._lock:
            held = {key for key, stored in self._items[kind].items() if stored}
            held |= {key for (k, key) in self._current if k == kind}
            return sorted(held)

    def get(self, kind: str, key: str, ident: str) -> JSON | None:
        """One stored item, or None."""
        with self._lock:
            return self._items[kind].get(key, {}).get(ident)

    def stamp(self, kind: str, key: str, ident: str) -> float | None:
        """When an item was last stored (seconds since the epoch), or None."""
        with self._lock:
            return self._stamps.get((kind, key, ident))

    # -- bulk uploads ---------------------------------------------------------------

    @property
    def uploads(self) -> list[UploadRecord]:
        """Every upload seen, oldest first (refused ones too: ``started`` is False)."""
        with self._lock:
            return list(self._uploads)

    @property
    def violations(self) -> list[str]:
        """Every ordering violation seen, oldest first."""
        with self._lock:
            return list(self._violations)

    def upload(self, kind: str, key: str, upload_id: str) -> UploadRecord | None:
        """The latest record of an upload id, or None."""
        with self._lock:
            return self._find(kind, key, upload_id)

    def arrive(self, page: Page) -> Arrival:
        """Note a page as in flight; what else of its upload was in flight."""
        with self._lock:
            flights = self._in_flight.setdefault((page.kind, page.key, page.upload_id), [])
            arrival = Arrival(
                concurrent=any(not last for last in flights),
                after_last=not page.last and any(flights),
            )
            flights.append(page.last)
            return arrival

    def depart(self, page: Page) -> None:
        """Note a page as answered (no longer in flight)."""
        with self._lock:
            where = (page.kind, page.key, page.upload_id)
            flights = self._in_flight.get(where, [])
            if page.last in flights:
                flights.remove(page.last)
            if not flights:
                self._in_flight.pop(where, None)

    def bulk_page(self, page: Page, arrival: Arrival = Arrival()) -> PageRecord:
        """Apply one bulk page; raises :class:`StateError` when it is refused.

        The page's record is returned (its ``status`` may be updated by the caller).
        """
        with self._lock:
            ids = [require_id(page.kind, item, index) for index, item in enumerate(page.items)]
            concurrent = arrival.concurrent or arrival.after_last
            record = PageRecord(page.first, page.last, len(page.items), ids, 200, concurrent)
            try:
                upload = self._accept(page, arrival)
            except StateError as error:
                record.status, record.detail = error.status, error.detail
                self._refused(page).pages.append(record)
                raise
            upload.pages.append(record)
            return record

    def _accept(self, page: Page, arrival: Arrival) -> UploadRecord:
        """The upload a page belongs to, after applying it (or a StateError)."""
        flag = STALE_FLAGS.get(page.kind, STALE_FLAG)
        if page.force_restart and not page.first:
            raise self._violation(
                page, 400, "force-restart", "forceRestartUpload is only valid on a first page"
            )
        if page.skip_stale_check and not page.last:
            raise self._violation(
                page, 400, "stale-check-flag", f"{flag} is only valid with isLastPage"
            )
        if arrival.after_last:
            raise self._violation(
                page,
                400,
                "after-last-page",
                "a page arrived while the upload's last page was in flight",
            )
        upload = self._start(page) if page.first else self._continuing(page)
        if upload.finalized:
            return upload  # a re-sent last page: answered, not applied again
        upload.seen.update(self.upsert(page.kind, page.key, page.items))
        if page.last:
            if arrival.concurrent:
                self._note(upload, "the last page arrived while other pages were still in flight")
            self._finalize(upload, page.skip_stale_check)
        return upload

    def _start(self, page: Page) -> UploadRecord:
        current = self._current.get((page.kind, page.key))
        if current is not None and current.upload_id == page.upload_id and not current.restarted:
            return self._resent(page, current)
        if current is not None and not current.finalized and not current.restarted:
            if not page.force_restart:
                raise self._violation(
                    page,
                    409,
                    "upload-in-progress",
                    f"upload {current.upload_id!r} of {_what(page)} is not finished; finish it "
                    "or start over with forceRestartUpload",
                )
            current.restarted = True
        upload = self._find(page.kind, page.key, page.upload_id)
        if upload is None or upload.started:  # else: the record of its refused pages
            upload = UploadRecord(page.kind, page.key, page.upload_id)
            self._uploads.append(upload)
        upload.started, upload.started_at = True, self._clock()
        self._current[(page.kind, page.key)] = upload
        return upload

    def _resent(self, page: Page, upload: UploadRecord) -> UploadRecord:
        """A first page of the current upload again: a retry, accepted as is."""
        if upload.finalized and not page.last:
            raise self._violation(
                page, 400, "after-last-page", f"upload {page.upload_id!r} is already finished"
            )
        return upload

    def _continuing(self, page: Page) -> UploadRecord:
        upload = self._find(page.kind, page.key, page.upload_id)
        if upload is None or not upload.started:
            raise self._violation(
                page,
                400,
                "not-started",
                f"upload {page.upload_id!r} was never started (no accepted first page)",
            )
        if upload.restarted:
            raise self._violation(
                page,
                400,
                "restarted",
                f"upload {page.upload_id!r} was replaced by a forced restart",
            )
        if upload.finalized and not page.last:
            raise self._violation(
                page,
                400,
                "after-last-page",
                f"upload {page.upload_id!r} is finished: a page arrived after its last page",
            )
        return upload

    def _finalize(self, upload: UploadRecord, skip_check: bool) -> None:
        stored = self._items[upload.kind].setdefault(upload.key, {})
        stale = [ident for ident in stored if ident not in upload.seen]
        if stale and not skip_check and len(stale) > PAUSE_SHARE * len(stored):
            upload.deletion_paused = True
        else:
            for ident in stale:
                self.delete(upload.kind, upload.key, ident)
            upload.deleted_ids = sorted(stale)
        upload.finalized = True
        upload.finalizations += 1
        upload.ended_at = self._clock()

    def _find(self, kind: str, key: str, upload_id: str) -> UploadRecord | None:
        for upload in reversed(self._uploads):
            if (upload.kind, upload.key, upload.upload_id) == (kind, key, upload_id):
                return upload
        return None

    def _refused(self, page: Page) -> UploadRecord:
        """The record a refused page goes in: its upload's, or a not-started one."""
        upload = self._find(page.kind, page.key, page.upload_id)
        if upload is None:
            upload = UploadRecord(page.kind, page.key, page.upload_id)
            self._uploads.append(upload)
        return upload

    def _violation(self, page: Page, status: int, reason: str, detail: str) -> StateError:
        self._note(self._refused(page), detail)
        return StateError(status, reason, detail)

    def _note(self, upload: UploadRecord, detail: str) -> None:
        """Record an ordering violation, naming the kind, key and upload."""
        message = f"{upload.kind} {upload.key!r}, upload {upload.upload_id!r}: {detail}"
        upload.violations.append(message)
        self._violations.append(message)


def require_id(kind: str, item: JSON, index: int) -> str:
    """The item's id, or a 400 :class:`StateError` naming the item and the field."""
    ident = item_id(kind, item)
    if ident is None:
        fields = " or ".join(repr(name) for name in ID_FIELDS[kind])
        raise StateError(400, "missing-id", f"{kind}[{index}] has no {fields}")
    return ident


def _what(page: Page) -> str:
    return f"{page.kind} {page.key!r}"
