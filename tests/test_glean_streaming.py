"""Glean streams against a real aiohttp server on 127.0.0.1.

``client.chat.create_stream`` reads NDJSON (one ``ChatResponse`` per line, over
``text/plain``) and ``client.agents.run_stream`` reads Server-Sent Events. The server
writes a scripted body in pieces cut anywhere (inside lines, inside UTF-8 characters), can
hold the rest of the body until the test says so, and can keep a stream open until the
client goes away, which is how the tests see a connection being released.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import anyio.from_thread
import anyio.to_thread
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glean_async import Glean, converter, errors, models
from glean_async.sync import Glean as SyncGlean
from glean_async.utils import ServerSentEvent

pytestmark = pytest.mark.anyio

CHAT = "/rest/api/v1/chat"
RUN_STREAM = "/rest/api/v1/agents/runs/stream"
CSV_PATH = "/rest/api/v1/governance/data/policies/p1/download"
CSV = "id,violations\np1,3\n"
HOLD_LIMIT = 5.0  # the longest the server holds a body back, waiting for the test
HANG_LIMIT = 10.0  # the longest a "hang" stream stays open waiting for the client to leave
RELEASE_LIMIT = 3.0  # how fast a released connection must be usable again
ASK = [{"fragments": [{"text": "any holidays?"}]}]


# --- the server --------------------------------------------------------------------------


@attrs.define
class Script:
    """What the streaming routes write, and what they saw."""

    chunks: list[bytes] = attrs.field(factory=list)
    content_type: str = "text/plain; charset=utf-8"
    pause: float = 0.0  # seconds between two writes
    hold_at: int | None = None  # before this chunk, wait until ``go`` is set
    hang: bool = False  # after the chunks, stay open until the client leaves
    go: asyncio.Event = attrs.field(factory=asyncio.Event)
    sent: int = 0  # chunks written so far
    client_gone: asyncio.Event = attrs.field(factory=asyncio.Event)
    requests: list[bytes] = attrs.field(factory=list)

    def holds_back(self) -> bool:
        """Whether the chunk at ``hold_at`` is still unsent (``go`` not given yet)."""
        return self.hold_at is not None and self.sent <= self.hold_at


@attrs.define
class Stage:
    """The server's current script (replaced per test and per hypothesis example)."""

    script: Script = attrs.field(factory=Script)


STAGE = web.AppKey("stage", Stage)


async def serve_script(request: web.Request) -> web.StreamResponse:
    script = request.app[STAGE].script
    script.requests.append(await request.read())
    response = web.StreamResponse(headers={"Content-Type": script.content_type})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        await write_chunks(script, response)
        if script.hang:
            await wait_until_gone(request, script)
        else:
            await response.write_eof()
    except ConnectionResetError:
        script.client_gone.set()
    except asyncio.CancelledError:  # aiohttp cancels the handler when the client leaves
        script.client_gone.set()
        raise
    return response


async def write_chunks(script: Script, response: web.StreamResponse) -> None:
    for index, chunk in enumerate(script.chunks):
        if index == script.hold_at:
            with anyio.move_on_after(HOLD_LIMIT):
                await script.go.wait()
        await response.write(chunk)
        script.sent += 1
        await asyncio.sleep(script.pause)


async def wait_until_gone(request: web.Request, script: Script) -> None:
    with anyio.move_on_after(HANG_LIMIT):
        while request.transport is not None and not request.transport.is_closing():
            await asyncio.sleep(0.01)
        script.client_gone.set()


async def serve_csv(request: web.Request) -> web.Response:
    return web.Response(text=CSV, content_type="text/csv")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app[STAGE] = Stage()
    app.router.add_post(CHAT, serve_script)
    app.router.add_post(RUN_STREAM, serve_script)
    app.router.add_get(CSV_PATH, serve_csv)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


