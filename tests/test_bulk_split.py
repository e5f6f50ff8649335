"""Split uploads: the first page here, middle pages from other processes (a spawn
ProcessPoolExecutor, a dask.distributed LocalCluster), the last page here once every
part is complete."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from glean_async import Glean
from glean_async.bulk import (
    BulkIncompleteError,
    BulkPartReport,
    BulkUpload,
    BulkUploadError,
)
from glean_async.testing import FakeGleanServer, Faults
from tests.bulk_helpers import FAST_RETRIES, TOKEN, documents, last_pages, upload_part, uploads

pytestmark = pytest.mark.anyio

PARTS = [("a", 0, 300), ("b", 300, 250), ("c", 550, 200)]  # part, first position, count


def client(server: FakeGleanServer) -> Glean:
    return Glean(api_token=TOKEN, server_url=server.url, retry_config=FAST_RETRIES)


def expected_ids() -> set[str]:
    ids = {d["id"] for d in documents(750)}
    return (
        ids
        | {d["id"] for d in documents(10, prefix="head")}
        | {d["id"] for d in documents(5, prefix="tail")}
    )


async def open_wiki(server: FakeGleanServer) -> BulkUpload:
    async with client(server) as glean:
        handle = await glean.bulk.open_upload("wiki", documents(10, prefix="head"))
    assert pickle.loads(pickle.dumps(handle)) == handle
    assert TOKEN not in repr(handle) and TOKEN not in str(pickle.dumps(handle))
    return handle


async def finish(server: FakeGleanServer, handle: BulkUpload, parts: list[BulkPartReport]) -> None:
    async with client(server) as glean:
        report = await glean.bulk.finish_upload(handle, parts, documents(5, prefix="tail"))
    assert report.finalized and report.accepted == 765
    assert set(server.documents("wiki")) == expected_ids()
    (upload,) = uploads(server)
    assert upload.finalizations == 1 and len(last_pages(upload)) == 1
    assert sum(page.first for page in upload.pages) == 1
    assert upload.violations == [] and server.violations == []


async def test_middle_pages_from_a_spawned_process_pool(glean_server: FakeGleanServer) -> None:
    glean_server.faults = Faults(seed=2, error_rate=0.1, throttle_rate=0.05)
    handle = await open_wiki(glean_server)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [
            pool.submit(upload_part, glean_server.url, handle, part, start, count)
            for part, start, count in PARTS
        ]
        parts = [future.result(timeout=120) for future in futures]
    assert all(isinstance(part, BulkPartReport) and part.complete for part in parts)
    assert [part.accepted for part in parts] == [300, 250, 200]
    assert pickle.loads(pickle.dumps(parts[0])) == parts[0]
    await finish(glean_server, handle, parts)


@pytest.mark.slow
async def test_middle_pages_from_a_dask_cluster(glean_server: FakeGleanServer) -> None:
    distributed = pytest.importorskip("distributed")
    handle = await open_wiki(glean_server)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        with distributed.Client(cluster) as dask:
            futures = [
                dask.submit(upload_part, glean_server.url, handle, part, start, count, pure=False)
                for part, start, count in PARTS
            ]
            parts = dask.gather(futures)
    finally:
        cluster.close()
    assert all(part.complete for part in parts)
    await finish(glean_server, handle, parts)


async def test_one_failed_part_makes_finish_refuse_and_nothing_is_deleted(
    glean_server: FakeGleanServer,
) -> None:
    async with client(glean_server) as glean:
        await glean.bulk.documents("wiki", documents(40, prefix="old"), batch_size=20)
        handle = await glean.bulk.open_upload("wiki", documents(10, prefix="head"))
        glean_server.faults = Faults(reject_ids=["doc-333"])
        parts = [
            await glean.bulk.send_pages(
                handle, documents(count, start=start), part=part, batch_size=50
            )
            for part, start, count in PARTS
        ]
        assert [part.complete for part in parts] == [True, False, True]
        assert [f.id for f in parts[1].failures] == [f"doc-{n}" for n in range(300, 350)]
        before = len(glean_server.requests)
        with pytest.raises(BulkIncompleteError) as raised:
            await glean.bulk.finish_upload(handle, parts, documents(5, prefix="tail"))
        assert raised.value.parts == ["b"] and "'b'" in str(raised.value)
        assert isinstance(raised.value, BulkUploadError)
        assert pickle.loads(pickle.dumps(raised.value)).parts == ["b"]
        assert len(glean_server.requests) == before  # nothing sent
        stored = set(glean_server.documents("wiki"))
        assert {f"old-{n}" for n in range(40)} <= stored  # nothing deleted
        assert not any(
            u.finalized for u in uploads(glean_server) if u.upload_id == handle.upload_id
        )

        glean_server.faults = Faults()
        parts[1] = await glean.bulk.send_pages(
            handle, documents(250, start=300), part="b", batch_size=50, resume=parts[1]
        )
        assert parts[1].complete and parts[1].accepted == 250
        report = await glean.bulk.finish_upload(handle, parts, documents(5, prefix="tail"))
    assert report.finalized
    assert set(glean_server.documents("wiki")) == expected_ids()  # the old ones went


async def test_finish_refuses_parts_of_another_upload(glean_server: FakeGleanServer) -> None:
    async with client(glean_server) as glean:
        one = await glean.bulk.open_upload("wiki", documents(2))
        part = await glean.bulk.send_pages(one, documents(3, start=2), part="x")
        other = await glean.bulk.open_upload("wiki", documents(2), force_restart=True)
        with pytest.raises(ValueError, match=r"parts\[0\]"):
            await glean.bulk.finish_upload(other, [part])
