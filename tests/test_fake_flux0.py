"""The fake flux0 server against the spec and the recorded real streams, over real HTTP."""

from __future__ import annotations

import datetime
import json
import re
import string
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp.test_utils import TestServer

import flux0_async.testing as fake
from flux0_async.testing import AGENT_TYPES, FakeFlux0Server, create_app
from flux0_async.testing import validation as embedded
from tests.data import FLUX0_FIXTURES, SPECS

pytestmark = pytest.mark.anyio

SPEC_PATH = SPECS / "flux0.json"
FIXTURES = FLUX0_FIXTURES
REPO_ROOT = Path(fake.__file__).resolve().parents[2]
FIXTURE_CONTENT = "hello flux0 world"
# The recorded echo_fail/echo_crash streams stop after "Echo" and ": pa".
PARTIAL_CONTENT = "pass the salt"
ID_KEYS = {"id", "event_id", "correlation_id", "agent_id", "tool_call_id"}
ID_CHARS = set(string.ascii_letters + string.digits)

Frame = tuple[str, str | None, dict[str, Any]]


# --- helpers --------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[FakeFlux0Server]:
    async with FakeFlux0Server() as running:
        yield running


@pytest.fixture
async def client(server: FakeFlux0Server) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(server.url) as session:
        yield session


async def create_agent(client: aiohttp.ClientSession, type: str = "echo") -> dict[str, Any]:
    async with client.post("/api/agents", json={"name": f"smoke-{type}", "type": type}) as r:
        assert r.status == 201
        body: dict[str, Any] = await r.json()
        return body


async def create_session(client: aiohttp.ClientSession, type: str = "echo") -> dict[str, Any]:
    agent = await create_agent(client, type)
    async with client.post("/api/sessions", json={"agent_id": agent["id"]}) as r:
        assert r.status == 201
        body: dict[str, Any] = await r.json()
        return body


def user_message(content: str) -> dict[str, Any]:
    return {"type": "message", "source": "user", "content": content}


async def stream(
    client: aiohttp.ClientSession, session_id: str, content: str = FIXTURE_CONTENT
) -> list[Frame]:
    url = f"/api/sessions/{session_id}/events/stream"
    async with client.post(url, json=user_message(content)) as r:
        assert r.status == 200
        assert r.content_type == "text/event-stream"
        return parse_sse(await r.text())


async def list_events(
    client: aiohttp.ClientSession, session_id: str, **kwargs: Any
) -> list[dict[str, Any]]:
    async with client.get(f"/api/sessions/{session_id}/events", **kwargs) as r:
        assert r.status == 200
        events: list[dict[str, Any]] = (await r.json())["data"]
        return events


def parse_sse(text: str) -> list[Frame]:
    """Frames of a flux0 stream: ``event:``, optional ``id:``, one ``data:`` line each."""
    assert text == "" or text.endswith("\n\n")
    frames: list[Frame] = []
    for block in text.split("\n\n")[:-1]:
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) <= {"event", "id", "data"}
        frames.append((fields["event"], fields.get("id"), json.loads(fields["data"])))
    return frames


def joined_text(frames: list[Frame], event_id: str) -> str:
    chunks = sorted(
        (data for name, _, data in frames if name == "chunk" and data["event_id"] == event_id),
        key=lambda data: data["seq"],
    )
    return "".join(
        patch["value"]
        for data in chunks
        for patch in data["patches"]
        if patch["op"] == "add" and patch["path"] == "/-"
    )


def text_event_ids(frames: list[Frame]) -> list[str]:
    ids: list[str] = []
    for name, _, data in frames:
        if name == "chunk" and data["patches"][0]["path"] == "/-" and data["event_id"] not in ids:
            ids.append(data["event_id"])
    return ids


def normalize(frames: list[Frame]) -> list[Frame]:
    """Frames with ids replaced by labels in order of appearance and timestamps zeroed."""
    labels: dict[str, str] = {}

    def label(value: str) -> str:
        return labels.setdefault(value, f"<id{len(labels)}>")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: label(item) if key in ID_KEYS and isinstance(item, str) else walk(item)
                for key, item in value.items()
                if key != "timestamp"
            }
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return [(name, label(id_) if id_ else None, walk(data)) for name, id_, data in frames]


def is_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 10 and set(value) <= ID_CHARS


