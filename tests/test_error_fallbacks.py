"""Error responses the spec leaves without a schema raise the typed error the same status
has elsewhere, when the body fits that model strictly; else the base error, raw body kept.

Generator rule on inline specs, then a package generated from one, called over HTTP
(async and sync), and the flux0 SDK against its fake server.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from flux0_async import Flux0, converter, errors, models
from flux0_async.sync import Flux0 as SyncFlux0
from shared.codegen import ir
from shared.codegen.build import build
from shared.retries import RetryConfig
from shared.testing import LocalAppServer
from tests.flux0_real.plugin import SERVER_KINDS
from tests.generated import generated_package

REF = "#/components/schemas/"
ENTRY = {
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
        "input": {},
    },
}
SCHEMAS: dict[str, Any] = {
    "HTTPValidationError": {
        "properties": {"detail": {"type": "array", "items": {"$ref": f"{REF}ValidationError"}}}
    },
    "ValidationError": ENTRY,
    "Problem": {"properties": {"title": {"type": "string"}}},
    "Thing": {"required": ["name"], "properties": {"name": {"type": "string"}}},
}


def json_of(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"{REF}{name}"}}}}


def answer(description: str = "", **content: Any) -> dict[str, Any]:
    return {"description": description, **content}


THING_BODY = {"required": True, **json_of("Thing")}
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Things", "version": "1"},
    "components": {"schemas": SCHEMAS},
    "paths": {
        "/things/{thing_id}": {
            "get": {
                "operationId": "getThing",
                "tags": ["things"],
                "parameters": [
                    {
                        "name": "thing_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": answer(**json_of("Thing")),
                    "404": answer(**json_of("Problem")),
                    "422": answer(**json_of("HTTPValidationError")),
                },
            }
        },
        "/things": {
            "post": {
                "operationId": "createThing",
                "tags": ["things"],
                "requestBody": THING_BODY,
                "responses": {
                    "201": answer(**json_of("Thing")),
                    "404": answer(),
                    "422": answer(),
                    "500": answer(),
                },
            },
            "put": {
                "operationId": "replaceThing",
                "tags": ["things"],
                "requestBody": THING_BODY,
                "responses": {"200": answer(), "422": answer(content={"application/json": {}})},
            },
        },
    },
}


def responses(api: ir.API, name: str) -> dict[str, ir.Response]:
    op = next(op for op in api.operations if op.name == name)
    return {r.status: r for r in op.responses}


# ---- the generator rule -----------------------------------------------------------------


def test_schema_less_error_responses_get_the_models_of_their_status() -> None:
    api = build(copy.deepcopy(SPEC))
    create = responses(api, "create_thing")
    assert create["422"].fallback == [ir.Named("HTTPValidationError")]
    assert create["404"].fallback == [ir.Named("Problem")]
    assert create["500"].fallback == []  # no operation declares a 500 body
    # JSON content without a schema counts as schema-less too
    assert responses(api, "replace_thing")["422"].fallback == [ir.Named("HTTPValidationError")]
    # declared responses keep their own type and get no fallback
    assert all(not r.fallback for r in responses(api, "get_thing").values())
    warned = [w for w in api.warnings if "has no schema" in w]
    # one warning per status and fallback, naming every operation it applies to
    assert len(warned) == 2
    (on_422,) = [w for w in warned if w.startswith("HTTP 422")]
    assert "2 operation(s) (things.replace_thing, things.create_thing)" in on_422
    assert "HTTPValidationError" in on_422
    assert any(w.startswith("HTTP 404") and "Problem" in w for w in warned)


def test_success_statuses_never_get_a_fallback() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/things"]["put"]["responses"]["200"] = answer()
    spec["paths"]["/things"]["post"]["responses"]["200"] = answer(**json_of("Problem"))
    api = build(spec)
    assert responses(api, "replace_thing")["200"].fallback == []


def test_every_model_declared_for_a_status_is_a_fallback_in_spec_order() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/other"] = {
        "get": {
            "operationId": "other",
            "tags": ["things"],
            "responses": {"200": answer(), "422": answer(**json_of("Problem"))},
        }
    }
    create = responses(build(spec), "create_thing")
    assert create["422"].fallback == [ir.Named("HTTPValidationError"), ir.Named("Problem")]


def test_default_and_pattern_statuses_share_by_their_own_key() -> None:
    spec = copy.deepcopy(SPEC)
    paths = spec["paths"]
    paths["/things/{thing_id}"]["get"]["responses"]["default"] = answer(**json_of("Problem"))
    paths["/things/{thing_id}"]["get"]["responses"]["5XX"] = answer(**json_of("Problem"))
    paths["/things"]["post"]["responses"].update({"default": answer(), "5xx": answer()})
    create = responses(build(spec), "create_thing")
    assert create["default"].fallback == [ir.Named("Problem")]
    assert create["5xx"].fallback == [ir.Named("Problem")]


# ---- a generated package over HTTP --------------------------------------------------------

NO_RETRIES = RetryConfig("none")  # a 500 is retried by default
FITS = {"detail": [{"loc": ["body", "name"], "msg": "too long", "type": "string_too_long"}]}


class ScriptedServer(LocalAppServer):
    """Answers ``POST /things`` with the status and body the test scripted."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_post("/things", self._answer)
        super().__init__(app)
        self.status = 422
        self.body = b"{}"
        self.content_type = "application/json"

    def script(self, status: int, body: Any, content_type: str = "application/json") -> None:
        self.status, self.content_type = status, content_type
        self.body = body.encode() if isinstance(body, str) else json.dumps(body).encode()

    async def _answer(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=self.status, body=self.body, content_type=self.content_type)


