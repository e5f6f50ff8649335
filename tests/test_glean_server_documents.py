"""The embedded Glean server's documents: incremental indexing and the bulk upload state
machine (ordering, 409s, forced restarts, stale deletion and its pause, re-sent pages),
through the SDK client and raw HTTP, against the session's server (reset per test)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from glean_async import Glean, errors
from glean_async.testing import SPEC_PATH, FakeGleanServer, Faults
from glean_async.testing.state import Arrival, GleanState, Page, StateError, item_id
from glean_async.utils import RetryConfig
from shared.testing import pytest_plugin
from shared.unset import UNSET

pytestmark = pytest.mark.anyio
NO_RETRIES = RetryConfig("none")
BULK = "indexing.documents.bulk_index"


def doc(ident: str, title: str = "", text: str = "", datasource: str = "wiki") -> dict[str, Any]:
    document: dict[str, Any] = {
        "datasource": datasource,
        "objectType": "Page",
        "id": ident,
        "viewURL": f"https://{datasource}.example.com/{ident}",
        "permissions": {"allowAnonymousAccess": True},
    }
    if title:
        document["title"] = title
    if text:
        document["body"] = {"mimeType": "text/plain", "textContent": text}
    return document


def docs(*ids: str, datasource: str = "wiki") -> list[dict[str, Any]]:
    return [doc(ident, datasource=datasource) for ident in ids]


async def page(glean: Glean, ids: list[str], upload_id: str, **flags: Any) -> None:
    """One bulk page of documents with these ids (no retries)."""
    await glean.indexing.documents.bulk_index(
        datasource="wiki", documents=docs(*ids), upload_id=upload_id, retries=NO_RETRIES, **flags
    )


async def refused(glean: Glean, ids: list[str], upload_id: str, **flags: Any) -> Any:
    """A bulk page the server refuses: the status and the problem details."""
    with pytest.raises(errors.GleanError) as caught:
        await page(glean, ids, upload_id, **flags)
    return caught.value.status_code, json.loads(caught.value.body)


def assert_answers_fit_the_spec(server: FakeGleanServer) -> None:
    for record in server.requests:
        assert record.valid, record.errors
        assert server.answer_errors(record) == [], record.name


# -- incremental --------------------------------------------------------------------------


async def test_index_count_status_and_delete(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await glean_client.indexing.documents.index(datasource="wiki", documents=docs("a", "b"))
    await glean_client.indexing.documents.add_or_update(document=doc("c", title="Third"))
    assert sorted(glean_server.documents("wiki")) == ["a", "b", "c"]
    assert glean_server.documents("wiki")["c"] == doc("c", title="Third")  # the wire JSON
    assert glean_server.datasources() == ["wiki"]
    with pytest.warns(DeprecationWarning):
        count = await glean_client.indexing.documents.count(datasource="wiki")
        status = await glean_client.indexing.documents.status(
            datasource="wiki", object_type="Page", doc_id="b"
        )
        missing = await glean_client.indexing.documents.status(
            datasource="wiki", object_type="Page", doc_id="zzz"
        )
    assert count.document_count == 3
    assert (status.upload_status, status.indexing_status) == ("UPLOADED", "INDEXED")
    assert status.last_uploaded_at is not None and status.last_uploaded_at <= time.time()
    assert missing.upload_status == "NOT_UPLOADED"
    await glean_client.indexing.documents.delete(datasource="wiki", object_type="Page", id="b")
    await glean_client.indexing.documents.delete(datasource="wiki", object_type="Page", id="b")
    assert sorted(glean_server.documents("wiki")) == ["a", "c"]
    assert glean_server.documents("other") == {}
    assert_answers_fit_the_spec(glean_server)


async def test_indexing_replaces_a_document_with_the_same_id(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await glean_client.indexing.documents.index(datasource="wiki", documents=[doc("a", "Old")])
    await glean_client.indexing.documents.index(datasource="wiki", documents=[doc("a", "New")])
    assert glean_server.documents("wiki") == {"a": doc("a", "New")}


async def test_documents_need_an_id_and_the_requests_datasource(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    no_id = {"datasource": "wiki", "title": "nameless"}
    with pytest.raises(errors.GleanError) as caught:
        await glean_client.indexing.documents.index(
            datasource="wiki", documents=[doc("a"), no_id], retries=NO_RETRIES
        )
    assert caught.value.status_code == 400
    assert json.loads(caught.value.body)["detail"] == "documents[1] has no 'id'"
    with pytest.raises(errors.GleanError) as caught:
        await glean_client.indexing.documents.index(
            datasource="wiki", documents=[doc("a", datasource="other")], retries=NO_RETRIES
        )
    assert "documents[0].datasource is 'other'" in json.loads(caught.value.body)["detail"]
    assert glean_server.documents("wiki") == {}  # nothing of a refused request is stored


async def test_debug_views_answer_from_the_store(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await page(glean_client, ["a", "b"], "u1", is_first_page=True, is_last_page=True)
    debug = await glean_client.indexing.documents.debug(
        datasource="wiki", object_type="Page", doc_id="a"
    )
    assert debug.status is not None and debug.status.upload_status == "UPLOADED"
    assert debug.uploaded_permissions is not None
    assert debug.uploaded_permissions.allow_anonymous_access is True
    many = await glean_client.indexing.documents.debug_many(
        datasource="wiki",
        debug_documents=[{"object_type": "Page", "doc_id": d} for d in ("b", "nope")],
    )
    statuses = [(s.doc_id, s.debug_info.status.upload_status) for s in many.document_statuses]
    assert statuses == [("b", "UPLOADED"), ("nope", "NOT_UPLOADED")]
    status = await glean_client.indexing.datasource.status(datasource="wiki")
    (count,) = status.documents.counts.uploaded
    assert (count.object_type, count.count) == ("Page", 2)
    # the spec declares bulkUploadHistory an array ($ref) and an object: no value fits
    assert status.documents.bulk_upload_history is UNSET
    assert_answers_fit_the_spec(glean_server)


async def test_the_datasource_status_has_the_upload_history_where_the_schema_allows(
    tmp_path: Path,
) -> None:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    for name in ("DebugDatasourceStatusResponse", "DebugDatasourceStatusIdentityResponseComponent"):
        schema = spec["components"]["schemas"][name]
        histories = [schema["properties"]]
        if "documents" in schema["properties"]:
            histories = [schema["properties"]["documents"]["properties"]]
        for properties in histories:
            del properties["bulkUploadHistory"]["type"]  # leaves the $ref: an array
    fixed = tmp_path / "glean.json"
    fixed.write_text(json.dumps(spec), encoding="utf-8")
    async with FakeGleanServer(spec_path=fixed) as server, Glean("t", server_url=server.url) as g:
        await page(g, ["a"], "u1", is_first_page=True)
        await page(g, ["b"], "u1", is_last_page=True)
        await page(g, ["c"], "u2", is_first_page=True)
        status = await g.indexing.datasource.status(datasource="wiki")
        assert_answers_fit_the_spec(server)
    events = [
        (e.upload_id, e.status, e.processing_state) for e in status.documents.bulk_upload_history
    ]
    assert events == [("u1", "SUCCESSFUL", "UPLOAD COMPLETED"), ("u2", "ACTIVE", "UPLOAD STARTED")]
    assert status.identity.users.bulk_upload_history == []


# -- the bulk state machine ------------------------------------------------------------------


async def test_pages_upsert_as_they_arrive_and_the_last_page_deletes_stale_documents(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await page(
        glean_client, [f"old{n}" for n in range(9)], "u0", is_first_page=True, is_last_page=True
    )
    await page(glean_client, ["old0", "old1", "old2", "old3", "x"], "u1", is_first_page=True)
    assert len(glean_server.documents("wiki")) == 10  # upserted, nothing deleted yet
    await page(glean_client, ["old4", "old5", "old6", "old7"], "u1")
    await page(glean_client, ["y"], "u1", is_last_page=True)
    assert sorted(glean_server.documents("wiki")) == [f"old{n}" for n in range(8)] + ["x", "y"]
    upload = glean_server.upload("documents", "wiki", "u1")
    assert upload is not None and upload.finalized and upload.finalizations == 1
    assert upload.deleted_ids == ["old8"] and not upload.deletion_paused
    assert [(p.first, p.last, p.items, p.status) for p in upload.pages] == [
        (True, False, 5, 200),
        (False, False, 4, 200),
        (False, True, 1, 200),
    ]
    assert upload.pages[1].ids == ["old4", "old5", "old6", "old7"]
    assert glean_server.violations == []
    assert_answers_fit_the_spec(glean_server)


async def test_deletion_pauses_when_more_than_a_fifth_would_go(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    ten = [f"d{n}" for n in range(10)]
    await page(glean_client, ten, "u0", is_first_page=True, is_last_page=True)
    await page(glean_client, ten[:8], "u1", is_first_page=True, is_last_page=True)  # 2 of 10 go
    assert sorted(glean_server.documents("wiki")) == ten[:8]
    await page(glean_client, ten[:6], "u2", is_first_page=True, is_last_page=True)  # 2 of 8: 25%
    upload = glean_server.upload("documents", "wiki", "u2")
    assert upload is not None and upload.finalized and upload.deletion_paused
    assert upload.deleted_ids == [] and sorted(glean_server.documents("wiki")) == ten[:8]
    states = [u.processing_state for u in glean_server.uploads]
    assert states == ["UPLOAD COMPLETED", "UPLOAD COMPLETED", "DELETION PAUSED"]
    await page(
        glean_client,
        ten[:1],
        "u3",
        is_first_page=True,
        is_last_page=True,
        disable_stale_document_deletion_check=True,
    )
    assert sorted(glean_server.documents("wiki")) == ten[:1]  # the check disabled: 7 of 8 go


async def test_the_stale_deletion_flag_is_only_valid_with_the_last_page(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    status, body = await refused(
        glean_client, ["a"], "u1", is_first_page=True, disable_stale_document_deletion_check=True
    )
    assert status == 400 and body["type"] == "urn:glean-fake:stale-check-flag"
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == 400
    assert "disableStaleDocumentDeletionCheck is only valid with isLastPage" in body["detail"]
    assert glean_server.documents("wiki") == {}
    assert len(glean_server.violations) == 1


async def test_middle_and_last_pages_of_an_upload_never_started_are_refused(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    status, body = await refused(glean_client, ["a"], "ghost")
    assert (status, body["type"]) == (400, "urn:glean-fake:not-started")
    assert "'ghost' was never started (no accepted first page)" in body["detail"]
    status, body = await refused(glean_client, ["b"], "ghost", is_last_page=True)
    assert status == 400
    assert glean_server.documents("wiki") == {}
    upload = glean_server.upload("documents", "wiki", "ghost")
    assert upload is not None and not upload.started and not upload.finalized
    assert [p.status for p in upload.pages] == [400, 400]
    assert glean_server.violations == upload.violations and len(upload.violations) == 2
    assert all("'ghost' was never started" in v for v in glean_server.violations)


async def test_a_page_after_the_last_page_is_refused(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await page(glean_client, ["a"], "u1", is_first_page=True)
    await page(glean_client, ["b"], "u1", is_last_page=True)
    status, body = await refused(glean_client, ["c"], "u1")
    assert (status, body["type"]) == (400, "urn:glean-fake:after-last-page")
    assert "c" not in glean_server.documents("wiki")
    (violation,) = glean_server.violations
    assert "a page arrived after its last page" in violation and "'u1'" in violation


async def test_a_second_upload_gets_409_until_forced(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await page(glean_client, ["a", "b"], "u1", is_first_page=True)
    status, body = await refused(glean_client, ["c"], "u2", is_first_page=True)
    assert (status, body["type"]) == (409, "urn:glean-fake:upload-in-progress")
    assert "'u1'" in body["detail"] and "forceRestartUpload" in body["detail"]
    await page(glean_client, ["c"], "u2", is_first_page=True, force_restart_upload=True)
    u2 = glean_server.upload("documents", "wiki", "u2")
    assert u2 is not None and u2.started and [p.status for p in u2.pages] == [409, 200]
    assert [u.upload_id for u in glean_server.uploads] == ["u1", "u2"]  # one record each
    status, body = await refused(glean_client, ["d"], "u1", is_last_page=True)
    assert (status, body["type"]) == (400, "urn:glean-fake:restarted")
    await page(glean_client, ["e"], "u2", is_last_page=True)
    # the forced upload's pages hold c and e: a and b (from u1) are stale, 2 of 4 go
    upload = glean_server.upload("documents", "wiki", "u2")
    assert upload is not None and upload.finalized and upload.deletion_paused
    u1 = glean_server.upload("documents", "wiki", "u1")
    assert u1 is not None and u1.restarted and not u1.finalized


async def test_force_restart_is_only_valid_on_a_first_page(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await page(glean_client, ["a"], "u1", is_first_page=True)
    status, body = await refused(glean_client, ["b"], "u1", force_restart_upload=True)
    assert (status, body["type"]) == (400, "urn:glean-fake:force-restart")
    assert "only valid on a first page" in body["detail"]


async def test_a_resent_first_page_is_accepted_and_a_resent_last_page_does_not_finalize_again(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    kept = ["k1", "k2", "k3", "k4", "k5"]
    await page(glean_client, ["old", *kept], "u0", is_first_page=True, is_last_page=True)
    await page(glean_client, kept[:2], "u1", is_first_page=True)
    await page(glean_client, kept[:2], "u1", is_first_page=True)  # a client retry
    await page(glean_client, kept[2:], "u1", is_last_page=True)
    await glean_client.indexing.documents.index(datasource="wiki", documents=docs("late"))
    await page(glean_client, kept[2:], "u1", is_last_page=True)  # retried after a lost answer
    upload = glean_server.upload("documents", "wiki", "u1")
    assert upload is not None and upload.finalizations == 1
    assert [p.status for p in upload.pages] == [200, 200, 200, 200]
    assert sorted(glean_server.documents("wiki")) == [*kept, "late"]  # not deleted again
    assert upload.deleted_ids == ["old"] and glean_server.violations == []


async def test_a_one_page_upload_resent_after_it_finished(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await page(glean_client, ["a"], "u1", is_first_page=True, is_last_page=True)
    await page(glean_client, ["a"], "u1", is_first_page=True, is_last_page=True)
    (upload,) = glean_server.uploads
    assert upload.finalizations == 1 and len(upload.pages) == 2
    status, _ = await refused(glean_client, ["a"], "u1", is_first_page=True)
    assert status == 400  # a first page that is not the last, after the end


async def test_every_bulk_kind_follows_the_same_machine(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    people = glean_client.indexing.people
    first = {"upload_id": "e1", "is_first_page": True, "retries": NO_RETRIES}
    employee = {"email": "ann@example.com", "department": "Eng"}
    await people.bulk_index(employees=[employee], **first)
    with pytest.raises(errors.GleanError) as caught:
        await people.bulk_index(
            employees=[], upload_id="e2", is_first_page=True, retries=NO_RETRIES
        )
    assert caught.value.status_code == 409
    await people.bulk_index(employees=[], upload_id="e1", is_last_page=True)
    assert glean_server.employees() == {"ann@example.com": employee}
    (record,) = [u for u in glean_server.uploads if u.started]
    assert (record.kind, record.key, record.finalized) == ("employees", "", True)


# -- in flight -------------------------------------------------------------------------------


def test_the_state_tracks_pages_in_flight() -> None:
    state = GleanState()
    first = Page("documents", "wiki", "u", [doc("a")], first=True)
    middle = Page("documents", "wiki", "u", [doc("b")])
    last = Page("documents", "wiki", "u", [doc("c")], last=True)
    assert state.arrive(first) == Arrival()
    state.bulk_page(first)
    state.depart(first)
    assert state.arrive(middle) == Arrival()
    arrival = state.arrive(last)  # the middle page is not answered yet
    assert arrival == Arrival(concurrent=True)
    assert state.arrive(Page("documents", "wiki", "u", [doc("d")])) == Arrival(
        concurrent=True, after_last=True
    )
    record = state.bulk_page(last, arrival)
    assert record.concurrent and state.violations == [
        "documents 'wiki', upload 'u': the last page arrived while other pages were still in flight"
    ]
    with pytest.raises(StateError) as caught:
        state.bulk_page(middle, Arrival(after_last=True))
    assert caught.value.reason == "after-last-page"
    assert state.arrive(Page("documents", "other", "u", [])) == Arrival()  # another key


@pytest.mark.slow
async def test_pages_in_flight_over_http(glean_server: FakeGleanServer) -> None:
    """A last page sent before another page was answered is a violation; a page sent
    while the last page is in flight is refused."""
    glean_server.faults = Faults(latency=1.0, operations=[BULK])
    url = f"{glean_server.url}/api/index/v1/bulkindexdocuments"
    headers = {"Authorization": f"Bearer {pytest_plugin.TOKEN}"}

    def body(ids: list[str], **flags: Any) -> dict[str, Any]:
        return {"uploadId": "u", "datasource": "wiki", "documents": docs(*ids), **flags}

    async with aiohttp.ClientSession(headers=headers) as session:

        async def post(sent: dict[str, Any]) -> int:
            async with session.post(url, json=sent) as response:
                return response.status

        assert await post(body(["a"], isFirstPage=True)) == 200
        middle = asyncio.ensure_future(post(body(["b"])))
        await wait_for_requests(glean_server, 2)
        last = asyncio.ensure_future(post(body(["c"], isLastPage=True)))
        await wait_for_requests(glean_server, 3)
        late = asyncio.ensure_future(post(body(["d"])))
        statuses = await asyncio.gather(middle, last, late)
    assert statuses == [200, 200, 400]
    upload = glean_server.upload("documents", "wiki", "u")
    assert upload is not None and [p.concurrent for p in upload.pages] == [
        False,
        False,
        True,
        True,
    ]
    assert len(glean_server.violations) == 2


async def wait_for_requests(server: FakeGleanServer, count: int) -> None:
    """Until the server has received ``count`` requests (each is in flight from then)."""
    while len(server.requests) < count:
        await asyncio.sleep(0.005)


# -- ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "item", "expected"),
    [
        ("documents", {"id": "d1", "datasource": "x"}, "d1"),
        ("documents", {"datasource": "x", "viewURL": "u"}, None),
        ("employees", {"email": "a@x.io", "id": "7"}, "a@x.io"),
        ("teams", {"id": "t1", "name": "T"}, "t1"),
        ("users", {"email": "u@x.io", "userId": "9"}, "u@x.io"),
        ("groups", {"name": "eng"}, "eng"),
        ("memberships", {"memberUserId": "u@x.io", "memberGroupName": "g"}, "u@x.io"),
        ("memberships", {"memberGroupName": "g"}, "g"),
        ("memberships", {"memberUserId": ""}, None),
        ("shortcuts", {"inputAlias": "go/x", "destinationUrl": "u"}, "go/x"),
        ("shortcuts", "not an object", None),
    ],
)
def test_each_kind_has_its_natural_id(kind: str, item: Any, expected: str | None) -> None:
    assert item_id(kind, item) == expected
