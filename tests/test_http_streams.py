"""Typed SSE streams stay readable when the server is newer than the spec.

An event whose discriminator value the declared union does not know (a new event type)
is handed out as the raw :class:`~shared.sse.ServerSentEvent`; a known event with a
malformed body still raises. Everything runs against real aiohttp servers on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from flux0_async import Flux0, models
from shared.debuglog import excerpt
from shared.errors import ErrorTypes, ResponseValidationError, SDKError
from shared.http import ClientConfig, HTTPCore
from shared.operation import Operation, Response
from shared.serialization import StructureError, UnionInfo, make_serializer
from shared.servers import ServerTemplate
from shared.sse import ServerSentEvent
from shared.unset import UNSET, Unset
from tests.data import FLUX0_FIXTURES

pytestmark = pytest.mark.anyio

FIXTURES = FLUX0_FIXTURES

# --- models: a stream typed like flux0's SessionStream ---------------------------------


@attrs.define(slots=True, kw_only=True)
class Text:
    text: str = attrs.field(metadata={"json": "text"})


@attrs.define(slots=True, kw_only=True)
class State:
    status: str = attrs.field(metadata={"json": "status"})


@attrs.define(slots=True, kw_only=True)
class ChunkEvent:
    event: Literal["chunk"] = attrs.field(metadata={"json": "event"})
    data: Text = attrs.field(metadata={"json": "data"})


@attrs.define(slots=True, kw_only=True)
class StatusEvent:
    id: str = attrs.field(metadata={"json": "id"})
    event: Literal["status"] = attrs.field(metadata={"json": "event"})
    data: State = attrs.field(metadata={"json": "data"})


@attrs.define(slots=True, kw_only=True)
class PingEvent:
    event: Literal["ping"] = attrs.field(metadata={"json": "event"})
    data: str | Unset = attrs.field(default=UNSET, metadata={"json": "data"})


@attrs.define(slots=True, kw_only=True)
class TextItem:
    type: Literal["text"] = attrs.field(metadata={"json": "type"})
    text: str = attrs.field(metadata={"json": "text"})


@attrs.define(slots=True, kw_only=True)
class DoneItem:
    type: Literal["done"] = attrs.field(metadata={"json": "type"})


SessionEvent = ChunkEvent | StatusEvent | PingEvent
Item = TextItem | DoneItem
SERIALIZER = make_serializer(
    [
        UnionInfo(
            SessionEvent,
            "event",
            {"chunk": ChunkEvent, "status": StatusEvent, "ping": PingEvent},
        ),
        UnionInfo(Item, "type", {"text": TextItem, "done": DoneItem}),
    ]
)


class StreamError(SDKError):
    pass


class StreamValidationError(StreamError, ResponseValidationError):
    pass


ERRORS = ErrorTypes(
    base=StreamError,
    connection=StreamError,
    timeout=StreamError,
    response_validation=StreamValidationError,
)
ENVELOPES = Operation(
    name="sessions.stream",
    method="GET",
    path="/stream",
    responses=(Response("200", "sse", "text/event-stream", SessionEvent, sse_envelope=True),),
    streaming=True,
)
ITEMS = Operation(
    name="items.stream",
    method="GET",
    path="/stream",
    responses=(Response("200", "sse", "text/event-stream", Item),),
    streaming=True,
)

CHUNK = b'event: chunk\ndata: {"text":"he"}\n\n'
USAGE = b'event: usage\ndata: {"input_tokens":3,"output_tokens":5}\n\n'
STATUS = b'event: status\nid: AAAAAAAAAA\ndata: {"status":"completed"}\n\n'

# --- server and client ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def sse_server(
    frames: Sequence[bytes], content_type: str = "text/event-stream"
) -> AsyncIterator[str]:
    """Serve ``frames`` (written one by one) as ``content_type`` on any path."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def one_connection_core(url: str) -> AsyncIterator[HTTPCore]:
    """A core on a borrowed session whose pool holds a single connection."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        config = ClientConfig(
            sdk_name="streams_test",
            servers=[ServerTemplate(url)],
            serializer=SERIALIZER,
            errors=ERRORS,
            session=session,
        )
        yield HTTPCore(config)


async def assert_released(core: HTTPCore, url: str) -> None:
    """The stream's connection is back: the one-connection pool serves a request at once."""
    assert core.session is not None
    async with core.session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
        await response.read()


