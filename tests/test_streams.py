"""EventStream against a real aiohttp server on 127.0.0.1: items, errors, and release.

Every client here uses a connector limited to one connection, so a response that is not
released makes the next request wait forever: :func:`assert_released` sends that next
request under a timeout. Trace hooks count new and reused connections to tell a
connection returned to the pool from one that was closed.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anyio
import anyio.from_thread
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.sse import NDJSONDecoder, ServerSentEvent, SSEDecoder
from shared.streams import EventStream
from tests.data import FLUX0_FIXTURES

FIXTURES = FLUX0_FIXTURES
BIG_LINE_BYTES = 300 * 1024
HANG_SECONDS = 10.0


# --- the server ----------------------------------------------------------------------


async def start_stream(request: web.Request, content_type: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


async def serve_fixture(request: web.Request) -> web.StreamResponse:
    """A recorded flux0 stream, sent in small pieces that cut lines and characters."""
    data = (FIXTURES / request.match_info["name"]).read_bytes()
    response = await start_stream(request, "text/event-stream")
    for start in range(0, len(data), 97):
        await response.write(data[start : start + 97])
    await response.write_eof()
    return response


async def serve_big_line(request: web.Request) -> web.StreamResponse:
    response = await start_stream(request, "text/event-stream")
    await response.write(b"event: big\ndata: " + b"x" * BIG_LINE_BYTES + b"\n\n")
    await response.write(b"data: after\n\n")
    await response.write_eof()
    return response


async def serve_hang(request: web.Request) -> web.StreamResponse:
    """Two events, then the stream stays open until the client goes away."""
    response = await start_stream(request, "text/event-stream")
    await response.write(b"data: 1\n\ndata: 2\n\n")
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.02)
    return response


async def serve_drop(request: web.Request) -> web.StreamResponse:
    """One event and half of another, then the connection is cut."""
    response = await start_stream(request, "text/event-stream")
    await response.write(b"data: whole\n\ndata: half")
    await asyncio.sleep(0.05)
    assert request.transport is not None
    request.transport.close()
    return response


async def serve_ndjson(request: web.Request) -> web.StreamResponse:
    response = await start_stream(request, "text/plain")
    for piece in (b'{"n": 1}\n', b'\n{"n"', b": 2}\n", b'{"n": 3}'):
        await response.write(piece)
    await response.write_eof()
    return response


async def serve_ping(request: web.Request) -> web.Response:
    return web.Response(text="pong")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/fixture/{name}", serve_fixture)
    app.router.add_get("/big", serve_big_line)
    app.router.add_get("/hang", serve_hang)
    app.router.add_get("/drop", serve_drop)
    app.router.add_get("/ndjson", serve_ndjson)
    app.router.add_get("/ping", serve_ping)
    return app


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    test_server = TestServer(make_app(), host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


# --- the client ----------------------------------------------------------------------


class Client:
    """A session with a one-connection pool that counts new and reused connections."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.counts: collections.Counter[str] = collections.Counter()
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(self._count("created"))
        trace.on_connection_reuseconn.append(self._count("reused"))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), trace_configs=[trace]
        )

    def _count(self, name: str) -> Callable[..., Any]:
        async def count(*_: Any) -> None:
            self.counts[name] += 1

        return count

    async def open_sse(self, path: str, **kwargs: Any) -> EventStream[ServerSentEvent]:
        response = await self.session.get(self.server.make_url(path))
        return EventStream(response, SSEDecoder(), lambda event: event, **kwargs)

    async def assert_released(self) -> None:
        """Fails unless the one connection of the pool is free for another request."""
        with anyio.fail_after(3):
            async with self.session.get(self.server.make_url("/ping")) as response:
                assert await response.text() == "pong"


@pytest.fixture
async def client(server: TestServer) -> AsyncIterator[Client]:
    client = Client(server)
    async with client.session:
        yield client


def expected_names(name: str) -> list[str]:
    text = (FIXTURES / name).read_text()
    return [line[len("event: ") :] for line in text.splitlines() if line.startswith("event: ")]


class StreamBroken(Exception):
    """What the tests' ``map_error`` turns read errors into."""


def to_stream_broken(exc: BaseException) -> BaseException:
    return StreamBroken(type(exc).__name__)