def script_of(server: TestServer, chunks: list[bytes], **options: Any) -> Script:
    """Give the server a fresh script (a new one per hypothesis example too)."""
    script = Script(chunks=chunks, **options)
    server.app[STAGE].script = script
    return script


def url_of(server: TestServer) -> str:
    return str(server.make_url(""))


@pytest.fixture
async def glean(server: TestServer) -> AsyncIterator[Glean]:
    async with Glean("secret-token", server_url=url_of(server)) as client:
        yield client


class OneConnectionGlean:
    """A ``Glean`` on a caller-owned session whose pool holds a single connection, so a
    connection that is not released makes the next call wait; counts new connections."""

    def __init__(self, server: TestServer) -> None:
        self.created = 0
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(self._count)
        connector = aiohttp.TCPConnector(limit=1)
        self.session = aiohttp.ClientSession(connector=connector, trace_configs=[trace])
        self.glean = Glean("secret-token", server_url=url_of(server), session=self.session)

    async def _count(self, *_: Any) -> None:
        self.created += 1

    async def assert_released(self) -> None:
        """Fails unless the pool's one connection is free for another call."""
        with anyio.fail_after(RELEASE_LIMIT):
            assert await self.glean.client.governance.data.policies.download(id="p1") == CSV

    async def aclose(self) -> None:
        await self.glean.aclose()
        await self.session.close()


@pytest.fixture
async def pooled(server: TestServer) -> AsyncIterator[OneConnectionGlean]:
    client = OneConnectionGlean(server)
    try:
        yield client
    finally:
        await client.aclose()


# --- bodies ------------------------------------------------------------------------------


def ndjson(wires: list[dict[str, Any]], newline: str = "\n") -> bytes:
    lines = [json.dumps(wire, ensure_ascii=False) for wire in wires]
    return (newline.join(lines) + newline).encode("utf-8")


def lines_of(wires: list[dict[str, Any]]) -> list[bytes]:
    """One chunk per NDJSON line."""
    return [ndjson([wire]) for wire in wires]


def cut(body: bytes, positions: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(positions)), len(body)]
    return [body[start:end] for start, end in itertools.pairwise(edges) if end > start]


def expected(wires: list[dict[str, Any]]) -> list[models.ChatResponse]:
    return [converter.structure(wire, models.ChatResponse) for wire in wires]


def reply(text: str, index: int = 0) -> dict[str, Any]:
    return {
        "chatId": f"chat-{index}",
        "messages": [
            {"author": "GLEAN_AI", "messageType": "CONTENT", "fragments": [{"text": text}]}
        ],
    }


UNICODE_REPLIES = [
    reply("caf\u00e9 \u2014 \u6f22\u5b57 \U0001f389 na\u00efve", 0),
    reply("\U0001f1eb\U0001f1f7 \u00d8re \u0416\u0436", 1),
    reply("\u2028 line separator is not a line end \u0085", 2),
]


# --- chat: NDJSON ------------------------------------------------------------------------

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
fragments = st.fixed_dictionaries({}, optional={"text": texts, "trackingToken": texts})
messages = st.fixed_dictionaries(
    {},
    optional={
        "author": st.sampled_from(["USER", "GLEAN_AI", "SOME_FUTURE_AUTHOR"]),
        "messageType": st.sampled_from(["UPDATE", "CONTENT", "ERROR"]),
        "fragments": st.lists(fragments, max_size=3),
        "messageId": texts,
        "hasMoreFragments": st.booleans(),
    },
)
chat_responses = st.fixed_dictionaries(
    {},
    optional={
        "chatId": texts,
        "messages": st.lists(messages, max_size=3),
        "followUpPrompts": st.lists(texts, max_size=2),
        "backendTimeMillis": st.integers(0, 2**40),
    },
)


@attrs.frozen
class Cutting:
    """Chat responses, the NDJSON body they make, and that body cut into pieces."""

    wires: list[dict[str, Any]]
    chunks: list[bytes]