async def read_all(core: HTTPCore, op: Operation) -> list[Any]:
    stream = await core.call(op)
    async with stream:
        return [item async for item in stream]


# --- envelope streams -------------------------------------------------------------------


async def test_unknown_event_name_is_handed_out_raw_in_order() -> None:
    async with sse_server([CHUNK, USAGE, STATUS]) as url, one_connection_core(url) as core:
        stream = await core.call(ENVELOPES)
        items = [item async for item in stream]
        assert stream.response.connection is None
        await assert_released(core, url)
    assert items == [
        ChunkEvent(event="chunk", data=Text(text="he")),
        ServerSentEvent("usage", '{"input_tokens":3,"output_tokens":5}'),
        StatusEvent(id="AAAAAAAAAA", event="status", data=State(status="completed")),
    ]


async def test_unnamed_event_is_a_message_event_the_union_does_not_know() -> None:
    async with (
        sse_server([b'data: {"text":"x"}\n\n', CHUNK]) as url,
        one_connection_core(url) as core,
    ):
        items = await read_all(core, ENVELOPES)
    assert items == [
        ServerSentEvent("message", '{"text":"x"}'),
        ChunkEvent(event="chunk", data=Text(text="he")),
    ]


async def test_known_event_with_a_malformed_body_raises_with_the_raw_event() -> None:
    bad = b'event: status\nid: BBBBBBBBBB\ndata: {"state":"done"}\n\n'
    async with sse_server([CHUNK, USAGE, bad, STATUS]) as url, one_connection_core(url) as core:
        stream = await core.call(ENVELOPES)
        seen = []
        with pytest.raises(StreamValidationError) as caught:
            async for item in stream:
                seen.append(item)
        await assert_released(core, url)
    assert len(seen) == 2 and isinstance(seen[1], ServerSentEvent)
    assert caught.value.body == 'event: status\nid: BBBBBBBBBB\ndata: {"state":"done"}'
    assert "sessions.stream" in str(caught.value) and "status" in str(caught.value)


@pytest.mark.parametrize("data_line", [b"data:\n", b"data: \n", b"data\n"])
async def test_blank_data_is_no_data(data_line: bytes) -> None:
    # optional data: left unset; unknown event: raw; required data: reported missing
    frames = [
        b"event: ping\n" + data_line + b"\n",
        b"event: usage\n" + data_line + b"\n",
        b"event: chunk\n" + data_line + b"\n",
    ]
    async with sse_server(frames) as url, one_connection_core(url) as core:
        stream = await core.call(ENVELOPES)
        seen = []
        with pytest.raises(StreamValidationError) as caught:
            async for item in stream:
                seen.append(item)
    assert seen[0] == PingEvent(event="ping")
    assert seen[1] == ServerSentEvent("usage", "")
    assert "required field missing @ $.data" in str(caught.value)
    assert caught.value.body.startswith("event: chunk\ndata:")


async def test_event_without_any_data_line_is_never_dispatched() -> None:
    frames = [b"event: status\nid: CCCCCCCCCC\n\n", b": keep-alive\n\n", CHUNK]
    async with sse_server(frames) as url, one_connection_core(url) as core:
        items = await read_all(core, ENVELOPES)
    assert items == [ChunkEvent(event="chunk", data=Text(text="he"))]


async def test_non_json_data_of_a_known_event_raises() -> None:
    async with (
        sse_server([b"event: chunk\ndata: hello\n\n"]) as url,
        one_connection_core(url) as core,
    ):
        with pytest.raises(StreamValidationError) as caught:
            await read_all(core, ENVELOPES)
    assert caught.value.body == "event: chunk\ndata: hello"


# --- streams whose data is the union ----------------------------------------------------