# --- tests ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["echo.sse", "echo_think.sse", "echo_tool.sse"])
async def test_iterates_a_recorded_stream_to_the_end(client: Client, name: str) -> None:
    stream = await client.open_sse(f"/fixture/{name}")
    events = [event async for event in stream]
    assert [event.event for event in events] == expected_names(name)
    assert all(isinstance(event.json(), dict) for event in events)
    assert stream.response.closed
    await client.assert_released()
    assert client.counts == {"created": 1, "reused": 1}  # back in the pool, not closed


@pytest.mark.anyio
async def test_async_with_gives_the_stream_and_releases_on_exit(client: Client) -> None:
    stream = await client.open_sse("/fixture/echo.sse")
    async with stream as events:
        assert events is stream
        first = await events.__anext__()
        assert first.event == "status"
    assert stream.response.closed
    await client.assert_released()


@pytest.mark.anyio
async def test_async_with_releases_a_stream_never_iterated(client: Client) -> None:
    async with await client.open_sse("/hang") as stream:
        pass
    assert stream.response.closed
    await client.assert_released()
    assert client.counts["created"] == 2  # the unread response's connection was closed


@pytest.mark.anyio
async def test_break_releases_while_the_stream_is_still_referenced(client: Client) -> None:
    stream = await client.open_sse("/hang")
    async for event in stream:
        assert event.data == "1"
        break
    await client.assert_released()
    assert stream.response.closed
    assert client.counts["created"] == 2


@pytest.mark.anyio
async def test_exception_in_parse_passes_through_and_releases(client: Client) -> None:
    def parse(event: ServerSentEvent) -> str:
        if event.event == "chunk":
            raise KeyError("no model for chunk")
        return event.event

    response = await client.session.get(client.server.make_url("/fixture/echo.sse"))
    stream = EventStream(response, SSEDecoder(), parse, map_error=to_stream_broken)
    seen = []
    with pytest.raises(KeyError, match="no model for chunk"):
        async for name in stream:
            seen.append(name)
    assert seen == ["status", "status"]
    assert response.closed
    await client.assert_released()


@pytest.mark.anyio
async def test_exception_in_the_loop_body_releases(client: Client) -> None:
    stream = await client.open_sse("/hang")
    with pytest.raises(ZeroDivisionError):
        async for _ in stream:
            1 / 0  # noqa: B018
    await client.assert_released()
    assert stream.response.closed


@pytest.mark.anyio
async def test_cancelling_the_consumer_releases(client: Client) -> None:
    stream = await client.open_sse("/hang")
    received: list[str] = []
    second = anyio.Event()

    async def consume() -> None:
        async for event in stream:
            received.append(event.data)
            if len(received) == 2:
                second.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(consume)
            await second.wait()
            await anyio.sleep(0.05)  # the consumer now waits on the open stream
            tasks.cancel_scope.cancel()
    assert received == ["1", "2"]
    assert stream.response.closed
    await client.assert_released()
    assert client.counts["created"] == 2


@pytest.mark.anyio
async def test_dropped_connection_goes_through_map_error(client: Client) -> None:
    stream = await client.open_sse("/drop", map_error=to_stream_broken)
    received = []
    with pytest.raises(StreamBroken) as info:
        async for event in stream:
            received.append(event.data)
    assert received == ["whole"]
    assert isinstance(info.value.__cause__, aiohttp.ClientPayloadError)
    assert stream.response.closed
    await client.assert_released()


@pytest.mark.anyio
async def test_read_error_without_map_error_is_raised_as_is(client: Client) -> None:
    stream = await client.open_sse("/drop")
    with pytest.raises(aiohttp.ClientPayloadError):
        async for _ in stream:
            pass
    await client.assert_released()


@pytest.mark.anyio
async def test_decoder_error_goes_through_map_error(client: Client) -> None:
    response = await client.session.get(client.server.make_url("/big"))
    stream = EventStream(
        response, SSEDecoder(max_line_bytes=1024), lambda e: e, map_error=to_stream_broken
    )
    with pytest.raises(StreamBroken, match="ValueError") as info:
        await stream.__anext__()
    assert isinstance(info.value.__cause__, ValueError)
    await client.assert_released()


@pytest.mark.anyio
async def test_map_error_may_keep_the_exception(client: Client) -> None:
    stream = await client.open_sse("/drop", map_error=lambda exc: exc)
    with pytest.raises(aiohttp.ClientPayloadError) as info:
        async for _ in stream:
            pass
    assert info.value.__cause__ is not info.value


