"""Every Glean operation through the async client and the sync facade, against the fake.

The fake (tests/glean_fake.py) is built from the spec at run time and validates each
request with openapi-core, so "the request passed validation" means the SDK sent what the
spec allows. Arguments come from the operation descriptors and the spec: every declared
parameter with a valid value, and the body from the spec's request example when it is
valid, else synthesized from the schema's required fields, structured into the body
model and passed as ``request=``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

import glean_async
import glean_async.sync
from glean_async import converter, errors, models
from glean_async._generated import operations
from glean_async.utils import BackoffStrategy, RetryConfig, ServerSentEvent
from shared.operation import Operation, Response
from tests.glean_fake import FakeGlean, RecordedRequest, mime

TOKEN = "glean-fake-token-7Qx2"
OPERATIONS: dict[str, Operation] = {
    op.name: op for op in vars(operations).values() if isinstance(op, Operation)
}
UPLOAD = ("notes.txt", b"meeting notes", "text/plain")

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


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGlean]:
    with FakeGlean.in_thread() as server:
        yield server


@pytest.fixture
async def glean(fake: FakeGlean) -> AsyncIterator[glean_async.Glean]:
    async with glean_async.Glean(api_token=TOKEN, server_url=fake.url) as client:
        yield client


@pytest.fixture(scope="module")
def sync_glean(fake: FakeGlean) -> Iterator[glean_async.sync.Glean]:
    with glean_async.sync.Glean(api_token=TOKEN, server_url=fake.url) as client:
        yield client


# -- building a call --------------------------------------------------------------------


def method(client: Any, name: str) -> Any:
    """``client.search.query`` from ``"client.search.query"``."""
    for part in name.split("."):
        client = getattr(client, part)
    return client


def param_value(fake: FakeGlean, schema: Any) -> Any:
    """A valid parameter value; arrays get two items so their serialization shows."""
    resolved = fake.spec.resolve(schema)
    if resolved.get("type") == "array":
        item = fake.spec.synthesize(resolved.get("items") or {})
        return [item, item]
    return fake.spec.synthesize(resolved)


def call_arguments(fake: FakeGlean, op: Operation) -> dict[str, Any]:
    """Every declared parameter with a valid value, and the body as ``request=``."""
    py_names = {(p.name, p.location): p.py_name for p in op.params}
    arguments: dict[str, Any] = {}
    for param in fake.parameters(fake.operation(op.name)):
        py_name = py_names.get((param["name"], param["in"]))
        assert py_name, f"{op.name}: no argument for the {param['in']} parameter {param['name']}"
        arguments[py_name] = param_value(fake, param["schema"])
    if op.body is not None:
        arguments["request"] = request_body(fake, op)
    return arguments


def request_body(fake: FakeGlean, op: Operation) -> Any:
    """The body model: from the spec's example, else synthesized; files for multipart."""
    assert op.body is not None
    if op.body.kind == "multipart":
        return op.body.type(**{py_name: [UPLOAD] for py_name in op.body.file_fields})
    wire = fake.request_example(op.name)
    if wire is None:
        wire = fake.spec.synthesize(fake.request_schema(op.name))
    return converter.structure(wire, op.body.type)


def spec_params(fake: FakeGlean, op: Operation, arguments: dict[str, Any]) -> list[Any]:
    """``(parameter object, value given)`` for each spec parameter of the call."""
    py_names = {(p.name, p.location): p.py_name for p in op.params}
    return [
        (param, arguments[py_names[(param["name"], param["in"])]])
        for param in fake.parameters(fake.operation(op.name))
    ]


def wire_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def expected_query(fake: FakeGlean, op: Operation, arguments: dict[str, Any]) -> list[Any]:
    """The query pairs the spec prescribes (style ``form``; ``explode`` true by default)."""
    pairs: list[tuple[str, str]] = []
    for param, value in spec_params(fake, op, arguments):
        if param["in"] != "query":
            continue
        assert param.get("style", "form") == "form"
        if isinstance(value, list) and param.get("explode", True):
            pairs += [(param["name"], wire_text(item)) for item in value]
        elif isinstance(value, list):
            pairs.append((param["name"], ",".join(wire_text(item) for item in value)))
        else:
            pairs.append((param["name"], wire_text(value)))
    return sorted(pairs)


