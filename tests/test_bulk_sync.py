"""glean_async.sync.Glean().bulk: the main scenarios, blocking, with plain generators read
lazily in the calling thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import glean_async.sync
from glean_async.bulk import BulkReport, BulkUploadError
from glean_async.bulk.sync import CHUNK
from glean_async.testing import FakeGleanServer, Faults
from tests.bulk_helpers import FAST_RETRIES, TOKEN, documents, last_pages, settled, uploads


class Counted:
    """A generator of documents that records how far it was read, and from which thread."""

    def __init__(self, count: int, fail_at: int | None = None, error: type = ValueError) -> None:
        self.count = count
        self.fail_at = fail_at
        self.error = error
        self.read = 0
        self.threads: set[int] = set()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for document in documents(self.count):
            if self.read == self.fail_at:
                raise self.error("the source failed")
            self.threads.add(threading.get_ident())
            self.read += 1
            yield document


@pytest.fixture
def glean(glean_server: FakeGleanServer) -> Iterator[glean_async.sync.Glean]:
    with glean_async.sync.Glean(
        api_token=TOKEN, server_url=glean_server.url, retry_config=FAST_RETRIES
    ) as client:
        yield client


def test_a_plain_generator_is_read_lazily_in_the_calling_thread(
    glean: glean_async.sync.Glean, glean_server: FakeGleanServer
) -> None:
    source = Counted(5000)
    ahead: list[int] = []
    batch_size, concurrency = 100, 4

    def on_progress(progress: Any) -> None:
        ahead.append(source.read - progress.accepted)

    report = glean.bulk.documents(
        "wiki",
        iter(source),
        batch_size=batch_size,
        concurrency=concurrency,
        on_progress=on_progress,
    )
    assert report.finalized and report.accepted == 5000
    assert set(glean_server.documents("wiki")) == {d["id"] for d in documents(5000)}
    assert source.threads == {threading.get_ident()}  # read here, not on the loop
    assert ahead[0] < 5000 - batch_size  # not drained before the first pages
    bound = (concurrency + 2) * batch_size + CHUNK
    assert max(ahead) <= bound  # bounded look-ahead all along


def test_a_rejected_page_then_resume_blocking(
    glean: glean_async.sync.Glean, glean_server: FakeGleanServer
) -> None:
    glean_server.faults = Faults(reject_ids=["doc-77"], seed=1, error_rate=0.1)
    with pytest.raises(BulkUploadError) as raised:
        glean.bulk.documents("wiki", iter(Counted(400)), batch_size=50)
    report = raised.value.report
    assert isinstance(report, BulkReport) and not report.finalized
    assert [f.id for f in report.failures if f.reason.startswith("page")] == [
        f"doc-{n}" for n in range(50, 100)
    ]
    assert last_pages(uploads(glean_server)[0]) == []
    glean_server.faults = Faults()
    finished = glean.bulk.documents(
        "wiki", iter(Counted(400)), batch_size=50, resume=report.to_json()
    )
    assert finished.finalized and finished.accepted == 400
    assert set(glean_server.documents("wiki")) == {d["id"] for d in documents(400)}


def test_the_generator_raising_is_re_raised_with_the_report(
    glean: glean_async.sync.Glean, glean_server: FakeGleanServer
) -> None:
    with pytest.raises(BulkUploadError) as raised:
        glean.bulk.documents("wiki", iter(Counted(1000, fail_at=333)), batch_size=100)
    assert isinstance(raised.value.__cause__, ValueError)
    report = raised.value.report
    assert report.accepted == 333 and report.failures == []  # all read went out
    assert not report.finalized and not report.input_complete
    assert last_pages(uploads(glean_server)[0]) == []


def test_ctrl_c_while_reading_cancels_the_upload(
    glean: glean_async.sync.Glean, glean_server: FakeGleanServer
) -> None:
    glean_server.faults = Faults(latency=0.01)
    with pytest.raises(KeyboardInterrupt):
        glean.bulk.documents(
            "wiki", iter(Counted(2000, fail_at=700, error=KeyboardInterrupt)), batch_size=50
        )
    for _ in range(200):  # the pages that were in flight are answered
        if settled(glean_server):
            break
        time.sleep(0.02)
    (upload,) = uploads(glean_server)
    assert last_pages(upload) == [] and not upload.finalized
    # the client still works afterwards
    report = glean.bulk.documents("wiki", documents(10), force_restart=True)
    assert report.finalized


def test_empty_and_lists_and_kinds_blocking(
    glean: glean_async.sync.Glean, glean_server: FakeGleanServer
) -> None:
    with pytest.raises(ValueError, match="allow_empty"):
        glean.bulk.documents("wiki", iter([]))
    assert glean_server.requests == []
    assert glean.bulk.documents("wiki", documents(30), batch_size=7).pages == 5
    groups = glean.bulk.groups("wiki", ({"name": f"g{n}"} for n in range(9)), batch_size=4)
    assert groups.finalized and set(glean_server.items("groups", "wiki")) == {
        f"g{n}" for n in range(9)
    }
    deleted = glean.bulk.delete_documents("wiki", (f"doc-{n}" for n in range(5)), object_type="P")
    assert deleted.ok and len(glean_server.documents("wiki")) == 25


def test_split_upload_blocking(
    glean: glean_async.sync.Glean, glean_server: FakeGleanServer
) -> None:
    handle = glean.bulk.open_upload("wiki", documents(10, prefix="first"))
    parts = [
        glean.bulk.send_pages(handle, iter(documents(50, start=50 * n)), part=str(n))
        for n in range(3)
    ]
    report = glean.bulk.finish_upload(handle, parts, iter(documents(5, prefix="last")))
    assert report.finalized and report.accepted == 10 + 150 + 5
    assert len(glean_server.documents("wiki")) == 165


def test_a_call_from_the_loop_thread_is_refused(
    glean: glean_async.sync.Glean, glean_server: FakeGleanServer
) -> None:
    from shared.runtime import get_background_loop

    async def inside_the_loop() -> None:
        for source in (iter(documents(3)), documents(3)):
            with pytest.raises(RuntimeError, match="deadlock"):
                glean.bulk.documents("wiki", source)

    get_background_loop().run(inside_the_loop)
    assert glean_server.requests == []
