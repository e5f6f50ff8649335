"""glean.bulk.documents against the stateful embedded Glean server: order, safety, faults,
adaptive concurrency, resume, cancellation, input errors, empty and oversize input."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import pickle
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, redirect_stderr
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from glean_async import Glean
from glean_async.bulk import (
    BulkProgress,
    BulkReport,
    BulkResumeError,
    BulkUploadError,
)
from glean_async.testing import FakeGleanServer, Faults
from shared.errors import InvalidInputError
from tests.bulk_helpers import (
    FAST_RETRIES,
    TOKEN,
    bulk_bodies,
    documents,
    last_pages,
    settled,
    uploads,
)

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def client(server: FakeGleanServer, **options: Any) -> AsyncIterator[Glean]:
    async with Glean(
        api_token=TOKEN, server_url=server.url, retry_config=FAST_RETRIES, **options
    ) as glean:
        yield glean


async def seed(server: FakeGleanServer, ids: list[dict[str, Any]]) -> None:
    """A previous, finished upload of ``ids`` into datasource wiki."""
    async with client(server) as glean:
        report = await glean.bulk.documents("wiki", ids, batch_size=50)
    assert report.finalized


# -- faults ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_50k_documents_through_a_fault_storm(glean_server: FakeGleanServer) -> None:
    glean_server.faults = Faults(
        seed=11,
        error_rate=0.10,
        throttle_rate=0.05,
        retry_after=0,
        error_after_store_rate=0.05,
        drop_rate=0.02,
    )
    corpus = documents(50_000)
    async with client(glean_server) as glean:
        report = await glean.bulk.documents(
            "wiki", iter(corpus), batch_size=250, concurrency=8, upload_id="storm"
        )
    print(f"\n{report.summary()}")
    assert report.finalized and report.ok
    assert report.accepted == 50_000 and report.failures == []
    assert set(glean_server.documents("wiki")) == {doc["id"] for doc in corpus}
    (upload,) = uploads(glean_server)
    assert upload.finalized and upload.finalizations == 1
    assert upload.violations == [] and glean_server.violations == []
    assert report.retries > 0 and report.throttles > 0
    assert report.concurrency_lowest < 8  # halved under throttling ...
    assert report.concurrency_drops > 0 and report.concurrency_raises > 0  # ... and grew back
    assert report.pages == 200 and report.acknowledged_items == 50_000


async def test_a_rejected_middle_page_leaves_the_upload_open_and_resume_finishes_it(
    glean_server: FakeGleanServer,
) -> None:
    await seed(glean_server, documents(60, prefix="old"))
    corpus = documents(1000)
    glean_server.faults = Faults(reject_ids=["doc-450"])
    async with client(glean_server) as glean:
        with pytest.raises(BulkUploadError) as raised:
            await glean.bulk.documents("wiki", corpus, batch_size=100, concurrency=4)
        report = raised.value.report
        assert isinstance(report, BulkReport) and not report.finalized
        page_ids = [f"doc-{n}" for n in range(400, 500)]
        assert [f.id for f in report.failures] == page_ids  # exactly that page's items
        assert all(
            f.reason.startswith("page 4 failed") and "400" in f.reason for f in report.failures
        )
        assert report.accepted == 900  # the held-back page went out as a middle page
        (upload,) = [u for u in uploads(glean_server) if u.upload_id == report.upload_id]
        assert not upload.finalized and last_pages(upload) == []
        stored = glean_server.documents("wiki")
        assert {f"old-{n}" for n in range(60)} <= set(stored)  # nothing deleted
        assert not set(page_ids) & set(stored)

        glean_server.faults = Faults()
        before = len(glean_server.requests)
        resumed = await glean.bulk.documents("wiki", corpus, batch_size=100, resume=report)
    assert resumed.finalized and resumed.ok and resumed.upload_id == report.upload_id
    assert resumed.accepted == 1000 and resumed.acknowledged_items == 1000
    sent = [r.body for r in glean_server.requests[before:]]
    assert [len(body["documents"]) for body in sent] == [100]  # only what was missing ...
    assert "isFirstPage" not in sent[0] and sent[0]["isLastPage"]  # ... as the last page
    assert set(glean_server.documents("wiki")) == {doc["id"] for doc in corpus}
    assert glean_server.violations == []


async def test_resume_from_a_json_round_tripped_report(glean_server: FakeGleanServer) -> None:
    corpus = documents(300)
    glean_server.faults = Faults(reject_ids=["doc-50", "doc-250"])
    async with client(glean_server) as glean:
        report = await glean.bulk.documents("wiki", corpus, batch_size=40, raise_on_failure=False)
        assert not report.finalized and report.failed == 40 + 40  # two pages
        text = report.to_json()
        assert TOKEN not in text and TOKEN not in str(report)
        loaded = BulkReport.from_json(text)
        assert loaded == report
        assert pickle.loads(pickle.dumps(loaded)) == report
        glean_server.faults = Faults()
        finished = await glean.bulk.documents("wiki", iter(corpus), batch_size=40, resume=text)
    assert finished.finalized and finished.accepted == 300
    assert set(glean_server.documents("wiki")) == {doc["id"] for doc in corpus}
    (upload,) = uploads(glean_server)
    assert upload.finalizations == 1 and sum(p.first for p in upload.pages) == 1


async def test_resume_with_different_input_is_refused_before_sending(
    glean_server: FakeGleanServer,
) -> None:
    corpus = documents(200)
    glean_server.faults = Faults(reject_ids=["doc-150"])
    async with client(glean_server) as glean:
        report = await glean.bulk.documents("wiki", corpus, batch_size=50, raise_on_failure=False)
        glean_server.faults = Faults()
        before = len(glean_server.requests)
        changed = [*corpus[:20], {"id": "intruder"}, *corpus[21:]]
        with pytest.raises(BulkResumeError, match=r"positions 0\.\.149"):
            await glean.bulk.documents("wiki", changed, resume=report)
        with pytest.raises(BulkResumeError, match="shorter"):
            await glean.bulk.documents("wiki", corpus[:60], resume=report)
        with pytest.raises(BulkResumeError, match="datasource 'wiki'"):
            await glean.bulk.documents("other", corpus, resume=report)
    assert len(glean_server.requests) == before  # nothing was sent


# -- cancellation and input errors --------------------------------------------------------


def _established_to(port: int) -> int:
    """Established TCP connections to ``port`` on 127.0.0.1, as the kernel lists them."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":
                count += 1
    return count