@pytest.fixture(scope="module")
def things(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("things")
    with generated_package(copy.deepcopy(SPEC), "things_fallback", "Things", out) as package:
        yield package


@pytest.fixture(scope="module")
def thread_server() -> Iterator[ScriptedServer]:
    with ScriptedServer.in_thread() as scripted:
        yield scripted


def test_generated_descriptors_carry_the_fallbacks_and_docstrings_name_them(things: Any) -> None:
    from things_fallback._generated import (  # type: ignore[import-not-found]
        operations,
        resources_things,
        sync_resources_things,
    )

    by_status = {r.status: r for r in operations.THINGS_CREATE_THING.responses}
    assert by_status["422"].fallback_types == (things.models.HTTPValidationError,)
    assert by_status["404"].fallback_types == (things.models.Problem,)
    assert by_status["500"].fallback_types == ()
    assert all(not r.fallback_types for r in operations.THINGS_GET_THING.responses)
    for facade in (resources_things.Things, sync_resources_things.Things):
        doc = " ".join(facade.create_thing.__doc__.split())
        assert "HTTP 422 (no schema in the spec): an error whose ``data`` is" in doc


# status, body, exception class name in the generated errors module (None: the base error)
CASES = [
    (422, FITS, "HTTPValidationError"),
    (422, {"detail": []}, "HTTPValidationError"),
    (404, {"title": "gone"}, "ProblemError"),
    (422, {"detail": "plain string"}, None),  # FastAPI's own errors: detail is a string
    (422, {**FITS, "hint": "x"}, None),  # a key the model does not declare
    (422, {}, None),  # nothing to recognise it by
    (422, {"detail": [{"loc": ["body"], "msg": "m"}]}, None),  # required `type` missing
    (422, [FITS], None),
    (422, "not json", None),
    (500, FITS, None),  # no operation declares a 500 body
]


def sync_error(package: Any, server: ScriptedServer) -> Any:
    """What the sync facade's ``create_thing`` raised, as ``pytest.raises`` caught it."""
    client = package.sync.Things(server_url=server.url, retry_config=NO_RETRIES)
    with client, pytest.raises(package.errors.APIError) as caught:
        client.things.create_thing(name="x")
    return caught


def check_raised(package: Any, caught: Any, status: int, body: Any, expected: str | None) -> None:
    error = caught.value
    assert error.status_code == status
    raw = body if isinstance(body, str) else json.dumps(body)
    assert error.body == raw
    if expected is None:
        assert type(error) is package.errors.APIError
        return
    assert type(error) is getattr(package.errors, expected)
    assert package.converter.unstructure(error.data) == body


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "body", "expected"), CASES)
async def test_async_client_raises_typed_only_when_the_body_fits(
    things: Any, thread_server: ScriptedServer, status: int, body: Any, expected: str | None
) -> None:
    thread_server.script(status, body)
    client = things.Things(server_url=thread_server.url, retry_config=NO_RETRIES)
    async with client:
        with pytest.raises(things.errors.APIError) as caught:
            await client.things.create_thing(name="x")
    check_raised(things, caught, status, body, expected)


@pytest.mark.parametrize(("status", "body", "expected"), CASES)
def test_sync_facade_raises_typed_only_when_the_body_fits(
    things: Any, thread_server: ScriptedServer, status: int, body: Any, expected: str | None
) -> None:
    thread_server.script(status, body)
    caught = sync_error(things, thread_server)
    check_raised(things, caught, status, body, expected)