def is_utc_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    parsed = datetime.datetime.fromisoformat(value[:-1] + "+00:00")
    return parsed.utcoffset() == datetime.timedelta(0)


async def expect_422(response: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    assert response.status == 422
    detail: list[dict[str, Any]] = (await response.json())["detail"]
    assert isinstance(detail, list) and detail
    for entry in detail:
        assert list(entry)[:4] == ["type", "loc", "msg", "input"]
    return detail


async def expect_detail(response: aiohttp.ClientResponse, status: int) -> str:
    assert response.status == status
    detail = (await response.json())["detail"]
    assert isinstance(detail, str)
    return detail


async def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


# --- a small JSON Schema checker for the spec's response schemas ----------------------


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return spec


def schema_errors(spec: dict[str, Any], schema: dict[str, Any], value: Any, at: str) -> list[str]:
    """Where ``value`` breaks ``schema`` (the subset of JSON Schema flux0.json uses)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return schema_errors(spec, spec["components"]["schemas"][name], value, at)
    if "anyOf" in schema or "oneOf" in schema:
        branches = schema.get("anyOf") or schema["oneOf"]
        passing = [b for b in branches if not schema_errors(spec, b, value, at)]
        wanted_one = "oneOf" in schema
        ok = len(passing) == 1 if wanted_one else bool(passing)
        return [] if ok else [f"{at}: {len(passing)} branches of {len(branches)} match"]
    if "const" in schema and value != schema["const"]:
        return [f"{at}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not in {schema['enum']}"]
    return type_errors(spec, schema, value, at)


def type_errors(spec: dict[str, Any], schema: dict[str, Any], value: Any, at: str) -> list[str]:
    kinds: dict[str, type | tuple[type, ...]] = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
        "integer": int,
        "number": (int, float),
    }
    kind = schema.get("type")
    if kind is None:
        return []
    is_bool_for_number = kind in ("integer", "number") and isinstance(value, bool)
    right_type = isinstance(value, kinds[kind])
    if not right_type or is_bool_for_number:
        return [f"{at}: {value!r} is not {kind}"]
    if kind == "object":
        return object_errors(spec, schema, value, at)
    if kind == "array":
        item_schema = schema.get("items", {})
        return [e for i, v in enumerate(value) for e in schema_errors(spec, item_schema, v, at)]
    if kind == "integer" and value < schema.get("minimum", value):
        return [f"{at}: {value} below minimum"]
    if kind == "string" and schema.get("format") == "date-time" and not is_utc_timestamp(value):
        return [f"{at}: {value!r} is not a UTC date-time"]
    if kind == "string" and not schema.get("minLength", 0) <= len(value):
        return [f"{at}: {value!r} too short"]
    if kind == "string" and len(value) > schema.get("maxLength", len(value)):
        return [f"{at}: {value!r} too long"]
    return []


def object_errors(spec: dict[str, Any], schema: dict[str, Any], value: Any, at: str) -> list[str]:
    errors = [f"{at}: missing {name}" for name in schema.get("required", []) if name not in value]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(spec, properties[name], item, f"{at}.{name}")
        elif extra is False:
            errors.append(f"{at}: unexpected {name}")
        elif isinstance(extra, dict):
            errors += schema_errors(spec, extra, item, f"{at}.{name}")
    return errors


def response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    content = spec["paths"][path][method]["responses"][str(status)]["content"]
    return content["application/json"]["schema"]


def assert_matches(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    assert schema_errors(spec, schema, value, "$") == []


def strip_prose(spec: dict[str, Any], schema: Any) -> Any:
    """A schema with ``$ref`` resolved and only the validation keywords kept."""
    keep = {"type", "properties", "required", "additionalProperties", "anyOf", "items"}
    keep |= {"enum", "minLength", "maxLength"}
    if isinstance(schema, list):
        return [strip_prose(spec, item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return strip_prose(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/")[-1]])
    stripped = {k: strip_prose(spec, v) for k, v in schema.items() if k in keep}
    if "properties" in schema:
        stripped["properties"] = {
            name: strip_prose(spec, item) for name, item in schema["properties"].items()
        }
    return stripped


# --- agents ---------------------------------------------------------------------------


async def test_agents_create_list_retrieve(client: aiohttp.ClientSession) -> None:
    body = {"name": "Drizzle", "type": "echo", "description": "Says it back"}
    async with client.post("/api/agents", json=body) as r:
        assert r.status == 201
        described = await r.json()
    async with client.post("/api/agents", json={"name": "Plain", "type": "echo_tool"}) as r:
        assert r.status == 201
        plain = await r.json()
    assert list(described) == ["id", "name", "type", "description", "created_at"]
    assert list(plain) == ["id", "name", "type", "created_at"]  # create omits null fields
    assert is_id(described["id"]) and is_utc_timestamp(described["created_at"])
    assert described["description"] == "Says it back"

    async with client.get("/api/agents") as r:
        listed = (await r.json())["data"]
    assert listed == [described, {**plain, "description": None}]
    async with client.get(f"/api/agents/{plain['id']}") as r:
        assert r.status == 200
        assert await r.json() == {**plain, "description": None}


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({"type": "echo"}, "missing", ["body", "name"]),
        ({"name": "", "type": "echo"}, "string_too_short", ["body", "name"]),
        ({"name": "x" * 101, "type": "echo"}, "string_too_long", ["body", "name"]),
        ({"name": 5, "type": "echo"}, "string_type", ["body", "name"]),
        ({"name": "a", "type": "echo", "colour": "red"}, "extra_forbidden", ["body", "colour"]),
        ({"name": "a", "type": "echo", "description": 1}, "string_type", ["body", "description"]),
        (["not", "an", "object"], "model_attributes_type", ["body"]),
    ],
)
async def test_create_agent_rejects_invalid_bodies(
    client: aiohttp.ClientSession, body: Any, error_type: str, loc: list[Any]
) -> None:
    async with client.post("/api/agents", json=body) as r:
        detail = await expect_422(r)
    assert [(e["type"], e["loc"]) for e in detail] == [(error_type, loc)]


async def test_create_agent_reports_length_limits_like_fastapi(
    client: aiohttp.ClientSession,
) -> None:
    async with client.post("/api/agents", json={"name": "", "type": "t" * 101}) as r:
        detail = await expect_422(r)
    assert detail == [
        {
            "type": "string_too_short",
            "loc": ["body", "name"],
            "msg": "String should have at least 1 character",
            "input": "",
            "ctx": {"min_length": 1},
        },
        {
            "type": "string_too_long",
            "loc": ["body", "type"],
            "msg": "String should have at most 100 characters",
            "input": "t" * 101,
            "ctx": {"max_length": 100},
        },
    ]


async def test_create_agent_without_body_or_with_bad_json(client: aiohttp.ClientSession) -> None:
    async with client.post("/api/agents") as r:
        assert await expect_422(r) == [
            {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}
        ]
    headers = {"Content-Type": "application/json"}
    async with client.post("/api/agents", data=b'{"name": ', headers=headers) as r:
        (entry,) = await expect_422(r)
    assert entry["type"] == "json_invalid" and entry["loc"] == ["body", 9]


async def test_unknown_agent_type_gives_a_plain_string_detail(
    client: aiohttp.ClientSession,
) -> None:
    async with client.post("/api/agents", json={"name": "W", "type": "weather"}) as r:
        assert await expect_detail(r, 422) == "Agent type 'weather' is not supported"


async def test_retrieve_agent_errors(client: aiohttp.ClientSession) -> None:
    async with client.get("/api/agents/abcdefghij") as r:
        assert await expect_detail(r, 404) == "Agent with ID abcdefghij not found"
    async with client.get("/api/agents/short") as r:
        assert await expect_422(r) == [
            {
                "type": "string_too_short",
                "loc": ["path", "agent_id"],
                "msg": "String should have at least 10 characters",
                "input": "short",
                "ctx": {"min_length": 10},
            }
        ]
    async with client.get("/api/agents/elevenchars") as r:
        assert [e["type"] for e in await expect_422(r)] == ["string_too_long"]


# --- sessions -------------------------------------------------------------------------


async def test_sessions_create_list_retrieve(client: aiohttp.ClientSession) -> None:
    echo, tool = await create_agent(client, "echo"), await create_agent(client, "echo_tool")
    async with client.post("/api/sessions", json={"agent_id": echo["id"]}) as r:
        assert r.status == 201
        untitled = await r.json()
    body = {"agent_id": tool["id"], "id": "MySession1", "title": "Reverse things"}
    async with client.post("/api/sessions", json=body, params={"allow_greeting": "false"}) as r:
        assert r.status == 201
        titled = await r.json()

    assert list(untitled) == ["id", "agent_id", "user_id", "consumption_offsets", "created_at"]
    assert is_id(untitled["id"]) and is_id(untitled["user_id"])
    assert untitled["consumption_offsets"] == {"client": 0}
    assert titled["id"] == "MySession1" and titled["title"] == "Reverse things"
    assert titled["user_id"] == untitled["user_id"]

    async with client.get("/api/sessions") as r:
        assert (await r.json())["data"] == [{**untitled, "title": None}, titled]
    async with client.get("/api/sessions", params={"agent_id": tool["id"]}) as r:
        assert (await r.json())["data"] == [titled]
    async with client.get("/api/sessions/MySession1") as r:
        assert r.status == 200
        assert await r.json() == titled


async def test_session_errors(client: aiohttp.ClientSession) -> None:
    async with client.post("/api/sessions", json={"agent_id": "abcdefghij"}) as r:
        assert await expect_detail(r, 400) == "Agent with ID abcdefghij not found"
    async with client.post("/api/sessions", json={"agent_id": "abc"}) as r:
        assert [e["loc"] for e in await expect_422(r)] == [["body", "agent_id"]]
    agent = await create_agent(client)
    body = {"agent_id": agent["id"], "title": "t" * 201}
    async with client.post("/api/sessions", json=body, params={"allow_greeting": "maybe"}) as r:
        detail = await expect_422(r)
    assert [(e["type"], e["loc"]) for e in detail] == [
        ("bool_parsing", ["query", "allow_greeting"]),
        ("string_too_long", ["body", "title"]),
    ]
    async with client.get("/api/sessions/abcdefghij") as r:
        assert await expect_detail(r, 404) == "Session with ID abcdefghij not found"
    async with client.get("/api/sessions/abc") as r:
        assert [e["loc"] for e in await expect_422(r)] == [["path", "session_id"]]


async def test_a_taken_session_id_is_accepted_and_the_first_session_keeps_it(
    client: aiohttp.ClientSession,
) -> None:
    # the real server does not check: both sessions are listed, the id finds the first
    first, second = await create_agent(client), await create_agent(client, "echo_tool")
    for agent in (first, second):
        async with client.post(
            "/api/sessions", json={"agent_id": agent["id"], "id": "SameIdHere"}
        ) as r:
            assert r.status == 201 and (await r.json())["agent_id"] == agent["id"]
    async with client.get("/api/sessions/SameIdHere") as r:
        assert (await r.json())["agent_id"] == first["id"]
    async with client.get("/api/sessions") as r:
        listed = (await r.json())["data"]
    assert [(s["id"], s["agent_id"]) for s in listed] == [
        ("SameIdHere", first["id"]),
        ("SameIdHere", second["id"]),
    ]


# --- streams --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent_type", "content"),
    [
        ("echo", FIXTURE_CONTENT),
        ("echo_think", FIXTURE_CONTENT),
        ("echo_tool", FIXTURE_CONTENT),
        ("echo_fail", PARTIAL_CONTENT),
    ],
)
async def test_stream_matches_the_recorded_real_stream(
    client: aiohttp.ClientSession, agent_type: str, content: str
) -> None:
    session = await create_session(client, agent_type)
    url = f"/api/sessions/{session['id']}/events/stream"
    async with client.post(url, json=user_message(content)) as r:
        raw = await r.text()
    recorded = (FIXTURES / f"{agent_type}.sse").read_text()
    assert normalize(parse_sse(raw)) == normalize(parse_sse(recorded))
    for name, _, data in parse_sse(raw):
        assert name == "status" or isinstance(data["timestamp"], float)


async def test_echo_stream_rebuilds_the_reply(client: aiohttp.ClientSession) -> None:
    session = await create_session(client, "echo")
    frames = await stream(client, session["id"], "Ünïcode, and a longer message!")
    assert [(name, data["data"]["status"]) for name, _, data in frames[:2]] == [
        ("status", "processing"),
        ("status", "typing"),
    ]
    (reply_id,) = text_event_ids(frames)
    assert joined_text(frames, reply_id) == "Echo: Ünïcode, and a longer message!"
    assert all(len(patch["value"]) <= 4 for _, _, d in frames[2:] for patch in d["patches"])
    status_ids = {id_ for name, id_, _ in frames if name == "status"}
    assert status_ids == {reply_id}
    correlation_ids = {data["correlation_id"] for _, _, data in frames}
    assert len(correlation_ids) == 1


async def test_echo_think_streams_reasoning_then_the_reply(
    client: aiohttp.ClientSession,
) -> None:
    session = await create_session(client, "echo_think")
    frames = await stream(client, session["id"], "why")
    reasoning_id, reply_id = text_event_ids(frames)
    assert joined_text(frames, reasoning_id) == "Thinking about: why"
    assert joined_text(frames, reply_id) == "Echo: why"
    kinds = {d["event_id"]: d["metadata"].get("kind") for n, _, d in frames if n == "chunk"}
    assert kinds == {reasoning_id: "reasoning", reply_id: None}


async def test_echo_tool_streams_a_tool_call_its_result_and_the_reply(
    client: aiohttp.ClientSession,
) -> None:
    session = await create_session(client, "echo_tool")
    frames = await stream(client, session["id"], "abc")
    chunks = [data for name, _, data in frames if name == "chunk"]
    args_text = "".join(
        p["value"] for c in chunks for p in c["patches"] if p["path"] == "/tool_calls/0/args/-"
    )
    assert json.loads(args_text) == {"text": "abc"}
    results = [
        p["value"] for c in chunks for p in c["patches"] if p["path"] == "/tool_call_results/-"
    ]
    assert results[0]["data"] == {"result": "cba"}
    (reply_id,) = text_event_ids(frames)
    assert joined_text(frames, reply_id) == "Tool said: cba"


async def test_echo_fail_ends_with_an_error_status(client: aiohttp.ClientSession) -> None:
    session = await create_session(client, "echo_fail")
    frames = await stream(client, session["id"], "boom")
    name, _, last = frames[-1]
    assert name == "status" and last["data"]["status"] == "error"
    assert last["data"]["data"] == {"error": "simulated failure", "agent_type": "echo_fail"}
    events = await list_events(client, session["id"])
    assert [(e["source"], e["type"]) for e in events] == [
        ("user", "message"),
        ("ai_agent", "status"),
        ("ai_agent", "status"),
        ("ai_agent", "status"),
    ]


async def test_echo_crash_leaves_the_stream_open_until_the_client_leaves(
    server: FakeFlux0Server, client: aiohttp.ClientSession
) -> None:
    session = await create_session(client, "echo_crash")
    url = f"/api/sessions/{session['id']}/events/stream"
    received = b""
    async with client.post(url, json=user_message(PARTIAL_CONTENT)) as r:
        with anyio.fail_after(5):
            while received.count(b"\n\n") < 4:
                received += await r.content.readany()
        with anyio.move_on_after(0.3) as waited:
            await r.content.readany()
        assert waited.cancelled_caught  # nothing more came, and the stream did not end
        assert server.state.open_streams == 1
    recorded = (FIXTURES / "echo_crash.sse").read_text()
    assert normalize(parse_sse(received.decode())) == normalize(parse_sse(recorded))
    await wait_for(lambda: server.state.open_streams == 0)
    events = await list_events(client, session["id"])
    assert [e["type"] for e in events] == ["message", "status", "status"]


async def test_closing_the_server_ends_a_crashed_stream() -> None:
    async with FakeFlux0Server() as server, aiohttp.ClientSession(server.url) as client:
        session = await create_session(client, "echo_crash")
        url = f"/api/sessions/{session['id']}/events/stream"
        response = await client.post(url, json=user_message("hi"))
        await wait_for(lambda: server.state.open_streams == 1)
        with anyio.fail_after(5):
            await server.close()
        assert server.state.open_streams == 0
        response.close()


async def test_a_client_leaving_mid_stream_stops_the_agent() -> None:
    async with FakeFlux0Server(chunk_delay=0.05) as server:
        async with aiohttp.ClientSession(server.url) as client:
            session = await create_session(client, "echo")
            url = f"/api/sessions/{session['id']}/events/stream"
            async with client.post(url, json=user_message("a long message")) as r:
                await r.content.readuntil(b"\n\n")
            await wait_for(lambda: server.state.open_streams == 0)
            events = await list_events(client, session["id"])
        assert "ai_agent" not in {e["source"] for e in events if e["type"] == "message"}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"type": "tool", "source": "user", "content": "x"}, "Only message events"),
        ({"type": "message", "source": "ai_agent", "content": "x"}, 'Only "user" source'),
        ({"type": "message", "source": "user"}, "Missing 'message' field"),
        ({"type": "message", "source": "user", "content": ""}, "Missing 'message' field"),
    ],
)
async def test_stream_rejects_unsupported_events_with_string_details(
    client: aiohttp.ClientSession, body: dict[str, Any], detail: str
) -> None:
    session = await create_session(client)
    async with client.post(f"/api/sessions/{session['id']}/events/stream", json=body) as r:
        assert (await expect_detail(r, 422)).startswith(detail)


async def test_stream_validation_and_missing_session(client: aiohttp.ClientSession) -> None:
    bad = {"type": "bogus", "source": "user", "content": "x", "extra": 1}
    async with client.post("/api/sessions/short/events/stream", json=bad) as r:
        detail = await expect_422(r)
    assert [(e["type"], e["loc"]) for e in detail] == [
        ("string_too_short", ["path", "session_id"]),
        ("enum", ["body", "type"]),
        ("extra_forbidden", ["body", "extra"]),
    ]
    assert detail[1]["msg"] == "Input should be 'message', 'tool', 'status' or 'custom'"
    assert detail[1]["ctx"] == {"expected": "'message', 'tool', 'status' or 'custom'"}
    url = "/api/sessions/abcdefghij/events/stream"
    async with client.post(url, json=user_message("hi")) as r:
        assert await expect_detail(r, 400) == "Session with ID abcdefghij not found"


# --- listing events -------------------------------------------------------------------


async def test_list_events_after_a_stream_shows_the_user_and_the_ai_message(
    server: FakeFlux0Server, client: aiohttp.ClientSession
) -> None:
    session = await create_session(client, "echo")
    frames = await stream(client, session["id"], "hi there")
    events = await list_events(client, session["id"])
    assert [(e["offset"], e["source"], e["type"]) for e in events] == [
        (0, "user", "message"),
        (1, "ai_agent", "status"),
        (2, "ai_agent", "status"),
        (3, "ai_agent", "message"),
    ]
    user, processing, _, reply = events
    assert list(user) == [
        "id",
        "correlation_id",
        "type",
        "source",
        "offset",
        "data",
        "deleted",
        "metadata",
        "created_at",
    ]
    assert user["data"]["parts"] == [{"type": "content", "content": "hi there"}]
    assert user["data"]["participant"]["id"] == session["user_id"]
    assert processing["data"] == {
        "type": "status",
        "status": "processing",
        "acknowledged_offset": 0,
        "data": {},
    }
    assert reply["data"] == {
        "type": "message",
        "tags": None,
        "flagged": None,
        "parts": [{"type": "content", "content": "Echo: hi there"}],
        "participant": {"id": session["agent_id"], "name": "smoke-echo"},
    }
    assert reply["metadata"] == {} and reply["deleted"] is False
    assert {e["correlation_id"] for e in events} == {frames[0][2]["correlation_id"]}
    assert all(is_id(e["id"]) and is_utc_timestamp(e["created_at"]) for e in events)
    assert server.state.events[session["id"]] == events


async def test_list_events_filters(client: aiohttp.ClientSession) -> None:
    session = await create_session(client, "echo")
    first = await stream(client, session["id"], "one")
    await stream(client, session["id"], "two")
    sid = session["id"]

    messages = await list_events(client, sid, json=["message"])
    assert [e["data"]["parts"][0]["content"] for e in messages] == [
        "one",
        "Echo: one",
        "two",
        "Echo: two",
    ]
    assert len(await list_events(client, sid, json=None)) == 8
    assert len(await list_events(client, sid, json=["status", "tool"])) == 4
    assert [e["offset"] for e in await list_events(client, sid, params={"min_offset": 6})] == [
        6,
        7,
    ]
    from_user = await list_events(client, sid, params={"source": "user"})
    assert [e["offset"] for e in from_user] == [0, 4]
    correlation_id = first[0][2]["correlation_id"]
    same_turn = await list_events(client, sid, params={"correlation_id": correlation_id})
    assert [e["offset"] for e in same_turn] == [0, 1, 2, 3]
    combined = await list_events(
        client, sid, params={"source": "ai_agent", "min_offset": "2"}, json=["message"]
    )
    assert [e["offset"] for e in combined] == [3, 7]


async def test_list_events_errors(client: aiohttp.ClientSession) -> None:
    async with client.get("/api/sessions/abcdefghij/events") as r:
        message = await expect_detail(r, 400)
    assert message == "Cannot list events for non-existent session with ID abcdefghij"
    session = await create_session(client)
    url = f"/api/sessions/{session['id']}/events"
    params = {"min_offset": "first", "source": "robot"}
    async with client.get(url, params=params, json=["message", "bogus"]) as r:
        detail = await expect_422(r)
    assert [(e["type"], e["loc"]) for e in detail] == [
        ("int_parsing", ["query", "min_offset"]),
        ("enum", ["query", "source"]),
        ("enum", ["body", 1]),
    ]
    async with client.get("/api/sessions/x/events", json="message") as r:
        detail = await expect_422(r)
    assert [(e["type"], e["loc"]) for e in detail] == [
        ("string_too_short", ["path", "session_id"]),
        ("list_type", ["body"]),
    ]


async def test_tool_turn_stores_the_call_the_result_and_the_reply(
    client: aiohttp.ClientSession,
) -> None:
    session = await create_session(client, "echo_tool")
    await stream(client, session["id"], "abc")
    events = await list_events(client, session["id"])
    assert [(e["type"], e["data"]["type"]) for e in events] == [
        ("message", "message"),
        ("status", "status"),
        ("message", "message"),
        ("tool", "tool_call_result"),
        ("status", "status"),
        ("message", "message"),
    ]
    (call,) = events[2]["data"]["parts"]
    assert call["type"] == "tool_call" and call["args"] == {"text": "abc"}
    (result,) = events[3]["data"]["tool_calls"]
    assert result["tool_call_id"] == call["tool_call_id"]
    assert result["result"] == {"data": "cba", "metadata": {}, "control": {"mode": "auto"}}
    assert events[-1]["data"]["parts"] == [{"type": "content", "content": "Tool said: cba"}]


# --- against the spec -----------------------------------------------------------------


async def test_responses_and_frames_match_the_spec_schemas(
    client: aiohttp.ClientSession,
) -> None:
    spec = load_spec()
    schemas = spec["components"]["schemas"]
    for agent_type in AGENT_TYPES:
        if agent_type == "echo_crash":
            continue
        session = await create_session(client, agent_type)
        for name, _, data in await stream(client, session["id"], "check me"):
            schema = schemas["ChunkEventDTO" if name == "chunk" else "EmittedEventDTO"]
            assert_matches(spec, schema, data)
        events_schema = response_schema(spec, "/api/sessions/{session_id}/events", "get", 200)
        async with client.get(f"/api/sessions/{session['id']}/events") as r:
            assert_matches(spec, events_schema, await r.json())

    agent = await create_agent(client)
    checks = [
        ("/api/agents", "get", 200, "/api/agents"),
        (f"/api/agents/{agent['id']}", "get", 200, "/api/agents/{agent_id}"),
        ("/api/sessions", "get", 200, "/api/sessions"),
    ]
    for url, method, status, path in checks:
        async with client.get(url) as r:
            assert r.status == status
            assert_matches(spec, response_schema(spec, path, method, status), await r.json())
    async with client.post("/api/sessions", json={"agent_id": agent["id"], "title": "T"}) as r:
        session = await r.json()
    assert_matches(spec, response_schema(spec, "/api/sessions", "post", 201), session)
    async with client.get("/api/agents/short") as r:
        schema = response_schema(spec, "/api/agents/{agent_id}", "get", 422)
        assert_matches(spec, schema, await r.json())


def test_embedded_request_schemas_match_the_spec() -> None:
    spec = load_spec()
    schemas = spec["components"]["schemas"]
    assert strip_prose(spec, schemas["AgentCreationParamsDTO"]) == embedded.AGENT_CREATION_PARAMS
    assert strip_prose(spec, schemas["SessionCreationParamsDTO"]) == (
        embedded.SESSION_CREATION_PARAMS
    )
    assert strip_prose(spec, schemas["EventCreationParamsDTO"]) == embedded.EVENT_CREATION_PARAMS
    list_events_op = spec["paths"]["/api/sessions/{session_id}/events"]["get"]
    types_body = list_events_op["requestBody"]["content"]["application/json"]["schema"]
    assert strip_prose(spec, types_body) == embedded.EVENT_TYPES_BODY

    query_schemas = {
        "allow_greeting": embedded.ALLOW_GREETING_QUERY,
        "agent_id": embedded.AGENT_ID_QUERY,
        "min_offset": embedded.MIN_OFFSET_QUERY,
        "source": embedded.SOURCE_QUERY,
        "correlation_id": embedded.CORRELATION_ID_QUERY,
    }
    for operations in spec["paths"].values():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                expected = embedded.ID_SCHEMA if param["in"] == "path" else None
                expected = expected or query_schemas[param["name"]]
                assert strip_prose(spec, param["schema"]) == expected, param["name"]


def test_every_spec_operation_has_a_route() -> None:
    spec = load_spec()
    app = create_app()
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    expected = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes == expected


async def test_unknown_routes_and_methods_answer_like_fastapi(
    client: aiohttp.ClientSession,
) -> None:
    async with client.get("/api/nothing") as r:
        assert await expect_detail(r, 404) == "Not Found"
    async with client.delete("/api/agents") as r:
        assert await expect_detail(r, 405) == "Method Not Allowed"


# --- ways of running it ---------------------------------------------------------------


async def test_create_app_runs_under_any_aiohttp_server() -> None:
    delay = 0.02
    async with TestServer(create_app(chunk_delay=delay)) as test_server:
        base = str(test_server.make_url("/"))
        async with aiohttp.ClientSession(base) as client:
            session = await create_session(client, "echo")
            started = anyio.current_time()
            frames = await stream(client, session["id"], "hi")
            elapsed = anyio.current_time() - started
    assert joined_text(frames, text_event_ids(frames)[0]) == "Echo: hi"
    assert elapsed >= delay * (len(frames) - 1) * 0.9  # the delay is a lower bound


async def test_state_can_be_seeded_and_inspected(
    server: FakeFlux0Server, client: aiohttp.ClientSession
) -> None:
    agent = server.state.add_agent(name="Seeded", type="echo")
    session = server.state.add_session(agent_id=agent["id"], title="Seeded session")
    async with client.get(f"/api/sessions/{session['id']}") as r:
        assert (await r.json())["title"] == "Seeded session"
    await stream(client, session["id"], "hi")
    assert server.state.events[session["id"]][-1]["data"]["parts"][0]["content"] == "Echo: hi"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    assert repr(server) == f"<FakeFlux0Server {server.url}>"


def test_in_thread_serves_blocking_code() -> None:
    with FakeFlux0Server.in_thread() as server:
        agent = post_json(f"{server.url}/api/agents", {"name": "Sync", "type": "echo"})
        session = post_json(f"{server.url}/api/sessions", {"agent_id": agent["id"]})
        url = f"{server.url}/api/sessions/{session['id']}/events/stream"
        request = urllib.request.Request(url, data=json.dumps(user_message("sync")).encode())
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            frames = parse_sse(response.read().decode())
        assert joined_text(frames, text_event_ids(frames)[0]) == "Echo: sync"
        assert len(server.state.events[session["id"]]) == 4
        url_while_running = server.url
    with pytest.raises(RuntimeError):
        _ = server.url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url_while_running}/api/agents", timeout=2)


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        result: dict[str, Any] = json.loads(response.read())
        return result


async def test_command_line_serves_until_terminated() -> None:
    command = [sys.executable, "-m", "flux0_async.testing", "--port", "0"]
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    async with await anyio.open_process(command, env=env) as process:
        assert process.stdout is not None
        output = b""
        with anyio.fail_after(15):
            while b"\n" not in output:
                output += await process.stdout.receive()
        match = re.search(r"http://127\.0\.0\.1:\d+", output.decode())
        assert match is not None, output
        url = f"{match.group(0)}/api/agents"
        async with aiohttp.ClientSession() as client, client.get(url) as r:
            assert r.status == 200
            assert await r.json() == {"data": []}
        process.terminate()
        with anyio.fail_after(10):
            assert await process.wait() == 0
