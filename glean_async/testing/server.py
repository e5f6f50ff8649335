"""The embedded Glean server: the spec-driven fake on the Glean spec, with state and faults.

    async with FakeGleanServer() as server:      # or: with FakeGleanServer.in_thread() as server:
        glean = Glean(api_token="t", server_url=server.url)
        ...
        assert server.documents("wiki").keys() == {"doc-1"}

Every request is validated against ``specs/glean.json`` (the spec ``glean_async`` is
generated from). The indexing API keeps state (:mod:`.handlers`, :mod:`.state`):
documents, employees, teams, users, groups, memberships and shortcuts, incremental and
bulk uploads (one state machine for every bulk kind, with Glean's ordering rules and
stale deletion), counts, statuses and debug views; search and chat answer from the
stored documents (:mod:`.search`). Every other operation answers the spec's example.
``faults=Faults(...)`` injects seeded errors, throttling, delays, dropped connections
and truncated streams (:mod:`.faults`). ``stateful=False`` answers every operation from
the spec; ``validate=False`` skips validation (benchmarks only).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from shared.testing.openapi import (
    Answer,
    Call,
    FakeOpenAPIServer,
    OpenAPISpec,
    RecordedRequest,
    SpecOperation,
    drop_connection,
    load_spec,
    mime,
)

from .faults import Decision, FaultRecord, Faults, decide, request_digest
from .handlers import IndexingHandlers, bulk_page, problem, request_ids
from .search import SearchHandlers
from .spec import spec_path
from .state import GleanState, StateError, UploadRecord, membership_key

SPEC_PATH = spec_path()

__all__ = [
    "SPEC_PATH",
    "FakeGleanServer",
    "Faults",
    "OpenAPISpec",
    "RecordedRequest",
    "SpecOperation",
    "UploadRecord",
    "load_spec",
    "mime",
]

JSON = Any


class FakeGleanServer(FakeOpenAPIServer):
    """The embedded Glean server (see the module doc); ``server.url`` is its base URL."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        spec_path: Path = SPEC_PATH,
        faults: Faults | None = None,
        seed: int | None = None,
        stateful: bool = True,
        validate: bool = True,
    ) -> None:
        super().__init__(spec_path, host=host, port=port, validate=validate)
        self.state = GleanState()
        self.fault_log: list[FaultRecord] = []
        self._seen: Counter[tuple[str, str]] = Counter()
        self._fault_lock = threading.Lock()
        faults = faults if faults is not None else Faults()
        self.faults = faults if seed is None else attrs.evolve(faults, seed=seed)
        self.stateful = stateful  # False: every operation answers the spec's example
        tables = (
            IndexingHandlers(self.state, self.spec).table(),
            SearchHandlers(self.state).table(),
        )
        for table in tables:
            for name, handler in table.items():
                self.handle(name, handler)

    # -- faults -------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The fault knobs in force (see :class:`Faults`); assign a new value to change them."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        if not isinstance(faults, Faults):
            raise TypeError(f"faults must be a Faults value, not {type(faults).__name__}")
        unknown = sorted((faults.operations or frozenset()) - set(self.operations))
        if unknown:
            raise ValueError(f"Faults.operations names no operation of the spec: {unknown}")
        self._faults = faults

    def fault_counts(self) -> Counter[str]:
        """How many requests met each kind of fault ("error", "throttle", "latency"...)."""
        return Counter(kind for record in list(self.fault_log) for kind in record.injected)

    # -- inspection ---------------------------------------------------------------------

    def documents(self, datasource: str) -> dict[str, dict[str, Any]]:
        """The stored documents of a datasource: id -> the wire JSON sent."""
        return self.state.items("documents", datasource)

    def datasources(self) -> list[str]:
        """The datasources holding documents or having had a document upload."""
        return self.state.keys("documents")

    def items(self, kind: str, key: str | None = None) -> dict[str, dict[str, Any]]:
        """Stored items of a kind (``employees``, ``users``...) for one key or all keys.

        Keys: the datasource for users, groups and documents; ``datasource/group`` for
        memberships; ``""`` for employees, teams and shortcuts.
        """
        return self.state.items(kind, key)

    def employees(self) -> dict[str, dict[str, Any]]:
        """Stored employees by email."""
        return self.state.items("employees", "")

    def teams(self) -> dict[str, dict[str, Any]]:
        """Stored teams by id."""
        return self.state.items("teams", "")

    def users(self, datasource: str) -> dict[str, dict[str, Any]]:
        """A datasource's stored users by email."""
        return self.state.items("users", datasource)

    def groups(self, datasource: str) -> dict[str, dict[str, Any]]:
        """A datasource's stored groups by name."""
        return self.state.items("groups", datasource)

    def memberships(self, datasource: str, group: str) -> dict[str, dict[str, Any]]:
        """A group's stored members by ``memberUserId`` (or ``memberGroupName``)."""
        return self.state.items("memberships", membership_key(datasource, group))

    def shortcuts(self) -> dict[str, dict[str, Any]]:
        """Stored shortcuts by ``inputAlias``."""
        return self.state.items("shortcuts", "")

    @property
    def uploads(self) -> list[UploadRecord]:
        """Every bulk upload seen (:class:`UploadRecord`), oldest first.

        Its pages are those that reached the upload state machine, with the status
        answered; a page a fault answered first (an error, throttling, a drop, rejected
        ids) is only in ``fault_log``.
        """
        return self.state.uploads

    @property
    def violations(self) -> list[str]:
        """Every bulk ordering violation seen, oldest first."""
        return self.state.violations

    def upload(self, kind: str, key: str, upload_id: str) -> UploadRecord | None:
        """The latest record of one upload, or None."""
        return self.state.upload(kind, key, upload_id)

    def reset(self) -> None:
        """Clear the state, the request log, queued failures, faults and the fault log.

        A server made stateless (``server.stateful = False``) becomes stateful again.
        """
        self.clear()
        self.state.reset()
        self.stateful = True
        with self._fault_lock:
            self._faults = Faults()
            self.fault_log.clear()
            self._seen.clear()

    # -- handling -----------------------------------------------------------------------

    def answer(self, call: Call) -> Answer:
        if not self.stateful:
            return self.spec_answer(call.op)
        try:
            return super().answer(call)
        except StateError as error:
            return problem(error.status, error.reason, error.detail)

    async def respond(self, call: Call) -> web.StreamResponse:
        """Answer a valid request through the fault knobs (see :mod:`.faults`)."""
        faults = self._faults
        decision, digest, occurrence = self._decide(call, faults)
        page = bulk_page(call.op.name, call.body)
        if page is not None:
            call.context["arrival"] = self.state.arrive(page)
        try:
            return await self._respond_with(call, faults, decision, (digest, occurrence))
        finally:
            if page is not None:
                self.state.depart(page)

    def _decide(self, call: Call, faults: Faults) -> tuple[Decision, str, int]:
        record = call.record
        query = call.request.query_string
        digest = request_digest(record.path, query, record.raw_body)
        with self._fault_lock:
            occurrence = self._seen[(call.op.name, digest)]
            self._seen[(call.op.name, digest)] += 1
        return decide(faults, call.op.name, digest, occurrence), digest, occurrence

    async def _respond_with(
        self, call: Call, faults: Faults, decision: Decision, seen: tuple[str, int]
    ) -> web.StreamResponse:
        injected: list[str] = []
        if decision.latency > 0:
            injected.append("latency")
            await asyncio.sleep(decision.latency)
        if decision.drop:
            self._log(call, seen, (*injected, "drop"), None, decision.latency)
            drop_connection(call.request)
            return web.Response(status=503)
        answer, more = self._faulty_answer(call, faults, decision)
        injected += more
        cut = None
        if decision.truncate and answer.chunks:
            injected.append("truncate")
            cut = len(answer.chunks) // 2
        page = call.context.get("page")
        if page is not None:
            page.status = answer.status
        if injected:
            self._log(call, seen, tuple(injected), answer.status, decision.latency)
        return await self.send(call, answer, cut_after=cut)

    def _faulty_answer(
        self, call: Call, faults: Faults, decision: Decision
    ) -> tuple[Answer, list[str]]:
        """The answer after the faults that replace it, and which of them applied."""
        if decision.throttle:
            answer = problem(429, "throttled", "injected fault: too many requests")
            if faults.retry_after is not None:
                answer.headers["Retry-After"] = str(faults.retry_after)
            return answer, ["throttle"]
        if decision.error:
            detail = f"injected fault: HTTP {faults.error_status}"
            return problem(faults.error_status, "injected-error", detail), ["error"]
        rejected = sorted(set(request_ids(call.op.name, call.body)) & faults.reject_ids)
        if rejected:
            detail = f"rejected ids: {', '.join(rejected)}"
            return problem(400, "rejected-ids", detail), ["reject"]
        answer = self.answer(call)
        if decision.error_after_store:
            detail = f"injected fault after the request was applied: HTTP {faults.error_status}"
            return problem(faults.error_status, "error-after-store", detail), ["error_after_store"]
        return answer, []

    def _log(
        self,
        call: Call,
        seen: tuple[str, int],
        injected: tuple[str, ...],
        status: int | None,
        latency: float,
    ) -> None:
        record = FaultRecord(call.op.name, seen[0], seen[1], injected, status, latency)
        with self._fault_lock:
            self.fault_log.append(record)