async def test_cancelling_midway_sends_no_last_page_and_leaves_no_connection(
    glean_server: FakeGleanServer,
) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp")
    glean_server.faults = Faults(latency=0.05)
    connector = aiohttp.TCPConnector(force_close=True)  # a connection per request
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        client(glean_server, session=session) as glean,
    ):
        task = asyncio.ensure_future(
            glean.bulk.documents("wiki", documents(3000), batch_size=50, concurrency=4)
        )
        for _ in range(1000):
            if len(glean_server.requests) >= 6:
                break
            await asyncio.sleep(0.01)
        assert _established_to(glean_server.port) > 0  # pages in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):  # the sockets close on the loop's next turns
            if _established_to(glean_server.port) == 0:
                break
            await asyncio.sleep(0.02)
        assert _established_to(glean_server.port) == 0
    for _ in range(200):  # the server finishes the pages it had (after their latency)
        if settled(glean_server):
            break
        await asyncio.sleep(0.02)
    (upload,) = uploads(glean_server)
    assert last_pages(upload) == [] and not upload.finalized


async def test_the_input_raising_midway_sends_no_last_page(glean_server: FakeGleanServer) -> None:
    def corpus() -> Iterator[dict[str, Any]]:
        yield from documents(230)
        raise ConnectionResetError("the database went away")

    async with client(glean_server) as glean:
        with pytest.raises(BulkUploadError) as raised:
            await glean.bulk.documents("wiki", corpus(), batch_size=50)
    error = raised.value
    assert isinstance(error.__cause__, ConnectionResetError)
    report = error.report
    # everything read before the error went out, as middle pages
    assert not report.finalized and report.accepted == 230 and report.failures == []
    assert "ConnectionResetError" in (report.error or "") and not report.ok
    assert not report.input_complete and report.items_read == 230
    (upload,) = uploads(glean_server)
    assert last_pages(upload) == []


async def test_an_async_iterable_input_raising_is_reported_too(
    glean_server: FakeGleanServer,
) -> None:
    async def corpus() -> AsyncIterator[dict[str, Any]]:
        for document in documents(70):
            yield document
        raise KeyError("cursor")

    async with client(glean_server) as glean:
        with pytest.raises(BulkUploadError) as raised:
            await glean.bulk.documents("wiki", corpus(), batch_size=30, raise_on_failure=False)
    assert isinstance(raised.value.__cause__, KeyError)
    assert raised.value.report.accepted == 70
    (upload,) = uploads(glean_server)
    assert last_pages(upload) == []


# -- empty, oversize, invalid, conflicts ---------------------------------------------------


