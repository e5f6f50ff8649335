"""Every bulk kind end to end (stored, then stale items deleted by the next upload), and
the incremental paths (index_documents, delete_documents) through faults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from glean_async import Glean
from glean_async.bulk import BulkReport
from glean_async.testing import FakeGleanServer, Faults
from tests.bulk_helpers import FAST_RETRIES, TOKEN, documents, uploads

pytestmark = pytest.mark.anyio

Make = Callable[[int], dict[str, Any]]

KIND_CASES: dict[str, tuple[Make, str, str]] = {
    # kind: (item n, the server's key, the item's id field)
    "employees": (lambda n: {"email": f"e{n}@corp.test", "department": "Eng"}, "", "email"),
    "teams": (lambda n: {"id": f"t{n}", "name": f"Team {n}", "members": []}, "", "id"),
    "users": (lambda n: {"email": f"u{n}@corp.test", "name": f"User {n}"}, "wiki", "email"),
    "groups": (lambda n: {"name": f"group-{n}"}, "wiki", "name"),
    "memberships": (lambda n: {"memberUserId": f"user-{n}"}, "wiki/eng", "memberUserId"),
    "shortcuts": (
        lambda n: {
            "inputAlias": f"go/{n}",
            "destinationUrl": f"https://corp.test/{n}",
            "intermediateUrl": f"https://go.corp.test/{n}",
            "createdBy": "admin@corp.test",
        },
        "",
        "inputAlias",
    ),
}


async def upload(glean: Glean, kind: str, items: list[dict[str, Any]]) -> BulkReport:
    bulk = glean.bulk
    if kind == "memberships":
        return await bulk.memberships("wiki", "eng", items, batch_size=4)
    if kind in ("users", "groups"):
        method = bulk.users if kind == "users" else bulk.groups
        return await method("wiki", items, batch_size=4)
    method = {"employees": bulk.employees, "teams": bulk.teams, "shortcuts": bulk.shortcuts}[kind]
    return await method(items, batch_size=4)


@pytest.mark.parametrize("kind", list(KIND_CASES))
async def test_each_kind_is_stored_then_stale_items_deleted(
    glean_server: FakeGleanServer, kind: str
) -> None:
    make, key, id_field = KIND_CASES[kind]
    async with Glean(api_token=TOKEN, server_url=glean_server.url) as glean:
        first = await upload(glean, kind, [make(n) for n in range(10)])
        assert first.finalized and first.accepted == 10 and first.pages == 3
        assert set(glean_server.items(kind, key)) == {make(n)[id_field] for n in range(10)}
        second = await upload(glean, kind, [make(n) for n in range(1, 11)])  # 0 goes, 10 comes
    assert second.finalized and second.accepted == 10
    assert set(glean_server.items(kind, key)) == {make(n)[id_field] for n in range(1, 11)}
    records = uploads(glean_server, kind, key)
    assert [r.finalizations for r in records] == [1, 1]
    assert records[1].deleted_ids == [make(0)[id_field]]
    assert glean_server.violations == []
    assert all(request.valid for request in glean_server.requests)


async def test_employees_keep_stale_ones_with_the_check_disabled_flag(
    glean_server: FakeGleanServer,
) -> None:
    make = KIND_CASES["employees"][0]
    async with Glean(api_token=TOKEN, server_url=glean_server.url) as glean:
        await glean.bulk.employees([make(n) for n in range(10)])
        report = await glean.bulk.employees(
            [make(n) for n in range(5)], disable_stale_data_deletion_check=True
        )
    assert report.finalized
    body = glean_server.requests[-1].body
    assert body["disableStaleDataDeletionCheck"] is True and body["isLastPage"] is True
    assert set(glean_server.items("employees", "")) == {make(n)["email"] for n in range(5)}


async def test_index_documents_through_faults_accounts_for_every_document(
    glean_server: FakeGleanServer,
) -> None:
    glean_server.faults = Faults(
        seed=5, error_rate=0.15, throttle_rate=0.1, error_after_store_rate=0.05, drop_rate=0.03
    )
    corpus = documents(2000)
    async with Glean(
        api_token=TOKEN, server_url=glean_server.url, retry_config=FAST_RETRIES
    ) as glean:
        report = await glean.bulk.index_documents("wiki", corpus, batch_size=50, concurrency=6)
    assert report.ok and not report.upload and report.accepted == 2000 and report.failures == []
    assert report.retries > 0 and report.throttles > 0
    assert set(glean_server.documents("wiki")) == {doc["id"] for doc in corpus}
    assert uploads(glean_server) == []  # no bulk upload, nothing deleted


async def test_index_documents_reports_a_rejected_batch_and_resumes(
    glean_server: FakeGleanServer,
) -> None:
    glean_server.faults = Faults(reject_ids=["doc-123"])
    corpus = documents(300)
    async with Glean(api_token=TOKEN, server_url=glean_server.url) as glean:
        report = await glean.bulk.index_documents(
            "wiki", corpus, batch_size=50, raise_on_failure=False
        )
        assert [f.id for f in report.failures] == [f"doc-{n}" for n in range(100, 150)]
        assert report.accepted == 250
        glean_server.faults = Faults()
        again = await glean.bulk.index_documents("wiki", corpus, batch_size=50, resume=report)
    assert again.ok and again.accepted == 300
    assert set(glean_server.documents("wiki")) == {doc["id"] for doc in corpus}


async def test_delete_documents_through_faults_accounts_for_every_id(
    glean_server: FakeGleanServer,
) -> None:
    corpus = documents(120)
    async with Glean(
        api_token=TOKEN, server_url=glean_server.url, retry_config=FAST_RETRIES
    ) as glean:
        await glean.bulk.documents("wiki", corpus, batch_size=40)
        glean_server.faults = Faults(seed=9, error_rate=0.2, throttle_rate=0.1, drop_rate=0.05)
        doomed = [f"doc-{n}" for n in range(0, 120, 2)]
        report = await glean.bulk.delete_documents(
            "wiki", iter(doomed), object_type="Page", concurrency=5
        )
        assert report.ok and report.accepted == 60 and report.retries > 0
        assert set(glean_server.documents("wiki")) == {f"doc-{n}" for n in range(1, 120, 2)}
        bad = await glean.bulk.delete_documents(
            "wiki", ["doc-1", ""], object_type="Page", raise_on_failure=False
        )
    (failure,) = bad.failures
    assert failure.position == 1 and "ids[1]" in failure.reason
    assert bad.accepted == 1 and "doc-1" not in glean_server.documents("wiki")


async def test_incremental_runs_over_nothing_send_nothing(glean_server: FakeGleanServer) -> None:
    async with Glean(api_token=TOKEN, server_url=glean_server.url) as glean:
        indexed = await glean.bulk.index_documents("wiki", iter([]))
        deleted = await glean.bulk.delete_documents("wiki", [], object_type="Page")
    assert indexed.ok and deleted.ok and indexed.pages == deleted.pages == 0
    assert glean_server.requests == []
