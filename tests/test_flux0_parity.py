"""The fake flux0 server answers like the real one: same scenario, raw HTTP, both servers.

Each test drives one scenario with plain aiohttp against the fake and the real server
and compares what came back: status codes, content types, JSON bodies (error bodies
included), the SSE byte layout (field lines, their order, blank lines) and the events
stored afterwards. Ids, correlation ids and times differ between runs, so they are
replaced by placeholders numbered in order of first appearance that keep their shape
(``RID(X)::X``, ``call_X``); which values are equal is still compared.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import string
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from flux0_async.testing import FakeFlux0Server
from tests.flux0_real.process import RealFlux0Server

pytestmark = [pytest.mark.anyio, pytest.mark.flux0_real]

ID_KEYS = {"id", "event_id", "correlation_id", "agent_id", "user_id", "tool_call_id"}
TIME_KEYS = {"created_at"}
ID_TOKEN = re.compile(r"(?<![A-Za-z0-9-])[A-Za-z0-9][A-Za-z0-9-]{8}[A-Za-z0-9](?![A-Za-z0-9-])")
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
CONTENT = "hello flux0 world"
STREAM_TYPES = ["echo", "echo_think", "echo_tool", "echo_fail", "echo_long"]
CRASH_FRAMES = 4  # processing, typing and two chunks, then silence
READ_SECONDS = 10.0

Scenario = Callable[[aiohttp.ClientSession, "Normalizer"], Awaitable[list[Any]]]


class Normalizer:
    """Replaces ids and times by stable placeholders, per server."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def id(self, raw: str) -> str:
        if raw not in self.ids:
            shape = ID_TOKEN.sub("X", raw)
            self.ids[raw] = f"<id{len(self.ids)}:{shape}>"
        return self.ids[raw]

    def text(self, value: str) -> str:
        """A string with every id seen so far replaced (ids inside error messages)."""
        for raw, placeholder in self.ids.items():
            value = value.replace(raw, placeholder)
        return value

    def json(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.json(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, str) and key in ID_KEYS:
            return self.id(value)
        if isinstance(value, str) and key in TIME_KEYS:
            return "<time>" if ISO_UTC.fullmatch(value) else value
        if isinstance(value, float) and key == "timestamp":
            return "<timestamp>"
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, text: str) -> Any:
        """A JSON body, normalized, with how it was encoded."""
        parsed = json.loads(text)
        compact = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
        return {"compact": text == compact, "json": self.json(parsed)}

    def sse(self, raw: str) -> list[str]:
        """The stream line by line, with ids and JSON data normalized."""
        lines = []
        for line in raw.split("\n"):
            if line.startswith("id: "):
                line = f"id: {self.id(line[4:])}"
            elif line.startswith("data: "):
                parsed = json.loads(line[6:])
                style = "default" if line[6:] == json.dumps(parsed) else "other"
                line = f"data[{style}]: {json.dumps(self.json(parsed))}"
            lines.append(line)
        return lines


async def answer(response: aiohttp.ClientResponse, norm: Normalizer) -> dict[str, Any]:
    """Status, content type, ``Allow`` (as a set: Starlette's order varies) and the
    normalized body of a JSON answer."""
    text = await response.text()
    return {
        "status": response.status,
        "content_type": response.headers.get("Content-Type"),
        "allow": sorted(response.headers.get("Allow", "").replace(" ", "").split(",")),
        "body": norm.body(text) if text else None,
    }


async def call(
    client: aiohttp.ClientSession, norm: Normalizer, method: str, url: str, **kwargs: Any
) -> dict[str, Any]:
    async with client.request(method, url, **kwargs) as response:
        return await answer(response, norm)


async def new_agent(client: aiohttp.ClientSession, norm: Normalizer, type: str) -> str:
    async with client.post("/api/agents", json={"name": f"parity-{type}", "type": type}) as r:
        assert r.status == 201, await r.text()
        agent_id: str = (await r.json())["id"]
    norm.id(agent_id)
    return agent_id


async def new_session(client: aiohttp.ClientSession, norm: Normalizer, agent_id: str) -> str:
    async with client.post("/api/sessions", json={"agent_id": agent_id}) as r:
        assert r.status == 201, await r.text()
        session_id: str = (await r.json())["id"]
    norm.id(session_id)
    return session_id


def message(content: str | None = CONTENT, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "message", "source": "user", "content": content}
    return {**body, **changes}


async def stream_turn(
    client: aiohttp.ClientSession, norm: Normalizer, session_id: str, content: str
) -> dict[str, Any]:
    url = f"/api/sessions/{session_id}/events/stream"
    async with client.post(url, json=message(content)) as response:
        raw = await asyncio.wait_for(response.text(), READ_SECONDS)
        head = {"status": response.status, "content_type": response.headers["Content-Type"]}
    return {**head, "lines": norm.sse(raw)}


