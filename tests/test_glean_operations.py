"""Every Glean operation through the async client and the sync facade, against the fake.

The fake (shared/testing/openapi.py on ``specs/glean.json``) is built from the spec at run
time and validates each request with openapi-core, so "the request passed validation"
means the SDK sent what the spec allows; tests/operation_calls.py builds each call's
arguments from the descriptors and the spec and checks request and result.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import aiohttp
import pytest

import glean_async
import glean_async.sync
from glean_async import converter, errors, models
from glean_async._generated import operations
from glean_async.testing import FakeGleanServer, RecordedRequest
from glean_async.utils import BackoffStrategy, RetryConfig
from shared.testing import pytest_plugin
from tests.operation_calls import OperationCalls, descriptors

TOKEN = pytest_plugin.TOKEN  # what the client fixtures send
OPERATIONS = descriptors(operations)

# operation -> why the SDK or the generator fails it against the spec (xfail reasons)
KNOWN_FAILURES: dict[str, str] = {}

# the schemas whose `required` names properties nobody declares: the fake relaxes these
UNDECLARED_REQUIRED = {
    "ActivityEvent": ["source"],
    "VerificationMetadata": ["documentId"],
    "CollectionPinnedMetadata": ["pinnedCategories", "eligibleCategoriesForPinning"],
    "ListAnswersResponse": ["answers"],
    "AutocompleteResult": ["result_type"],
    "FeedRequest": ["refreshType"],
    "EmployeeAndVersionDefinition": ["info"],
}


def every_operation() -> list[Any]:
    """One pytest param per operation, xfail-marked when it is a known SDK failure."""
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[name], strict=True)]
            if name in KNOWN_FAILURES
            else [],
        )
        for name in sorted(OPERATIONS)
    ]


# the plugin's fixtures under this module's names: the session's server, reset per test
@pytest.fixture
def fake(glean_server: FakeGleanServer) -> FakeGleanServer:
    glean_server.stateful = False  # the spec's examples; tests/test_glean_server_* test state
    return glean_server


@pytest.fixture
def calls(fake: FakeGleanServer) -> OperationCalls:
    return OperationCalls(fake, converter, TOKEN)


@pytest.fixture
def glean(glean_client: glean_async.Glean) -> glean_async.Glean:
    return glean_client


@pytest.fixture
def sync_glean(glean_sync_client: glean_async.sync.Glean) -> glean_async.sync.Glean:
    return glean_sync_client


# -- every operation ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("name", every_operation())
async def test_async_client(calls: OperationCalls, glean: glean_async.Glean, name: str) -> None:
    await calls.call_async(glean, OPERATIONS[name])


@pytest.mark.parametrize("name", every_operation())
def test_sync_facade(calls: OperationCalls, sync_glean: glean_async.sync.Glean, name: str) -> None:
    calls.call_sync(sync_glean, OPERATIONS[name])


def test_fake_serves_exactly_the_sdk_operations(fake: FakeGleanServer) -> None:
    assert len(OPERATIONS) == 109
    assert set(fake.operations) == set(OPERATIONS)
    for name, op in OPERATIONS.items():
        spec_op = fake.operation(name)
        assert (op.method, op.path) == (spec_op.method, spec_op.route)


def test_fake_relaxes_only_the_required_names_nobody_declares(fake: FakeGleanServer) -> None:
    relaxed = {
        where.rsplit("/", 1)[1]: names for where, names in fake.spec.relaxed_required.items()
    }
    assert relaxed == UNDECLARED_REQUIRED


# -- the fake rejects what the spec does not allow -----------------------------------------


async def raw_post(fake: FakeGleanServer, path: str, **kwargs: Any) -> tuple[int, RecordedRequest]:
    """POST without the SDK; the status and the request as the fake recorded it."""
    async with aiohttp.ClientSession() as session, session.post(fake.url + path, **kwargs) as r:
        await r.read()
    return r.status, fake.requests[-1]


BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "body", "problem"),
    [
        ({}, {"query": "x"}, "no bearer token"),
        ({"Authorization": "Basic abc"}, {"query": "x"}, "Security"),
        (BEARER, {"query": 1}, "1 is not of type 'string'"),
        (BEARER, {"pageSize": 10}, "'query' is a required property"),
        (BEARER, {"query": "x", "page_size": 10}, "/page_size: property not declared"),
    ],
    ids=["no-token", "basic-auth", "wrong-type", "missing-required", "undeclared-property"],
)
async def test_fake_rejects_invalid_search_requests(
    fake: FakeGleanServer, headers: dict[str, str], body: Any, problem: str
) -> None:
    status, request = await raw_post(fake, "/rest/api/v1/search", headers=headers, json=body)
    assert status == 400 and request.name == "client.search.query"
    assert any(problem in error for error in request.errors), request.errors


@pytest.mark.anyio
async def test_fake_rejects_bad_params_paths_and_multipart_parts(fake: FakeGleanServer) -> None:
    status, request = await raw_post(
        fake, "/rest/api/v1/chat?timezoneOffset=soon", headers=BEARER, json={"messages": []}
    )
    assert status == 400 and any("timezoneOffset" in error for error in request.errors)
    status, request = await raw_post(fake, "/rest/api/v1/nowhere", headers=BEARER, json={})
    assert (status, request.name, request.valid) == (404, None, False)
    form = aiohttp.FormData()
    form.add_field("file", b"abc", filename="a.txt")
    status, request = await raw_post(
        fake, "/rest/api/v1/uploadchatfiles", headers=BEARER, data=form
    )
    assert status == 400
    assert request.errors == [
        "multipart: required part 'files' is missing",
        "multipart: part 'file' is not declared",
    ]


@pytest.mark.anyio
async def test_fake_tells_the_chat_twins_apart_by_accept(fake: FakeGleanServer) -> None:
    body = {"messages": [{"fragments": [{"text": "hi"}]}]}
    for accept, name in [
        ("text/plain", "client.chat.create_stream"),
        ("*/*", "client.chat.create"),
    ]:
        headers = {**BEARER, "Accept": accept}
        status, request = await raw_post(fake, "/rest/api/v1/chat", headers=headers, json=body)
        assert (status, request.name, request.errors) == (200, name, [])


def test_fake_notes_the_spec_examples_it_cannot_use(fake: FakeGleanServer) -> None:
    fake.success_body("client.chat.create")
    assert any("'streamingExample' is not valid" in note for note in fake.spec.example_notes)
    assert fake.request_example("client.search.query") is None  # lacks facetBucketSize


# -- flattened keyword arguments ------------------------------------------------------------


@pytest.mark.anyio
async def test_search_with_flattened_arguments(
    fake: FakeGleanServer, calls: OperationCalls, glean: glean_async.Glean
) -> None:
    before = len(fake.requests)
    result = await glean.client.search.query(
        query="vacation policy",
        page_size=10,
        request_options={
            "facet_bucket_size": 5,
            "facet_filters": [
                {
                    "field_name": "type",
                    "values": [{"value": "article", "relation_type": "EQUALS"}],
                }
            ],
        },
    )
    request = calls.the_request(before, OPERATIONS["client.search.query"])
    assert request.body == {
        "query": "vacation policy",
        "pageSize": 10,
        "requestOptions": {
            "facetBucketSize": 5,
            "facetFilters": [
                {"fieldName": "type", "values": [{"value": "article", "relationType": "EQUALS"}]}
            ],
        },
    }
    assert isinstance(result, models.SearchResponse)


@pytest.mark.anyio
async def test_index_documents_with_flattened_arguments(
    fake: FakeGleanServer, calls: OperationCalls, glean: glean_async.Glean
) -> None:
    before = len(fake.requests)
    document = models.DocumentDefinition(
        datasource="wiki",
        object_type="Page",
        id="page-1",
        title="On-call runbook",
        view_url="https://wiki.example.com/page-1",
        body=models.ContentDefinition(mime_type="text/plain", text_content="Restart it."),
        permissions=models.DocumentPermissionsDefinition(allow_anonymous_access=True),
        updated_at=1700000000,
    )
    await glean.indexing.documents.index(datasource="wiki", documents=[document], upload_id="u-1")
    request = calls.the_request(before, OPERATIONS["indexing.documents.index"])
    assert request.body == {
        "uploadId": "u-1",
        "datasource": "wiki",
        "documents": [
            {
                "datasource": "wiki",
                "objectType": "Page",
                "id": "page-1",
                "title": "On-call runbook",
                "viewURL": "https://wiki.example.com/page-1",
                "body": {"mimeType": "text/plain", "textContent": "Restart it."},
                "permissions": {"allowAnonymousAccess": True},
                "updatedAt": 1700000000,
            }
        ],
    }


def test_activity_report_with_flattened_arguments(
    fake: FakeGleanServer, calls: OperationCalls, sync_glean: glean_async.sync.Glean
) -> None:
    before = len(fake.requests)
    when = datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.timezone.utc)
    result = sync_glean.client.activity.report(
        events=[
            {"action": "VIEW", "timestamp": when, "url": "https://example.com/doc"},
            {"action": "SEARCH", "timestamp": "2024-05-01T09:31:00Z", "url": "https://x.io/s"},
        ]
    )
    assert result is None
    request = calls.the_request(before, OPERATIONS["client.activity.report"])
    events = request.body["events"]
    assert [(e["action"], e["url"]) for e in events] == [
        ("VIEW", "https://example.com/doc"),
        ("SEARCH", "https://x.io/s"),
    ]
    stamps = [
        datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in events
    ]
    assert stamps == [when, when.replace(minute=31)]


# -- errors ---------------------------------------------------------------------------------

NO_RETRIES = RetryConfig("none")


def assert_token_hidden(error: BaseException) -> None:
    for text in (str(error), repr(error), *map(str, error.args)):
        assert TOKEN not in text


@pytest.mark.anyio
async def test_search_422_raises_glean_data_error(
    fake: FakeGleanServer, glean: glean_async.Glean
) -> None:
    body = {"badGmailToken": True, "errorMessages": [{"source": "gmail", "errorMessage": "bad"}]}
    fake.fail_next("search", status=422, body=body)
    with pytest.raises(errors.GleanDataError) as caught:
        await glean.client.search.query(query="q", retries=NO_RETRIES)
    error = caught.value
    assert error.status_code == 422 and isinstance(error.data, models.ErrorInfo)
    assert error.data.bad_gmail_token is True
    assert error.data.error_messages[0].error_message == "bad"  # type: ignore[index]
    assert json.loads(error.body) == body
    assert_token_hidden(error)


@pytest.mark.anyio
async def test_collections_422_raises_collection_error(
    fake: FakeGleanServer, glean: glean_async.Glean
) -> None:
    fake.fail_next("client.collections.create", status=422, body={"errorCode": "NAME_EXISTS"})
    with pytest.raises(errors.CollectionError) as caught:
        await glean.client.collections.create(name="Runbooks", retries=NO_RETRIES)
    assert caught.value.status_code == 422
    assert caught.value.data == models.CollectionError(
        error_code=models.CollectionErrorErrorCode.NAME_EXISTS
    )
    assert_token_hidden(caught.value)


@pytest.mark.anyio
async def test_500_raises_glean_error_once_retries_are_off(
    fake: FakeGleanServer, glean: glean_async.Glean
) -> None:
    fake.fail_next("client.chat.list", status=500, body="upstream exploded")
    before = len(fake.requests)
    with pytest.raises(errors.GleanError) as caught:
        await glean.client.chat.list(retries=NO_RETRIES)
    assert type(caught.value) is errors.GleanError
    assert (caught.value.status_code, caught.value.body) == (500, "upstream exploded")
    assert len(fake.requests) == before + 1
    assert_token_hidden(caught.value)


@pytest.mark.anyio
async def test_500s_are_retried_until_success(
    fake: FakeGleanServer, glean: glean_async.Glean
) -> None:
    fast = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 2000), False)
    fake.fail_next("client.chat.list", status=503, times=2)
    before = len(fake.requests)
    result = await glean.client.chat.list(retries=fast)
    assert isinstance(result, models.ListChatsResponse)
    assert [r.name for r in fake.requests[before:]] == ["client.chat.list"] * 3


def test_401_raises_glean_error_with_the_raw_body(
    fake: FakeGleanServer, sync_glean: glean_async.sync.Glean
) -> None:
    fake.fail_next("client.search.query", status=401, body="Not Authorized: token expired")
    with pytest.raises(errors.GleanError) as caught:
        sync_glean.client.search.query(query="q", retries=NO_RETRIES)
    assert type(caught.value) is errors.GleanError
    assert caught.value.status_code == 401
    assert caught.value.body == "Not Authorized: token expired"
    assert_token_hidden(caught.value)


@pytest.mark.anyio
async def test_a_fake_of_its_own_as_an_async_context_manager() -> None:
    async with (
        FakeGleanServer() as own,
        glean_async.Glean(api_token=TOKEN, server_url=own.url) as g,
    ):
        own.fail_next("client.answers.list", status=403, body={"errorMessages": []})
        with pytest.raises(errors.GleanError) as caught:
            await g.client.answers.list(retries=NO_RETRIES)
        assert caught.value.status_code == 403
        assert isinstance(await g.client.answers.list(), models.ListAnswersResponse)
        assert [r.valid for r in own.requests] == [True, True]
    assert "not running" in repr(own)