@pytest.mark.parametrize(
    ("content_type", "typed"),
    [("text/plain", False), ("text/html", False), ("application/problem+json", True)],
)
def test_only_a_json_content_type_is_read_as_a_fallback_model(
    things: Any, thread_server: ScriptedServer, content_type: str, typed: bool
) -> None:
    thread_server.script(422, json.dumps(FITS), content_type=content_type)
    caught = sync_error(things, thread_server)
    assert (type(caught.value) is things.errors.HTTPValidationError) is typed
    assert caught.value.body == json.dumps(FITS)


# hypothesis: entries that fit, and ways to spoil a body that fits
LOCS = st.lists(st.one_of(st.text(max_size=5), st.integers(-5, 5)), max_size=3)
ENTRIES = st.fixed_dictionaries(
    {"loc": LOCS, "msg": st.text(max_size=8), "type": st.text(max_size=8)},
    optional={"input": st.integers() | st.text(max_size=4)},
)
FITTING = st.fixed_dictionaries({"detail": st.lists(ENTRIES, max_size=3)})
UNDECLARED = st.text(min_size=1, max_size=6).filter(lambda key: key != "detail")


def spoiled(body: dict[str, Any], how: int, key: str, value: Any) -> Any:
    if how == 0:
        return {**body, key: value}  # an undeclared top-level key
    if how == 1:
        return {"detail": value if not isinstance(value, list) else {"x": value}}
    entries = [dict(e) for e in body["detail"]] or [{"loc": [], "msg": "", "type": ""}]
    del entries[0][["loc", "msg", "type"][how % 3]]  # a required key missing
    return {"detail": entries}


@given(
    body=FITTING,
    spoil=st.none() | st.integers(0, 4),
    key=UNDECLARED,
    value=st.integers() | st.text(max_size=4) | st.lists(st.integers(), max_size=2),
)
@settings(max_examples=60, deadline=None)
def test_typed_error_exactly_for_the_bodies_that_fit(
    things: Any,
    thread_server: ScriptedServer,
    body: dict[str, Any],
    spoil: int | None,
    key: str,
    value: Any,
) -> None:
    sent = body if spoil is None else spoiled(body, spoil, key, value)
    thread_server.script(422, sent)
    caught = sync_error(things, thread_server)
    check_raised(things, caught, 422, sent, "HTTPValidationError" if spoil is None else None)


# ---- flux0 against its fake server --------------------------------------------------------


@pytest.fixture(params=SERVER_KINDS)
def flux0_url(request: pytest.FixtureRequest) -> str:
    """The fake server's URL (the plugin's flux0_server), or the real server's."""
    name = "real_flux0_server" if request.param == "real" else "flux0_server"
    url: str = request.getfixturevalue(name).url
    return url


@pytest.mark.anyio
async def test_flux0_create_422s_are_typed_when_fastapi_validated(flux0_url: str) -> None:
    async with Flux0(server_url=flux0_url) as flux0:
        with pytest.raises(errors.HTTPValidationError) as on_agent:
            await flux0.agents.create(name="", type="echo")
        with pytest.raises(errors.HTTPValidationError) as on_session:
            await flux0.sessions.create(agent_id="short")
    assert on_agent.value.data.detail[0].loc == ["body", "name"]
    assert converter.unstructure(on_agent.value.data) == json.loads(on_agent.value.body)
    assert on_session.value.data.detail[0].loc == ["body", "agent_id"]


@pytest.mark.anyio
async def test_flux0_unknown_agent_type_is_the_base_error_with_the_raw_body(
    flux0_url: str,
) -> None:
    async with Flux0(server_url=flux0_url) as flux0:
        with pytest.raises(errors.APIError) as caught:
            await flux0.agents.create(name="x", type="no-such-type")
    assert type(caught.value) is errors.APIError and caught.value.status_code == 422
    assert json.loads(caught.value.body) == {"detail": "Agent type 'no-such-type' is not supported"}


def test_flux0_sync_facade_types_the_same_bodies(flux0_url: str) -> None:
    with SyncFlux0(server_url=flux0_url) as client:
        with pytest.raises(errors.HTTPValidationError) as typed:
            client.agents.create(name="", type="echo")
        with pytest.raises(errors.APIError) as plain:
            client.agents.create(name="x", type="no-such-type")
    assert isinstance(typed.value.data, models.HTTPValidationError)
    assert type(plain.value) is errors.APIError and "no-such-type" in plain.value.body