@pytest.mark.anyio
async def test_a_300_kib_data_line(client: Client) -> None:
    stream = await client.open_sse("/big")
    events = [event async for event in stream]
    assert [event.event for event in events] == ["big", "message"]
    assert events[0].data == "x" * BIG_LINE_BYTES
    assert events[1].data == "after"
    await client.assert_released()


@pytest.mark.anyio
async def test_ndjson_stream_yields_the_unterminated_last_value(client: Client) -> None:
    response = await client.session.get(client.server.make_url("/ndjson"))
    stream = EventStream(response, NDJSONDecoder(), lambda value: value["n"])
    assert [n async for n in stream] == [1, 2, 3]
    await client.assert_released()
    assert client.counts == {"created": 1, "reused": 1}


@pytest.mark.anyio
async def test_iterating_twice_raises(client: Client) -> None:
    stream = await client.open_sse("/fixture/echo.sse")
    assert len([event async for event in stream]) == 8
    with pytest.raises(RuntimeError, match="only once"):
        async for _ in stream:
            pass


@pytest.mark.anyio
async def test_iterating_after_aclose_raises(client: Client) -> None:
    stream = await client.open_sse("/hang")
    await stream.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        async for _ in stream:
            pass
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


@pytest.mark.anyio
async def test_aclose_during_async_for_releases(client: Client) -> None:
    stream = await client.open_sse("/hang")
    received = []
    async for event in stream:
        received.append(event.data)
        await stream.aclose()
    assert received == ["1"]
    assert stream.response.closed
    await client.assert_released()


@pytest.mark.anyio
async def test_anext_to_the_end_releases_to_the_pool(client: Client) -> None:
    stream = await client.open_sse("/fixture/echo_fail.sse")
    names = []
    with pytest.raises(StopAsyncIteration):
        while True:
            names.append((await stream.__anext__()).event)
    assert names == expected_names("echo_fail.sse")
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    await client.assert_released()
    assert client.counts == {"created": 1, "reused": 1}


def test_sync_wrapper_pattern_on_a_background_loop() -> None:
    """``__anext__`` and ``aclose`` called one by one through a blocking portal."""
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        server = TestServer(make_app(), host="127.0.0.1")
        portal.call(server.start_server)
        client = portal.call(Client, server)
        try:
            stream = portal.call(client.open_sse, "/hang")
            assert portal.call(stream.__anext__).data == "1"
            assert portal.call(stream.__anext__).data == "2"
            portal.call(stream.aclose)
            assert stream.response.closed
            portal.call(client.assert_released)
            with pytest.raises(StopAsyncIteration):
                portal.call(stream.__anext__)
        finally:
            portal.call(client.session.close)
            portal.call(server.close)


@pytest.mark.anyio
async def test_cancelled_anext_releases(client: Client) -> None:
    """``__anext__`` cancelled while waiting (the sync wrapper's Ctrl-C) releases too."""
    stream = await client.open_sse("/hang")
    assert (await stream.__anext__()).data == "1"
    assert (await stream.__anext__()).data == "2"
    with anyio.move_on_after(0.1) as scope:
        await stream.__anext__()
    assert scope.cancelled_caught
    assert stream.response.closed
    await client.assert_released()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


@pytest.mark.anyio
async def test_next_batch_hands_out_a_chunk_worth_of_items(client: Client) -> None:
    stream = await client.open_sse("/fixture/echo.sse")
    batches = []
    while batch := await stream.next_batch():
        batches.append([event.event for event in batch])
    assert [name for batch in batches for name in batch] == expected_names("echo.sse")
    assert len(batches) < len(expected_names("echo.sse"))  # the fixture arrives in few chunks
    await client.assert_released()


@pytest.mark.anyio
async def test_next_batch_keeps_items_before_an_error_and_raises_it_next(client: Client) -> None:
    def parse(event: ServerSentEvent) -> str:
        if event.event == "chunk":
            raise KeyError("no model for chunk")
        return event.event

    response = await client.session.get(client.server.make_url("/fixture/echo.sse"))
    stream = EventStream(response, SSEDecoder(), parse)
    first = await stream.next_batch()
    assert first == ["status", "status"]
    with pytest.raises(KeyError, match="no model for chunk"):
        await stream.next_batch()
    await stream.aclose()
    await client.assert_released()