async def test_empty_input_is_refused_unless_allowed(glean_server: FakeGleanServer) -> None:
    await seed(glean_server, documents(5, prefix="old"))
    before = len(glean_server.requests)
    async with client(glean_server) as glean:
        with pytest.raises(InvalidInputError, match="allow_empty=True"):
            await glean.bulk.documents("wiki", [])
        assert len(glean_server.requests) == before
        report = await glean.bulk.documents(
            "wiki", iter([]), allow_empty=True, disable_stale_document_deletion_check=True
        )
    assert report.finalized and report.accepted == 0 and report.pages == 1
    (body,) = bulk_bodies(glean_server)[-1:]
    assert body["isFirstPage"] and body["isLastPage"] and body["documents"] == []
    assert glean_server.documents("wiki") == {}  # the empty upload deleted everything


async def test_an_oversize_item_is_reported_the_others_uploaded(
    glean_server: FakeGleanServer,
) -> None:
    corpus = documents(30)
    corpus[7]["title"] = "x" * 20_000
    async with client(glean_server) as glean:
        report = await glean.bulk.documents(
            "wiki", corpus, batch_size=10, max_batch_bytes=8_000, raise_on_failure=False
        )
    (failure,) = report.failures
    assert (failure.position, failure.id) == (7, "doc-7") and "too large" in failure.reason
    assert "max_batch_bytes" in failure.reason
    assert report.accepted == 29 and not report.finalized  # not finalized: an item failed
    assert last_pages(uploads(glean_server)[0]) == []
    assert set(glean_server.documents("wiki")) == {d["id"] for d in corpus} - {"doc-7"}
    assert all(len(r.raw_body) <= 8_000 for r in glean_server.requests)


async def test_an_invalid_item_is_named_by_position_and_field_and_blocks_the_last_page(
    glean_server: FakeGleanServer,
) -> None:
    corpus = documents(12)
    corpus[4] = {"id": "doc-4", "title": 12}
    async with client(glean_server) as glean:
        with pytest.raises(BulkUploadError) as raised:
            await glean.bulk.documents("wiki", corpus, batch_size=5)
    report = raised.value.report
    invalid = report.failures[0]
    assert invalid.position == 4 and "documents[4].title" in invalid.reason
    assert "expected str" in invalid.reason
    assert report.accepted == 11 and [f.position for f in report.failures] == [4]
    (upload,) = uploads(glean_server)
    assert last_pages(upload) == []


async def test_409_explains_force_restart_and_force_restart_works(
    glean_server: FakeGleanServer,
) -> None:
    glean_server.faults = Faults(reject_ids=["doc-60"])
    async with client(glean_server) as glean:
        first = await glean.bulk.documents(
            "wiki", documents(100), batch_size=50, raise_on_failure=False
        )
        assert not first.finalized  # an unfinished upload of wiki is now open
        glean_server.faults = Faults()
        before = len(glean_server.requests)
        with pytest.raises(BulkUploadError) as raised:
            await glean.bulk.documents("wiki", documents(20, prefix="new"), batch_size=10)
        message = str(raised.value)
        assert "409" in message and "force_restart=True" in message
        refused = raised.value.report
        assert refused.error and "force_restart" in refused.error
        assert [f.reason.split(":")[0] for f in refused.failures] == (
            ["HTTP 409 Conflict"] * 10 + ["not sent"] * 10
        )
        assert len(glean_server.requests) == before + 1  # the refused first page only
        forced = await glean.bulk.documents(
            "wiki",
            documents(20, prefix="new"),
            batch_size=10,
            force_restart=True,
            disable_stale_document_deletion_check=True,  # 100 of 120 go: past the 20% pause
        )
    assert forced.finalized
    assert set(glean_server.documents("wiki")) == {f"new-{n}" for n in range(20)}
    bodies = bulk_bodies(glean_server)
    assert bodies[-2]["forceRestartUpload"] is True and "forceRestartUpload" not in bodies[-1]


# -- progress ---------------------------------------------------------------------------


async def test_on_progress_counts_only_grow(glean_server: FakeGleanServer) -> None:
    seen: list[BulkProgress] = []
    glean_server.faults = Faults(seed=3, error_rate=0.2)
    async with client(glean_server) as glean:
        report = await glean.bulk.documents(
            "wiki", documents(500), batch_size=20, on_progress=seen.append
        )
    assert len(seen) == report.pages == 25
    for before, after in itertools.pairwise(seen):
        assert after.accepted >= before.accepted and after.pages >= before.pages
        assert after.bytes_sent >= before.bytes_sent and after.items_read >= before.items_read
    assert seen[-1].accepted == 500 and seen[-1].total == 500