@st.composite
def cuttings(draw: st.DrawFn) -> Cutting:
    # everything is drawn here, before the async test body runs: a draw inside it
    # that hypothesis aborts would escape through anyio's test runner
    wires = draw(st.lists(chat_responses, min_size=1, max_size=6))
    body = ndjson(wires, draw(st.sampled_from(["\n", "\r\n"])))
    positions = draw(st.lists(st.integers(1, len(body) - 1), max_size=30))
    return Cutting(wires, cut(body, positions))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cutting=cuttings())
async def test_chat_stream_yields_each_line_whatever_the_chunk_boundaries(
    server: TestServer, glean: Glean, cutting: Cutting
) -> None:
    script_of(server, cutting.chunks, pause=0.0005)
    with anyio.fail_after(10):
        stream = await glean.client.chat.create_stream(messages=ASK)
        async with stream as items:
            received = [item async for item in items]
    assert received == expected(cutting.wires)
    assert all(isinstance(item, models.ChatResponse) for item in received)


async def test_chat_stream_cut_at_every_byte_inside_utf8_characters(
    server: TestServer, glean: Glean
) -> None:
    body = ndjson(UNICODE_REPLIES)
    assert len(body) > len(body.decode("utf-8"))  # multi-byte characters are cut too
    script_of(server, cut(body, list(range(1, len(body)))), pause=0.0001)
    stream = await glean.client.chat.create_stream(messages=ASK)
    received = [item async for item in stream]
    assert received == expected(UNICODE_REPLIES)
    assert received[0].messages[0].fragments[0].text.startswith("caf\u00e9")


async def test_chat_stream_sends_the_request_and_accepts_text_plain(
    server: TestServer, glean: Glean
) -> None:
    script = script_of(server, lines_of(UNICODE_REPLIES[:1]))
    stream = await glean.client.chat.create_stream(messages=ASK, save_chat=False)
    assert len([item async for item in stream]) == 1
    sent = json.loads(script.requests[0])
    asked = {"messages": [{"fragments": [{"text": "any holidays?"}]}], "saveChat": False}
    assert sent == {**asked, "stream": True}


async def test_first_item_arrives_while_the_server_holds_the_rest(
    server: TestServer, glean: Glean
) -> None:
    wires = [reply(f"part {n}", n) for n in range(4)]
    script = script_of(server, lines_of(wires), hold_at=1)
    received: list[models.ChatResponse] = []
    with anyio.fail_after(HOLD_LIMIT * 2):
        stream = await glean.client.chat.create_stream(messages=ASK)
        async with stream as items:
            async for item in items:
                if not received:  # the rest of the body is still held back
                    assert script.holds_back()
                    script.go.set()
                received.append(item)
    assert received == expected(wires)
    assert script.sent == len(script.chunks)


async def test_anext_then_async_for_continues_the_same_stream(
    server: TestServer, glean: Glean
) -> None:
    script_of(server, lines_of(UNICODE_REPLIES))
    stream = await glean.client.chat.create_stream(messages=ASK)
    async with stream:
        first = await anext(stream)
        rest = [item async for item in stream]
    assert [first, *rest] == expected(UNICODE_REPLIES)


async def test_a_full_read_returns_the_connection_for_reuse(
    server: TestServer, pooled: OneConnectionGlean
) -> None:
    script_of(server, lines_of(UNICODE_REPLIES))
    stream = await pooled.glean.client.chat.create_stream(messages=ASK)
    assert len([item async for item in stream]) == 3
    await pooled.assert_released()
    assert pooled.created == 1  # the next call reused the stream's connection


async def test_break_without_context_manager_releases_the_connection(
    server: TestServer, pooled: OneConnectionGlean
) -> None:
    script = script_of(server, lines_of(UNICODE_REPLIES), hang=True)
    stream = await pooled.glean.client.chat.create_stream(messages=ASK)
    async for item in stream:
        assert item.chat_id == "chat-0"
        break
    await pooled.assert_released()
    with anyio.fail_after(RELEASE_LIMIT):
        await script.client_gone.wait()  # an unfinished body: the connection was closed