async def test_unknown_type_in_the_event_data_is_handed_out_raw() -> None:
    frames = [
        b'data: {"type":"text","text":"hi"}\n\n',
        b'event: extra\ndata: {"type":"citation","url":"u"}\n\n',
        b'data: {"type":"done"}\n\n',
    ]
    async with sse_server(frames) as url, one_connection_core(url) as core:
        items = await read_all(core, ITEMS)
    assert items == [
        TextItem(type="text", text="hi"),
        ServerSentEvent("extra", '{"type":"citation","url":"u"}'),
        DoneItem(type="done"),
    ]


@pytest.mark.parametrize(
    "data",
    [b'{"text":"no type"}', b'{"type":7}', b'{"type":"text"}', b"[1]", b"not json"],
)
async def test_malformed_item_of_the_union_still_raises(data: bytes) -> None:
    async with sse_server([b"data: " + data + b"\n\n"]) as url, one_connection_core(url) as core:
        with pytest.raises(StreamValidationError) as caught:
            await read_all(core, ITEMS)
        await assert_released(core, url)
    assert caught.value.body == "event: message\ndata: " + data.decode()


# --- NDJSON streams -----------------------------------------------------------------------

LINES = Operation(
    name="items.lines",
    method="GET",
    path="/lines",
    responses=(Response("200", "ndjson", "application/x-ndjson", Item),),
    streaming=True,
)


async def test_ndjson_bad_line_after_good_ones_raises_with_the_raw_line() -> None:
    lines = [b'{"type":"text","text":"a"}\n', b'{"type":"text"}\n', b'{"type":"done"}\n']
    try:
        SERIALIZER.structure({"type": "text"}, Item)
    except StructureError as exc:
        problem = str(exc)
    async with (
        sse_server(lines, "application/x-ndjson") as url,
        one_connection_core(url) as core,
    ):
        stream = await core.call(LINES)
        seen = []
        with pytest.raises(StreamValidationError) as caught:
            async for item in stream:
                seen.append(item)
        await assert_released(core, url)
    assert seen == [TextItem(type="text", text="a")]
    assert caught.value.body == '{"type":"text"}'
    assert "items.lines: stream item does not match the spec" in str(caught.value)
    assert excerpt(problem) in str(caught.value)
    assert isinstance(caught.value.__cause__, StructureError)


async def test_ndjson_lines_of_one_stream_each_become_their_model() -> None:
    lines = [b'{"type":"text","text":"%d"}\n' % index for index in range(50)]
    async with (
        sse_server([*lines, b'{"type":"done"}\n'], "application/x-ndjson") as url,
        one_connection_core(url) as core,
    ):
        items = await read_all(core, LINES)
    assert items[:-1] == [TextItem(type="text", text=str(index)) for index in range(50)]
    assert items[-1] == DoneItem(type="done")


# --- flux0's SessionStream ------------------------------------------------------------


def recorded_frames(name: str) -> list[bytes]:
    text = (FIXTURES / name).read_bytes()
    return [frame + b"\n\n" for frame in text.split(b"\n\n") if frame.strip()]


async def test_flux0_session_stream_with_a_newer_event_type() -> None:
    frames = recorded_frames("echo.sse")
    frames.insert(3, USAGE)
    async with sse_server(frames) as url, Flux0(server_url=url) as flux0:
        stream = await flux0.sessions.create_event(
            session_id="ZdufsAyxKu", type="message", source="user", content="hello"
        )
        async with stream as events:
            received = [event async for event in events]
        assert stream.response.connection is None
        session = flux0._core.session
        assert session is not None and session.connector is not None
        assert not session.connector._acquired  # type: ignore[attr-defined]
    kinds = [type(event).__name__ for event in received]
    assert kinds[:5] == [
        "EmittedEventStream",
        "EmittedEventStream",
        "ChunkEventStream",
        "ServerSentEvent",
        "ChunkEventStream",
    ]
    assert len(received) == len(frames)
    usage = ServerSentEvent("usage", '{"input_tokens":3,"output_tokens":5}', "ZdufsAyxKu")
    assert received[3] == usage  # the last event id persists from the status events
    assert all(
        isinstance(event, (models.ChunkEventStream, models.EmittedEventStream))
        for index, event in enumerate(received)
        if index != 3
    )