async def test_progress_true_draws_a_line_on_stderr(glean_server: FakeGleanServer) -> None:
    stderr = io.StringIO()
    async with client(glean_server) as glean:
        with redirect_stderr(stderr):
            await glean.bulk.documents("wiki", documents(300), batch_size=30, progress=True)
    text = stderr.getvalue()  # not a terminal: whole lines, the last one at the end
    assert text.endswith("\n") and "\r" not in text
    assert "bulk documents: 300/300 accepted, 0 failed, 10 pages" in text.splitlines()[-1]
    assert text.count("300/300") == 1


async def test_the_report_reads_well_and_holds_no_token(glean_server: FakeGleanServer) -> None:
    async with client(glean_server) as glean:
        report = await glean.bulk.documents("wiki", documents(40), batch_size=15)
    text = str(report)
    assert "finalized" in text and "40 accepted, 0 failed" in text and "3 pages" in text
    assert TOKEN not in text and TOKEN not in report.to_json() and TOKEN not in repr(report)
    assert json.loads(report.to_json())["upload_id"] == report.upload_id


async def test_bad_arguments_are_refused_before_any_request(glean_server: FakeGleanServer) -> None:
    async with client(glean_server) as glean:
        for kwargs, field in (
            ({"batch_size": 0}, "batch_size"),
            ({"concurrency": 0}, "concurrency"),
            ({"max_batch_bytes": 10}, "max_batch_bytes"),
            ({"max_requests_per_second": -1}, "max_requests_per_second"),
            ({"upload_id": ""}, "upload_id"),
        ):
            with pytest.raises(InvalidInputError, match=field):
                await glean.bulk.documents("wiki", documents(3), **kwargs)
        with pytest.raises(InvalidInputError, match="datasource"):
            await glean.bulk.documents("", documents(3))
        with pytest.raises(InvalidInputError, match="iterable"):
            await glean.bulk.documents("wiki", "not items")
    assert glean_server.requests == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_on_a_terminal_draws_tqdm_and_without_tqdm_a_plain_line(
    glean_server: FakeGleanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")
    terminal = _Terminal()
    async with client(glean_server) as glean:
        with redirect_stderr(terminal):
            await glean.bulk.documents("wiki", documents(200), batch_size=20, progress=True)
        assert "bulk documents" in terminal.getvalue() and "200/200" in terminal.getvalue()
        assert "item" in terminal.getvalue()  # tqdm's unit, not the plain line's wording
        assert "accepted" not in terminal.getvalue()
        monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm not installed
        plain = _Terminal()
        with redirect_stderr(plain):
            await glean.bulk.documents("wiki", documents(200), batch_size=20, progress=True)
    assert "bulk documents: 200/200 accepted" in plain.getvalue().splitlines()[-1]
    assert "\r" in plain.getvalue() and plain.getvalue().endswith("\n")  # rewritten in place


async def test_bulk_errors_are_glean_errors_and_pickle_with_their_report(
    glean_server: FakeGleanServer,
) -> None:
    from glean_async.errors import GleanError

    glean_server.faults = Faults(reject_ids=["doc-5"])
    async with client(glean_server) as glean:
        with pytest.raises(GleanError) as raised:
            await glean.bulk.documents("wiki", documents(10), batch_size=3)
    error = raised.value
    assert isinstance(error, BulkUploadError)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.report == error.report and str(copy) == str(error)
    mismatch = pickle.loads(pickle.dumps(BulkResumeError("other input")))
    assert isinstance(mismatch, InvalidInputError) and mismatch.field == "resume"


async def test_on_progress_raising_stops_the_upload_before_its_last_page(
    glean_server: FakeGleanServer,
) -> None:
    def on_progress(progress: BulkProgress) -> None:
        if progress.pages == 3:
            raise RuntimeError("dashboard down")

    async with client(glean_server) as glean:
        with pytest.raises(BulkUploadError) as raised:
            await glean.bulk.documents(
                "wiki", documents(400), batch_size=20, concurrency=2, on_progress=on_progress
            )
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert "on_progress raised RuntimeError" in (raised.value.report.error or "")
    (upload,) = uploads(glean_server)
    assert last_pages(upload) == [] and not upload.finalized


async def test_a_request_rate_cap_is_applied_and_reported(glean_server: FakeGleanServer) -> None:
    glean_server.faults = Faults(seed=4, throttle_rate=0.2)
    async with client(glean_server) as glean:
        report = await glean.bulk.documents(
            "wiki", documents(200), batch_size=20, max_requests_per_second=500
        )
    assert report.finalized and report.max_requests_per_second == 500
    assert report.requests == len(glean_server.requests) == 10 + report.retries
    assert "at most 500 requests/s" in report.summary()