async def test_break_inside_async_with_releases_the_connection(
    server: TestServer, pooled: OneConnectionGlean
) -> None:
    script = script_of(server, lines_of(UNICODE_REPLIES), hang=True)
    stream = await pooled.glean.client.chat.create_stream(messages=ASK)
    async with stream as items:
        async for _ in items:
            break
    with anyio.fail_after(RELEASE_LIMIT):
        await script.client_gone.wait()
    await pooled.assert_released()


async def test_cancelling_the_reader_releases_the_connection(
    server: TestServer, pooled: OneConnectionGlean
) -> None:
    script = script_of(server, lines_of(UNICODE_REPLIES[:1]), hang=True)
    got_one = anyio.Event()

    async def read_forever() -> None:
        stream = await pooled.glean.client.chat.create_stream(messages=ASK)
        async for _ in stream:
            got_one.set()

    async with anyio.create_task_group() as group:
        group.start_soon(read_forever)
        with anyio.fail_after(RELEASE_LIMIT):
            await got_one.wait()
        group.cancel_scope.cancel()
    await pooled.assert_released()
    await wait_for(script.client_gone)


# --- bad lines ---------------------------------------------------------------------------

MISMATCH_LINE = '{"chatId":"c9","backendTimeMillis":"soon"}'
NOT_JSON_LINE = '{"chatId": "c9", oops'


BAD_LINES = [
    pytest.param(MISMATCH_LINE, "backendTimeMillis", id="wrong-type"),
    pytest.param(NOT_JSON_LINE, "oops", id="not-json"),
]


async def read_until_error(
    stream: Any, received: list[models.ChatResponse], script: Script | None = None
) -> errors.ResponseValidationError:
    """Collect items until the stream raises; with ``script``, let the server go on
    (past its hold) once two items arrived."""
    with pytest.raises(errors.ResponseValidationError) as caught:
        async for item in stream:
            received.append(item)
            if script is not None and len(received) == 2:
                script.go.set()
    return caught.value


@pytest.mark.parametrize(("line", "named"), BAD_LINES)
async def test_a_bad_line_raises_after_the_good_ones_and_releases(
    server: TestServer, pooled: OneConnectionGlean, line: str, named: str
) -> None:
    bad = line.encode() + b"\n"
    chunks = [*lines_of(UNICODE_REPLIES[:2]), bad[:9], bad[9:], ndjson(UNICODE_REPLIES)]
    script = script_of(server, chunks, hold_at=2)  # the bad line comes after two items
    stream = await pooled.glean.client.chat.create_stream(messages=ASK)
    received: list[models.ChatResponse] = []
    error = await read_until_error(stream, received, script)
    assert received == expected(UNICODE_REPLIES[:2])
    assert named in str(error) and "secret-token" not in str(error)
    assert error.status_code == 200 and isinstance(error, errors.GleanError)
    await pooled.assert_released()


@pytest.mark.parametrize(
    ("line", "named"),
    [
        BAD_LINES[0],
        BAD_LINES[1],
    ],
)
async def test_good_lines_in_the_same_chunk_as_a_bad_one_are_delivered(
    server: TestServer, glean: Glean, line: str, named: str
) -> None:
    body = ndjson(UNICODE_REPLIES[:2]) + line.encode() + b"\n" + ndjson(UNICODE_REPLIES[2:])
    script_of(server, [body])
    stream = await glean.client.chat.create_stream(messages=ASK)
    received: list[models.ChatResponse] = []
    error = await read_until_error(stream, received)
    assert received == expected(UNICODE_REPLIES[:2])
    assert named in str(error)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(MISMATCH_LINE, id="wrong-type"),
        pytest.param(NOT_JSON_LINE, id="not-json"),
        pytest.param('{"chatId":"caf\u00e9","messages":[7]}', id="non-ascii"),
    ],
)
async def test_a_bad_line_error_carries_the_raw_line(
    server: TestServer, glean: Glean, line: str
) -> None:
    script_of(server, [line.encode("utf-8") + b"\n"])
    stream = await glean.client.chat.create_stream(messages=ASK)
    with pytest.raises(errors.ResponseValidationError) as caught:
        async for _ in stream:
            pass
    assert caught.value.body == line