async def listed_events(
    client: aiohttp.ClientSession, norm: Normalizer, session_id: str
) -> dict[str, Any]:
    return await call(client, norm, "GET", f"/api/sessions/{session_id}/events")


# --- scenarios ------------------------------------------------------------------------


async def agent_errors(client: aiohttp.ClientSession, norm: Normalizer) -> list[Any]:
    bodies: list[Any] = [
        {},
        {"name": "x"},
        {"name": "", "type": "echo"},
        {"name": "x" * 101, "type": "echo"},
        {"name": 5, "type": ["echo"], "description": 3},
        {"name": "x", "type": "echo", "extra": True},
        {"name": "x", "type": "no-such-type"},
        [],
        None,
    ]
    results = [await call(client, norm, "POST", "/api/agents", json=body) for body in bodies]
    headers = {"Content-Type": "application/json"}
    results.append(await call(client, norm, "POST", "/api/agents", data="{", headers=headers))
    results.append(await call(client, norm, "POST", "/api/agents"))
    for agent_id in ("short", "abcdefghij", "abcdefghijk"):
        results.append(await call(client, norm, "GET", f"/api/agents/{agent_id}"))
    return results


async def create(
    client: aiohttp.ClientSession, norm: Normalizer, url: str, body: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The normalized answer to a create request and the new record's raw id."""
    async with client.post(url, json=body) as response:
        result = await answer(response, norm)
        raw_id: str = json.loads(await response.text())["id"]
    return result, raw_id


async def agent_round_trip(client: aiohttp.ClientSession, norm: Normalizer) -> list[Any]:
    body = {"name": "Drizzle", "type": "echo", "description": "weather"}
    created, agent_id = await create(client, norm, "/api/agents", body)
    bare, bare_id = await create(client, norm, "/api/agents", {"name": "Bare", "type": "echo"})
    retrieved = [await call(client, norm, "GET", f"/api/agents/{i}") for i in (agent_id, bare_id)]
    async with client.get("/api/agents") as r:
        listed = [a for a in (await r.json())["data"] if a["id"] in (agent_id, bare_id)]
        head = (r.status, r.headers["Content-Type"])
    return [created, bare, retrieved, head, norm.json(listed)]


async def session_errors(client: aiohttp.ClientSession, norm: Normalizer) -> list[Any]:
    agent_id = await new_agent(client, norm, "echo")
    taken = "".join(secrets.choice(string.ascii_letters) for _ in range(10))
    norm.id(taken)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/sessions", {"json": {}}),
        ("POST", "/api/sessions", {"json": {"agent_id": "short"}}),
        ("POST", "/api/sessions", {"json": {"agent_id": "abcdefghij"}}),
        ("POST", "/api/sessions", {"json": {"agent_id": agent_id, "title": "t" * 201}}),
        ("POST", "/api/sessions", {"json": {"agent_id": agent_id, "id": "short"}}),
        ("POST", "/api/sessions", {"json": {"agent_id": agent_id, "other": 1}}),
        ("POST", "/api/sessions?allow_greeting=maybe", {"json": {"agent_id": agent_id}}),
        ("POST", "/api/sessions", {"json": {"agent_id": agent_id, "id": taken}}),
        ("GET", "/api/sessions/short", {}),
        ("GET", "/api/sessions/abcdefghij", {}),
        ("GET", "/api/sessions/abcdefghij/events", {}),
        ("GET", f"/api/sessions/{taken}/events?min_offset=one", {}),
        ("GET", f"/api/sessions/{taken}/events?source=robot", {}),
        ("GET", f"/api/sessions/{taken}/events", {"json": ["message", "nope"]}),
        ("POST", "/api/sessions/abcdefghij/events/stream", {"json": message()}),
        ("POST", f"/api/sessions/{taken}/events/stream", {"json": message(type="custom")}),
        ("POST", f"/api/sessions/{taken}/events/stream", {"json": message(source="ai_agent")}),
        ("POST", f"/api/sessions/{taken}/events/stream", {"json": message(None)}),
        ("POST", f"/api/sessions/{taken}/events/stream", {"json": message(type="bogus")}),
        ("POST", f"/api/sessions/{taken}/events/stream", {"json": {"content": "x"}}),
        ("GET", "/api/nothing-here", {}),
        ("DELETE", "/api/agents", {}),
    ]
    return [await call(client, norm, method, url, **kw) for method, url, kw in requests]