def expected_path(fake: FakeGlean, op: Operation, arguments: dict[str, Any]) -> str:
    values = {p["name"]: v for p, v in spec_params(fake, op, arguments) if p["in"] == "path"}
    return fake.operation(op.name).route.format(**values)


# -- checking a call --------------------------------------------------------------------


def success_response(fake: FakeGlean, op: Operation) -> Response:
    response = op.response_for(fake.operation(op.name).status)
    assert response is not None, f"{op.name}: no declared response for the fake's status"
    return response


def the_request(fake: FakeGlean, before: int, op: Operation) -> RecordedRequest:
    """The one request a call made, checked: it reached the fake and passed validation."""
    new = fake.requests[before:]
    assert [r.name for r in new] == [op.name]
    request = new[0]
    assert request.valid, "\n".join(request.errors)
    assert request.bearer_token == TOKEN
    return request


def check_request(fake: FakeGlean, before: int, op: Operation, arguments: dict[str, Any]) -> None:
    request = the_request(fake, before, op)
    assert request.path == expected_path(fake, op, arguments)
    assert sorted(request.query) == expected_query(fake, op, arguments)
    if op.body is not None and op.body.kind == "multipart":
        assert request.body == {wire: [UPLOAD[1]] for wire in op.body.file_fields.values()}
    elif op.body is not None:
        assert request.body == converter.unstructure(arguments["request"])


def check_result(fake: FakeGlean, op: Operation, result: Any) -> None:
    """The result has the success type and holds what the fake sent (declared fields)."""
    content_type = mime(fake.operation(op.name).content_type)
    sent = fake.success_body(op.name)
    if not content_type:
        assert result is None
    elif content_type.startswith("text/"):
        assert isinstance(result, str) and result == sent
    else:
        response = success_response(fake, op)
        assert response.kind == "json"
        assert isinstance(response.type, type), f"success type {response.type!r} is no model"
        assert isinstance(result, response.type)
        declared = fake.spec.declared_only(sent, fake.response_schema(op.name))
        assert converter.unstructure(result) == declared


def check_stream_items(fake: FakeGlean, op: Operation, items: list[Any]) -> None:
    response = success_response(fake, op)
    sent = fake.success_body(op.name)
    if response.kind == "ndjson":
        assert items and all(isinstance(item, response.type) for item in items)
        schema = fake.response_schema(op.name)
        assert [converter.unstructure(i) for i in items] == [
            fake.spec.declared_only(line, schema) for line in sent
        ]
    else:
        assert response.kind == "sse"
        assert all(isinstance(event, ServerSentEvent) for event in items)
        assert [(e.id, e.event, json.loads(e.data)) for e in items] == [
            (str(index), "message", data) for index, data in enumerate(sent, start=1)
        ]


@contextlib.contextmanager
def deprecation_checked(fake: FakeGlean, op: Operation) -> Iterator[None]:
    """Deprecated operations warn with their name; the others do not warn."""
    assert op.deprecated == fake.operation(op.name).deprecated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    ours = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [op.name in str(w.message) for w in ours] == ([True] if op.deprecated else [])


# -- every operation ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("name", every_operation())
async def test_async_client(fake: FakeGlean, glean: glean_async.Glean, name: str) -> None:
    op = OPERATIONS[name]
    arguments = call_arguments(fake, op)
    before = len(fake.requests)
    with deprecation_checked(fake, op):
        result = await method(glean, name)(**arguments)
        if op.streaming:
            async with result as stream:
                items = [item async for item in stream]
    check_request(fake, before, op, arguments)
    if op.streaming:
        check_stream_items(fake, op, items)
    else:
        check_result(fake, op, result)


@pytest.mark.parametrize("name", every_operation())
def test_sync_facade(fake: FakeGlean, sync_glean: glean_async.sync.Glean, name: str) -> None:
    op = OPERATIONS[name]
    arguments = call_arguments(fake, op)
    before = len(fake.requests)
    with deprecation_checked(fake, op):
        result = method(sync_glean, name)(**arguments)
        if op.streaming:
            with result as stream:
                items = list(stream)
    check_request(fake, before, op, arguments)
    if op.streaming:
        check_stream_items(fake, op, items)
    else:
        check_result(fake, op, result)