# --- the sync facade ---------------------------------------------------------------------


async def test_sync_facade_streams_items(server: TestServer) -> None:
    script_of(server, cut(ndjson(UNICODE_REPLIES), [3, 40, 41, 42, 90]), pause=0.001)

    def consume() -> list[models.ChatResponse]:
        with (
            SyncGlean("secret-token", server_url=url_of(server)) as glean,
            glean.client.chat.create_stream(messages=ASK) as stream,
        ):
            return list(stream)

    with anyio.fail_after(10):
        received = await anyio.to_thread.run_sync(consume)
    assert received == expected(UNICODE_REPLIES)


async def test_sync_facade_first_item_before_the_body_ends_and_break_releases(
    server: TestServer,
) -> None:
    script = script_of(server, lines_of(UNICODE_REPLIES), hold_at=1, hang=True)
    seen: dict[str, Any] = {}

    def consume() -> None:
        with SyncGlean("secret-token", server_url=url_of(server)) as glean:
            with glean.client.chat.create_stream(messages=ASK) as stream:
                for item in stream:
                    seen["first"] = item
                    seen["held back"] = script.holds_back()
                    break
            # the server saw the connection go before the client was closed
            anyio.from_thread.run(wait_for, script.client_gone)
            seen["csv"] = glean.client.governance.data.policies.download(id="p1")

    with anyio.fail_after(10):
        await anyio.to_thread.run_sync(consume)
    assert seen["first"] == expected(UNICODE_REPLIES)[0]
    assert seen["held back"] is True
    assert seen["csv"] == CSV


async def wait_for(event: asyncio.Event) -> None:
    with anyio.fail_after(RELEASE_LIMIT):
        await event.wait()


# --- agents: SSE -------------------------------------------------------------------------

SSE_BODY = (
    'id: 1\nevent: message\ndata: {"content": "caf\u00e9"}\n\n'
    ": keep-alive comment\n\n"
    'event: metadata\r\ndata: {"a":\r\ndata:  1}\r\n\r\n'
    "data: plain \U0001f389\n\n"
).encode()


async def test_agent_run_stream_yields_server_sent_events(server: TestServer, glean: Glean) -> None:
    script = script_of(
        server,
        cut(SSE_BODY, list(range(3, len(SSE_BODY), 7))),
        content_type="text/event-stream",
        pause=0.0005,
    )
    stream = await glean.client.agents.run_stream(agent_id="a1", input={"q": "hi"})
    async with stream as events:
        received = [event async for event in events]
    assert received == [
        ServerSentEvent(event="message", data='{"content": "caf\u00e9"}', id="1"),
        ServerSentEvent(event="metadata", data='{"a":\n 1}', id="1"),
        ServerSentEvent(event="message", data="plain \U0001f389", id="1"),
    ]
    assert received[1].json() == {"a": 1}
    assert json.loads(script.requests[0]) == {"agent_id": "a1", "input": {"q": "hi"}}


async def test_agent_run_stream_event_arrives_before_the_body_ends(
    server: TestServer, pooled: OneConnectionGlean
) -> None:
    chunks = [b"event: message\ndata: first\n\n", b"data: second\n\n"]
    script = script_of(server, chunks, content_type="text/event-stream", hold_at=1, hang=True)
    with anyio.fail_after(HOLD_LIMIT * 2):
        stream = await pooled.glean.client.agents.run_stream(agent_id="a1")
        async for event in stream:
            assert isinstance(event, ServerSentEvent) and event.data == "first"
            assert script.holds_back()
            break
    await pooled.assert_released()