async def session_round_trip(client: aiohttp.ClientSession, norm: Normalizer) -> list[Any]:
    agent_id = await new_agent(client, norm, "echo")
    body = {"agent_id": agent_id, "title": "SF"}
    created, session_id = await create(client, norm, "/api/sessions", body)
    greeted, _ = await create(
        client, norm, "/api/sessions?allow_greeting=true", {"agent_id": agent_id}
    )
    retrieved = await call(client, norm, "GET", f"/api/sessions/{session_id}")
    listed = await call(client, norm, "GET", f"/api/sessions?agent_id={agent_id}")
    events = await listed_events(client, norm, session_id)
    return [created, greeted, retrieved, listed, events]


async def taken_session_id(client: aiohttp.ClientSession, norm: Normalizer) -> list[Any]:
    first_agent = await new_agent(client, norm, "echo")
    second_agent = await new_agent(client, norm, "echo_tool")
    taken = "".join(secrets.choice(string.ascii_letters) for _ in range(10))
    norm.id(taken)
    results = [
        await call(client, norm, "POST", "/api/sessions", json={"agent_id": a, "id": taken})
        for a in (first_agent, second_agent)
    ]
    results.append(await call(client, norm, "GET", f"/api/sessions/{taken}"))
    for agent_id in (first_agent, second_agent):
        results.append(await call(client, norm, "GET", f"/api/sessions?agent_id={agent_id}"))
    results.append(await stream_turn(client, norm, taken, CONTENT))
    return results


def stream_scenario(agent_type: str) -> Scenario:
    async def scenario(client: aiohttp.ClientSession, norm: Normalizer) -> list[Any]:
        session_id = await new_session(client, norm, await new_agent(client, norm, agent_type))
        first = await stream_turn(client, norm, session_id, CONTENT)
        second = await stream_turn(client, norm, session_id, "again")
        events = await listed_events(client, norm, session_id)
        url = f"/api/sessions/{session_id}/events"
        filtered = [
            await call(client, norm, "GET", f"{url}?source=ai_agent&min_offset=2"),
            await call(client, norm, "GET", url, json=["message"]),
        ]
        return [first, second, events, filtered]

    return scenario


async def crash_stream(client: aiohttp.ClientSession, norm: Normalizer) -> list[Any]:
    session_id = await new_session(client, norm, await new_agent(client, norm, "echo_crash"))
    url = f"/api/sessions/{session_id}/events/stream"
    received = b""
    async with client.post(url, json=message("pass the salt")) as response:
        while received.count(b"\n\n") < CRASH_FRAMES:
            chunk = await asyncio.wait_for(response.content.readany(), READ_SECONDS)
            assert chunk, "the stream ended; echo_crash should leave it open"
            received += chunk
        head = {"status": response.status, "content_type": response.headers["Content-Type"]}
        with pytest.raises(asyncio.TimeoutError):  # nothing more comes
            await asyncio.wait_for(response.content.readany(), 0.3)
    lines = norm.sse(received.decode())
    return [head, lines, await listed_events(client, norm, session_id)]


SCENARIOS: dict[str, Scenario] = {
    "agent_errors": agent_errors,
    "agent_round_trip": agent_round_trip,
    "session_errors": session_errors,
    "session_round_trip": session_round_trip,
    "taken_session_id": taken_session_id,
    **{f"stream_{t}": stream_scenario(t) for t in STREAM_TYPES},
    "stream_echo_crash": crash_stream,
}


@pytest.fixture
def fake_url(flux0_server: FakeFlux0Server) -> str:
    return flux0_server.url


async def transcript(url: str, scenario: Scenario) -> list[Any]:
    async with aiohttp.ClientSession(url) as client:
        return await scenario(client, Normalizer())


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_fake_answers_like_the_real_server(
    name: str, fake_url: str, real_flux0_server: RealFlux0Server
) -> None:
    real = await transcript(real_flux0_server.url, SCENARIOS[name])
    fake = await transcript(fake_url, SCENARIOS[name])
    assert len(fake) == len(real)
    for step, (fake_step, real_step) in enumerate(zip(fake, real, strict=True)):
        found = differences(fake_step, real_step)
        assert not found, f"{name}, step {step}: fake != real at\n" + "\n".join(found[:20])


def differences(fake: Any, real: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ, as ``path: fake != real`` lines."""
    if isinstance(fake, dict) and isinstance(real, dict) and list(fake) == list(real):
        return [line for key in fake for line in differences(fake[key], real[key], f"{path}/{key}")]
    if isinstance(fake, list) and isinstance(real, list) and len(fake) == len(real):
        pairs = enumerate(zip(fake, real, strict=True))
        return [line for i, (f, r) in pairs for line in differences(f, r, f"{path}/{i}")]
    return [] if fake == real else [f"{path or '/'}: {fake!r} != {real!r}"]