def test_fake_serves_exactly_the_sdk_operations(fake: FakeGlean) -> None:
    assert len(OPERATIONS) == 109
    assert set(fake.operations) == set(OPERATIONS)
    for name, op in OPERATIONS.items():
        spec_op = fake.operation(name)
        assert (op.method, op.path) == (spec_op.method, spec_op.route)


def test_fake_relaxes_only_the_required_names_nobody_declares(fake: FakeGlean) -> None:
    relaxed = {
        where.rsplit("/", 1)[1]: names for where, names in fake.spec.relaxed_required.items()
    }
    assert relaxed == UNDECLARED_REQUIRED


# -- the fake rejects what the spec does not allow -----------------------------------------


async def raw_post(fake: FakeGlean, path: str, **kwargs: Any) -> tuple[int, RecordedRequest]:
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
    fake: FakeGlean, headers: dict[str, str], body: Any, problem: str
) -> None:
    status, request = await raw_post(fake, "/rest/api/v1/search", headers=headers, json=body)
    assert status == 400 and request.name == "client.search.query"
    assert any(problem in error for error in request.errors), request.errors


@pytest.mark.anyio
async def test_fake_rejects_bad_params_paths_and_multipart_parts(fake: FakeGlean) -> None:
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
async def test_fake_tells_the_chat_twins_apart_by_accept(fake: FakeGlean) -> None:
    body = {"messages": [{"fragments": [{"text": "hi"}]}]}
    for accept, name in [
        ("text/plain", "client.chat.create_stream"),
        ("*/*", "client.chat.create"),
    ]:
        headers = {**BEARER, "Accept": accept}
        status, request = await raw_post(fake, "/rest/api/v1/chat", headers=headers, json=body)
        assert (status, request.name, request.errors) == (200, name, [])


def test_fake_notes_the_spec_examples_it_cannot_use(fake: FakeGlean) -> None:
    fake.success_body("client.chat.create")
    assert any("'streamingExample' is not valid" in note for note in fake.spec.example_notes)
    assert fake.request_example("client.search.query") is None  # lacks facetBucketSize


# -- flattened keyword arguments ------------------------------------------------------------


@pytest.mark.anyio
async def test_search_with_flattened_arguments(fake: FakeGlean, glean: glean_async.Glean) -> None:
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
    request = the_request(fake, before, OPERATIONS["client.search.query"])
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
    fake: FakeGlean, glean: glean_async.Glean
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
    request = the_request(fake, before, OPERATIONS["indexing.documents.index"])
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
    fake: FakeGlean, sync_glean: glean_async.sync.Glean
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
    request = the_request(fake, before, OPERATIONS["client.activity.report"])
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
    fake: FakeGlean, glean: glean_async.Glean
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
    fake: FakeGlean, glean: glean_async.Glean
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
    fake: FakeGlean, glean: glean_async.Glean
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
async def test_500s_are_retried_until_success(fake: FakeGlean, glean: glean_async.Glean) -> None:
    fast = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 2000), False)
    fake.fail_next("client.chat.list", status=503, times=2)
    before = len(fake.requests)
    result = await glean.client.chat.list(retries=fast)
    assert isinstance(result, models.ListChatsResponse)
    assert [r.name for r in fake.requests[before:]] == ["client.chat.list"] * 3


def test_401_raises_glean_error_with_the_raw_body(
    fake: FakeGlean, sync_glean: glean_async.sync.Glean
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
    async with FakeGlean() as own, glean_async.Glean(api_token=TOKEN, server_url=own.url) as g:
        own.fail_next("client.answers.list", status=403, body={"errorMessages": []})
        with pytest.raises(errors.GleanError) as caught:
            await g.client.answers.list(retries=NO_RETRIES)
        assert caught.value.status_code == 403
        assert isinstance(await g.client.answers.list(), models.ListAnswersResponse)
        assert [r.valid for r in own.requests] == [True, True]
    assert "not running" in repr(own)
