"""HTTPCore against real aiohttp servers on 127.0.0.1.

Request building, body encoding, dispatch by status and content type, error mapping,
retries, timeouts, cancellation, session ownership, proxies and secrets. Clients that
must show a released connection use a connector limited to one connection: a response
left acquired makes the next request on it wait until its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import io
import json
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.auth import TokenSource
from shared.bodies import prepare_body
from shared.errors import (
    ErrorTypes,
    InvalidInputError,
    ResponseValidationError,
    SDKConnectionError,
    SDKDataError,
    SDKError,
    SDKTimeoutError,
)
from shared.http import CallOptions, ClientConfig, HTTPCore
from shared.operation import Body, Operation, Param, Response
from shared.retries import BackoffStrategy, RetryConfig
from shared.serialization import make_serializer
from shared.servers import ServerTemplate, ServerVariable
from shared.sse import ServerSentEvent
from shared.unset import UNSET, Unset

TOKEN = "tok-SECRET-1234567890"
HANG_SECONDS = 5.0

# --- models, errors, operations -------------------------------------------------------


@attrs.define(slots=True, kw_only=True)
class Thing:
    id: str = attrs.field(metadata={"json": "id"})
    display_name: str | Unset = attrs.field(default=UNSET, metadata={"json": "displayName"})


@attrs.define(slots=True, kw_only=True)
class Problem:
    detail: str = attrs.field(metadata={"json": "detail"})


@attrs.define(slots=True, kw_only=True)
class Chunk:
    text: str = attrs.field(metadata={"json": "text"})


@attrs.define(slots=True, kw_only=True)
class Envelope:
    event: str = attrs.field(metadata={"json": "event"})
    data: Chunk = attrs.field(metadata={"json": "data"})
    id: str | Unset = attrs.field(default=UNSET, metadata={"json": "id"})


@attrs.define(slots=True, kw_only=True)
class Meta:
    kind: str = attrs.field(metadata={"json": "kind"})


@attrs.define(slots=True, kw_only=True)
class Upload:
    files: list[bytes] = attrs.field(metadata={"json": "files"})
    note: str | Unset = attrs.field(default=UNSET, metadata={"json": "noteText"})
    meta: Meta | Unset = attrs.field(default=UNSET, metadata={"json": "meta"})
    tags: list[str] | Unset = attrs.field(default=UNSET, metadata={"json": "tags"})


class APIError(SDKError):
    pass


class APIConnectionError(APIError, SDKConnectionError):
    pass


class APITimeoutError(APIError, SDKTimeoutError):
    pass


class APIResponseValidationError(APIError, ResponseValidationError):
    pass


class ProblemError(APIError, SDKDataError):
    pass


ERRORS = ErrorTypes(
    base=APIError,
    connection=APIConnectionError,
    timeout=APITimeoutError,
    response_validation=APIResponseValidationError,
    by_model={Problem: ProblemError},
)
SERIALIZER = make_serializer()
FAST = RetryConfig("backoff", BackoffStrategy(10, 50, 2.0, 3000), True)
NONE = RetryConfig("none")

JSON_OK = Response("200", "json", "application/json", Thing)
PROBLEM_422 = Response("422", "json", "application/json", Problem)


def op(path: str = "/thing", method: str = "GET", **kwargs: Any) -> Operation:
    kwargs.setdefault("responses", (JSON_OK, PROBLEM_422))
    return Operation(name="things.get", method=method, path=path, **kwargs)


def make_core(base_url: str, **kwargs: Any) -> HTTPCore:
    kwargs.setdefault("retry_config", FAST)
    config = ClientConfig(
        sdk_name="test_sdk",
        servers=[ServerTemplate(base_url)],
        serializer=SERIALIZER,
        errors=ERRORS,
        **kwargs,
    )
    return HTTPCore(config)


# --- the server -----------------------------------------------------------------------


@attrs.define
class Server:
    url: str
    requests: list[web.Request] = attrs.field(factory=list)
    bodies: list[bytes] = attrs.field(factory=list)
    stop: asyncio.Event = attrs.field(factory=asyncio.Event)

    @property
    def count(self) -> int:
        return len(self.requests)

    async def hang(self) -> None:
        """Stay silent until the test ends (bounded)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), HANG_SECONDS)


Handler = Callable[[web.Request, Server], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve(routes: Mapping[str, Handler]) -> AsyncIterator[Server]:
    """Serve ``{"METHOD /path": handler}``; every request is recorded before it is handled."""
    app = web.Application()
    server = Server("")

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def recorded(request: web.Request) -> web.StreamResponse:
            server.requests.append(request)
            if not request.content_type.startswith("multipart/"):
                server.bodies.append(await request.read())
            return await handler(request, server)

        return recorded

    for route, handler in routes.items():
        method, path = route.split(" ", 1)
        app.router.add_route(method, path, wrap(handler))
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    server.url = str(test_server.make_url("")).rstrip("/")
    try:
        yield server
    finally:
        server.stop.set()
        await test_server.close()


def reply_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request, server: Server) -> web.StreamResponse:
        return web.json_response(payload, status=status, headers=headers)

    return handler


def one_connection_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))


async def assert_pool_free(session: aiohttp.ClientSession, url: str) -> None:
    """With a one-connection pool: the next request gets a connection at once."""
    timeout = aiohttp.ClientTimeout(total=2)
    async with session.get(url, timeout=timeout) as response:
        await response.read()


# --- request building -----------------------------------------------------------------


@pytest.mark.anyio
async def test_parameters_in_every_location_and_style() -> None:
    params = (
        Param("id", "id_", "path", str, required=True),
        Param("ver", "ver", "path", list[str], required=True, style="label"),
        Param("m", "m", "path", list[str], required=True, style="matrix", explode=False),
        Param("tags", "tags", "query", list[str]),
        Param("ids", "ids", "query", list[int], explode=False),
        Param("filter", "filter_", "query", dict[str, str], style="deepObject"),
        Param("q", "q", "query", str),
        Param("flag", "flag", "query", bool),
        Param("unused", "unused", "query", str),
        Param("X-Trace", "trace", "header", list[str]),
        Param("sid", "sid", "cookie", str),
    )
    operation = op("/items/{id}/{ver}/{m}", params=params)
    async with serve({"GET /{tail:.*}": reply_json({"id": "1"})}) as server:
        core = make_core(server.url)
        try:
            await core.call(
                operation,
                params={
                    "id_": "a b/c",
                    "ver": ["1", "2"],
                    "m": ["x", "y"],
                    "tags": ["red", "a&b"],
                    "ids": [1, 2],
                    "filter_": {"color": "blue"},
                    "q": "x y",
                    "flag": True,
                    "unused": None,
                    "trace": ["t1", "t2"],
                    "sid": "s1",
                },
            )
        finally:
            await core.aclose()
    request = server.requests[0]
    assert request.raw_path == (
        "/items/a%20b%2Fc/.1.2/;m=x,y?tags=red&tags=a%26b&ids=1,2"
        "&filter%5Bcolor%5D=blue&q=x%20y&flag=true"
    )
    assert request.query.getall("tags") == ["red", "a&b"]
    assert request.query["filter[color]"] == "blue"
    assert request.headers["X-Trace"] == "t1,t2"
    assert request.cookies["sid"] == "s1"


@pytest.mark.anyio
async def test_one_operation_called_again_fills_each_call_anew() -> None:
    params = (
        Param("id", "id_", "path", str, required=True),
        Param("q", "q", "query", str),
        Param("X-Trace", "trace", "header", str),
        Param("sid", "sid", "cookie", str),
    )
    operation = op("/items/{id}/x", params=params)
    async with serve({"GET /{tail:.*}": reply_json({"id": "1"})}) as server:
        core = make_core(server.url)
        try:
            await core.call(operation, params={"id_": "a", "q": "1", "trace": "t", "sid": "s"})
            await core.call(operation, params={"id_": "b/c"})
            with pytest.raises(InvalidInputError, match="is not a parameter"):
                await core.call(operation, params={"id_": "a", "other": 1})
        finally:
            await core.aclose()
    first, second = server.requests
    assert first.raw_path == "/items/a/x?q=1"
    assert (first.headers["X-Trace"], first.cookies["sid"]) == ("t", "s")
    assert second.raw_path == "/items/b%2Fc/x"
    assert "X-Trace" not in second.headers and "Cookie" not in second.headers


@pytest.mark.anyio
async def test_path_placeholder_without_a_parameter_fails_every_call() -> None:
    operation = op("/items/{id}/{nope}", params=(Param("id", "id_", "path", str, True),))
    async with serve({"GET /{tail:.*}": reply_json({"id": "1"})}) as server:
        core = make_core(server.url)
        try:
            for _ in range(2):
                with pytest.raises(ValueError, match=r"has no parameter \{nope\}"):
                    await core.call(operation, params={"id_": "a"})
        finally:
            await core.aclose()
    assert server.count == 0


def test_response_for_follows_the_operation_it_belongs_to() -> None:
    base = op(responses=(JSON_OK, Response("4XX", "text", "text/plain")))
    other = attrs.evolve(base, responses=(Response("default", "empty"),))
    assert base.response_for(200) is JSON_OK
    assert base.response_for(404) is not None and base.response_for(404).kind == "text"
    assert base.response_for(500) is None and base.response_for(302) is None
    assert other.response_for(200) is None
    assert other.response_for(503) == Response("default", "empty")
    assert base == op(responses=(JSON_OK, Response("4XX", "text", "text/plain")))


@pytest.mark.anyio
async def test_default_headers_and_per_call_overrides() -> None:
    operation = op(auth=True)
    async with serve({"GET /thing": reply_json({"id": "1"})}) as server:
        core = make_core(server.url, token=TokenSource(TOKEN))
        try:
            await core.call(operation)
            options = CallOptions(http_headers={"X-Extra": "1", "Accept": "text/plain"})
            await core.call(operation, options=options)
        finally:
            await core.aclose()
    first, second = server.requests
    assert first.headers["User-Agent"].startswith("test_sdk/")
    assert f"aiohttp/{aiohttp.__version__}" in first.headers["User-Agent"]
    assert first.headers["Accept"] == "application/json"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert second.headers["X-Extra"] == "1"
    assert second.headers["Accept"] == "text/plain"


@pytest.mark.anyio
async def test_no_authorization_without_auth_or_token() -> None:
    async with serve({"GET /thing": reply_json({"id": "1"})}) as server:
        with_token = make_core(server.url, token=TokenSource(TOKEN))
        without_token = make_core(server.url)
        try:
            await with_token.call(op(auth=False))
            await without_token.call(op(auth=True))
        finally:
            await with_token.aclose()
            await without_token.aclose()
    assert all("Authorization" not in request.headers for request in server.requests)


@pytest.mark.anyio
async def test_a_refreshed_token_is_sent_on_each_attempt_and_call() -> None:
    tokens = iter(["tok-a", "tok-b", "tok-b", ""])
    seen: list[str | None] = []

    async def flaky(request: web.Request, server: Server) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization"))
        if len(seen) == 1:
            return web.json_response({"detail": "busy"}, status=503)
        return web.json_response({"id": str(len(seen))})

    async with serve({"GET /thing": flaky}) as server:
        core = make_core(server.url, token=TokenSource(lambda: next(tokens)))
        try:
            await core.call(op(auth=True))  # 503 with tok-a, then tok-b
            await core.call(op(auth=True))  # tok-b again
            await core.call(op(auth=True))  # no token: no header
        finally:
            await core.aclose()
    assert seen == ["Bearer tok-a", "Bearer tok-b", "Bearer tok-b", None]


@pytest.mark.anyio
async def test_each_call_goes_to_its_own_path_query_and_server() -> None:
    item = Param("itemId", "item_id", "path", str, required=True)
    limit = Param("limit", "limit", "query", int)
    operation = op("/items/{itemId}", params=(item, limit))
    routes_a = {"GET /items/{itemId}": reply_json({"id": "1"})}
    routes_b = {"GET /items/{itemId}": reply_json({"id": "2"})}
    async with serve(routes_a) as first, serve(routes_b) as second:
        core = make_core(first.url)
        try:
            for params in ({"item_id": "a"}, {"item_id": "b", "limit": 2}, {"item_id": "a"}):
                await core.call(operation, params=params)
            elsewhere = CallOptions(server_url=second.url)
            await core.call(operation, params={"item_id": "a"}, options=elsewhere)
            await core.call(operation, params={"item_id": "c"})
        finally:
            await core.aclose()
    assert [str(r.rel_url) for r in first.requests] == [
        "/items/a",
        "/items/b?limit=2",
        "/items/a",
        "/items/c",
    ]
    assert [str(r.rel_url) for r in second.requests] == ["/items/a"]


@pytest.mark.anyio
async def test_json_body_is_validated_and_sent_in_wire_shape() -> None:
    operation = op(method="POST", body=Body("json", "application/json", Thing, required=True))
    async with serve({"POST /thing": reply_json({"id": "2"})}) as server:
        core = make_core(server.url)
        try:
            result = await core.call(operation, body={"id": "1", "display_name": "One"})
        finally:
            await core.aclose()
    assert result == Thing(id="2")
    assert server.requests[0].headers["Content-Type"] == "application/json"
    assert json.loads(server.bodies[0]) == {"id": "1", "displayName": "One"}


async def read_parts(request: web.Request) -> list[tuple[str, str | None, str, bytes]]:
    parts = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        assert isinstance(part, aiohttp.BodyPartReader)
        content_type = part.headers.get("Content-Type", "")
        parts.append((part.name or "", part.filename, content_type, await part.read()))
    return parts


@pytest.mark.anyio
async def test_multipart_files_and_fields(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7 \x00\xff")
    received: list[list[tuple[str, str | None, str, bytes]]] = []

    async def upload(request: web.Request, server: Server) -> web.StreamResponse:
        received.append(await read_parts(request))
        return web.json_response({"id": "up"})

    body = Body("multipart", "multipart/form-data", Upload, True, file_fields={"files": "files"})
    operation = op(method="POST", body=body)
    handle = io.BytesIO(b"prefix-from-file-object")
    handle.read(7)  # the part starts where the file object stands
    async with serve({"POST /thing": upload}) as server:
        core = make_core(server.url)
        try:
            await core.call(
                operation,
                body={
                    "files": [
                        b"raw bytes",
                        ("notes.txt", b"hello", "text/x-notes"),
                        path,
                        handle,
                        ("b.json", io.BytesIO(b"{}")),
                    ],
                    "note": "a note",
                    "meta": {"kind": "k"},
                    "tags": ["x", "y"],
                },
            )
        finally:
            await core.aclose()
    assert not handle.closed
    assert received[0] == [
        ("files", "files", "application/octet-stream", b"raw bytes"),
        ("files", "notes.txt", "text/x-notes", b"hello"),
        ("files", "report.pdf", "application/pdf", b"%PDF-1.7 \x00\xff"),
        ("files", "files", "application/octet-stream", b"from-file-object"),
        ("files", "b.json", "application/json", b"{}"),
        ("noteText", None, "text/plain; charset=utf-8", b"a note"),
        ("meta", None, "application/json", b'{"kind":"k"}'),
        ("tags", None, "text/plain; charset=utf-8", b"x"),
        ("tags", None, "text/plain; charset=utf-8", b"y"),
    ]


@pytest.mark.anyio
async def test_multipart_retry_resends_the_same_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789" * 1000)
    received: list[bytes] = []

    async def flaky(request: web.Request, server: Server) -> web.StreamResponse:
        parts = await read_parts(request)
        received.append(b"|".join(part[3] for part in parts))
        status = 503 if len(received) == 1 else 200
        return web.json_response({"id": "u"}, status=status)

    body = Body("multipart", "multipart/form-data", Upload, True, file_fields={"files": "files"})
    handle = io.BytesIO(b"file object bytes")
    async with serve({"POST /thing": flaky}) as server:
        core = make_core(server.url)
        try:
            await core.call(op(method="POST", body=body), body={"files": [path, handle]})
        finally:
            await core.aclose()
    assert len(received) == 2
    assert received[0] == received[1] == b"0123456789" * 1000 + b"|file object bytes"


@pytest.mark.anyio
async def test_text_bytes_and_form_bodies() -> None:
    ok = (Response("204", "empty"),)
    text = op(method="POST", responses=ok, body=Body("text", "text/plain", str))
    octets = op(method="POST", responses=ok, body=Body("bytes", "application/octet-stream", bytes))
    form = op(
        method="POST",
        responses=ok,
        body=Body("form", "application/x-www-form-urlencoded", Thing),
    )
    async with serve({"POST /thing": raw(b"", None, 204)}) as server:
        core = make_core(server.url)
        try:
            assert await core.call(text, body="caf\xe9") is None
            assert await core.call(octets, body=io.BytesIO(b"\x00streamed")) is None
            await core.call(form, body=Thing(id="a b", display_name="x&y"))
        finally:
            await core.aclose()
    assert server.bodies == ["caf\xe9".encode(), b"\x00streamed", b"id=a%20b&displayName=x%26y"]
    content_types = [request.headers["Content-Type"] for request in server.requests]
    assert content_types[0] == "text/plain"
    assert content_types[2] == "application/x-www-form-urlencoded"


class OneShot(io.RawIOBase):
    """A readable stream that cannot seek (like a pipe)."""

    def readable(self) -> bool:
        return True


def test_prepare_body_lays_out_each_kind_once() -> None:
    upload = Body("multipart", "multipart/form-data", Upload, True, file_fields={"files": "files"})
    assert prepare_body(None, UNSET, SERIALIZER) is None
    assert prepare_body(Body("json", "application/json", Thing), UNSET, SERIALIZER) is None
    json_body = prepare_body(Body("json", "application/vnd.x+json", Thing), {"id": "1"}, SERIALIZER)
    assert json_body is not None and json_body.content_type == "application/vnd.x+json"
    assert json_body.data == b'{"id":"1"}' and json_body.replayable
    assert json_body.describe() == "application/vnd.x+json 10 bytes"
    multipart = prepare_body(upload, {"files": [b"x", io.BytesIO(b"y")], "note": "n"}, SERIALIZER)
    assert multipart is not None and multipart.content_type is None  # aiohttp sets it
    assert multipart.replayable and multipart.describe() == "multipart (3 parts, 2 files)"
    one_shot = prepare_body(upload, {"files": [b"x", OneShot()]}, SERIALIZER)
    assert one_shot is not None and not one_shot.replayable
    with pytest.raises(InvalidInputError, match="is not a field") as caught:
        prepare_body(upload, {"files": b"x", "noise": 1}, SERIALIZER)
    assert caught.value.field == "request.noise"


@pytest.mark.anyio
async def test_a_body_that_cannot_be_rewound_is_sent_once() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"one-shot")
    os.close(write_end)
    octets = op(method="POST", body=Body("bytes", "application/octet-stream", bytes))
    async with serve({"POST /thing": statuses((503, {}))}) as server:
        core = make_core(server.url)
        try:
            with open(read_end, "rb") as pipe, pytest.raises(APIError) as caught:
                await core.call(octets, body=pipe)
        finally:
            await core.aclose()
    assert caught.value.status_code == 503
    assert server.count == 1
    assert server.bodies == [b"one-shot"]


@pytest.mark.anyio
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
async def test_path_argument_is_streamed_not_read_whole(tmp_path: Path) -> None:
    """The file is a pipe whose second half is written only after the server has received
    the first half: reading the whole file before sending would never finish."""
    fifo = tmp_path / "pipe.bin"
    os.mkfifo(fifo)
    first, second = b"a" * 4 * 65536, b"b" * 1000
    first_seen = threading.Event()
    streamed: list[bool] = []

    def writer() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(first)
            pipe.flush()
            streamed.append(first_seen.wait(HANG_SECONDS))
            pipe.write(second)

    async def upload(request: web.Request, server: Server) -> web.StreamResponse:
        reader = await request.multipart()
        part = await reader.next()
        assert isinstance(part, aiohttp.BodyPartReader)
        data = b""
        while chunk := await part.read_chunk(8192):
            data += chunk
            if len(data) >= len(first) // 2:  # the reader holds back a little for the boundary
                first_seen.set()
        return web.json_response({"id": str(len(data)), "displayName": part.filename})

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    body = Body("multipart", "multipart/form-data", Upload, True, file_fields={"files": "files"})
    async with serve({"POST /thing": upload}) as server:
        core = make_core(server.url, timeout_ms=int(HANG_SECONDS * 1000))
        try:
            result = await core.call(op(method="POST", body=body), body={"files": fifo})
        finally:
            await core.aclose()
    thread.join(HANG_SECONDS)
    assert streamed == [True]
    assert result == Thing(id=str(len(first) + len(second)), display_name="pipe.bin")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "body", "field"),
    [
        ({"id_": "1", "q": 3}, {"id": "1"}, "q"),
        ({}, UNSET, "id_"),
        ({"id_": None}, UNSET, "id_"),
        ({"id_": "1", "nope": 1}, UNSET, "nope"),
        ({"id_": "1"}, {"id": 5}, "request.id"),
        ({"id_": "1"}, UNSET, "request"),
        ({"id_": "1", "h": "a\r\nInjected: 1"}, {"id": "1"}, "h"),
    ],
)
async def test_bad_input_fails_before_any_request(
    params: dict[str, Any], body: Any, field: str
) -> None:
    operation = op(
        "/thing/{id}",
        method="POST",
        params=(
            Param("id", "id_", "path", str, required=True),
            Param("q", "q", "query", str),
            Param("H", "h", "header", str),
        ),
        body=Body("json", "application/json", Thing, required=True),
    )
    async with serve({"POST /{tail:.*}": reply_json({"id": "1"})}) as server:
        core = make_core(server.url)
        try:
            with pytest.raises(InvalidInputError) as caught:
                await core.call(operation, params=params, body=body)
        finally:
            await core.aclose()
    assert caught.value.field == field
    assert server.count == 0


@pytest.mark.anyio
async def test_bad_file_and_header_arguments_fail_before_any_request(tmp_path: Path) -> None:
    body = Body("multipart", "multipart/form-data", Upload, True, file_fields={"files": "files"})
    async with serve({"POST /thing": reply_json({"id": "1"})}) as server:
        core = make_core(server.url)
        try:
            with pytest.raises(InvalidInputError, match="no such file"):
                await core.call(op(method="POST", body=body), body={"files": tmp_path / "x"})
            with pytest.raises(InvalidInputError, match="binary mode"):
                await core.call(op(method="POST", body=body), body={"files": io.StringIO("t")})
            with pytest.raises(InvalidInputError, match="required"):
                await core.call(op(method="POST", body=body), body={"note": "no files"})
            bad_header = CallOptions(http_headers={"X-A": "1\n2"})
            with pytest.raises(InvalidInputError, match="http_headers"):
                await core.call(op(method="POST"), options=bad_header)
            with pytest.raises(InvalidInputError, match="timeout_ms"):
                await core.call(op(method="POST"), options=CallOptions(timeout_ms=0))
        finally:
            await core.aclose()
    assert server.count == 0


# --- dispatch -------------------------------------------------------------------------


def raw(body: bytes, content_type: str | None, status: int = 200) -> Handler:
    async def handler(request: web.Request, server: Server) -> web.StreamResponse:
        response = web.Response(body=body, status=status)
        if content_type is None:
            response.headers.popall("Content-Type", None)
        else:
            response.headers["Content-Type"] = content_type
        return response

    return handler


@pytest.mark.anyio
async def test_success_bodies_by_kind() -> None:
    routes: dict[str, Handler] = {
        "GET /json": raw(b'{"id":"7","displayName":"Seven","unknown":1}', "application/json"),
        "GET /empty-json": raw(b"", "application/json"),
        "GET /no-content": raw(b"", None, 204),
        "GET /text": raw("caf\xe9".encode("latin-1"), "text/csv; charset=latin-1"),
        "GET /bytes": raw(b"\x00\x01", "application/octet-stream"),
        "GET /undeclared": raw(b'{"id":"1"}', "application/json"),
    }
    async with serve(routes) as server:
        core = make_core(server.url)
        try:
            assert await core.call(op("/json")) == Thing(id="7", display_name="Seven")
            assert await core.call(op("/empty-json")) is None
            no_content = (Response("204", "empty"),)
            assert await core.call(op("/no-content", responses=no_content)) is None
            text = (Response("200", "text", "text/csv; charset=UTF-8", str),)
            assert await core.call(op("/text", responses=text)) == "caf\xe9"
            octets = (Response("200", "bytes", "application/octet-stream", bytes),)
            assert await core.call(op("/bytes", responses=octets)) == b"\x00\x01"
            assert await core.call(op("/undeclared", responses=())) is None
        finally:
            await core.aclose()


@pytest.mark.anyio
async def test_unexpected_success_bodies_raise_response_validation_errors() -> None:
    html = b"<html><body>Sign in to continue</body></html>"
    routes = {
        "GET /html": raw(html, "text/html"),
        "GET /not-json": raw(b"{oops", "application/json"),
        "GET /wrong-shape": raw(b'{"name":"no id"}', "application/json"),
    }
    async with serve(routes) as server:
        core = make_core(server.url)
        try:
            with pytest.raises(APIResponseValidationError) as html_error:
                await core.call(op("/html"))
            with pytest.raises(APIResponseValidationError) as parse_error:
                await core.call(op("/not-json"))
            with pytest.raises(APIResponseValidationError) as shape_error:
                await core.call(op("/wrong-shape"))
        finally:
            await core.aclose()
    assert html_error.value.body == html.decode()
    assert "Sign in" in str(html_error.value)
    assert html_error.value.status_code == 200
    assert parse_error.value.body == "{oops"
    assert shape_error.value.body == '{"name":"no id"}'
    assert "things.get" in str(shape_error.value)


async def sse_handler(request: web.Request, server: Server) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'event: chunk\ndata: {"text":"he"}\n\n')
    await response.write(b'event: chunk\nid: 1\ndata: {"text":"llo"}\n\n')
    if request.query.get("bad"):
        await response.write(b'event: chunk\ndata: {"nope":1}\n\n')
    await response.write_eof()
    return response


@pytest.mark.anyio
async def test_sse_stream_items_structured_plain_and_as_envelopes() -> None:
    plain = (Response("200", "sse", "text/event-stream", Chunk),)
    envelope = (Response("200", "sse", "text/event-stream", Envelope, sse_envelope=True),)
    untyped = (Response("200", "sse", "text/event-stream"),)
    async with serve({"GET /events": sse_handler}) as server:
        core = make_core(server.url)
        try:
            stream = await core.call(op("/events", responses=plain, streaming=True))
            async with stream as events:
                assert [item async for item in events] == [Chunk(text="he"), Chunk(text="llo")]
            stream = await core.call(op("/events", responses=envelope, streaming=True))
            assert [item async for item in stream] == [
                Envelope(event="chunk", data=Chunk(text="he")),
                Envelope(event="chunk", data=Chunk(text="llo"), id="1"),
            ]
            stream = await core.call(op("/events", responses=untyped, streaming=True))
            items = [item async for item in stream]
            assert items[1] == ServerSentEvent("chunk", '{"text":"llo"}', "1")
        finally:
            await core.aclose()
    assert server.requests[0].headers["Accept"] == "text/event-stream"


@pytest.mark.anyio
async def test_bad_stream_item_raises_response_validation_error_with_the_event() -> None:
    plain = (Response("200", "sse", "text/event-stream", Chunk),)
    async with serve({"GET /events": sse_handler}) as server:
        core = make_core(server.url)
        try:
            stream = await core.call(
                op("/events", responses=plain, streaming=True, params=(bad_param,)),
                params={"bad": "1"},
            )
            seen = []
            with pytest.raises(APIResponseValidationError) as caught:
                async for item in stream:
                    seen.append(item)
        finally:
            await core.aclose()
    assert len(seen) == 2
    assert '{"nope":1}' in caught.value.body


bad_param = Param("bad", "bad", "query", str)


@pytest.mark.anyio
async def test_ndjson_stream() -> None:
    async def ndjson(request: web.Request, server: Server) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b'{"text":"a"}\n{"te')
        await response.write(b'xt":"b"}\n\n{"text":"c"}')
        await response.write_eof()
        return response

    declared = (Response("200", "ndjson", "text/plain", Chunk),)
    async with serve({"POST /chat": ndjson}) as server:
        core = make_core(server.url)
        try:
            stream = await core.call(op("/chat", method="POST", responses=declared, streaming=True))
            assert [item.text async for item in stream] == ["a", "b", "c"]
        finally:
            await core.aclose()


@pytest.mark.anyio
async def test_stream_answered_with_json_is_a_response_validation_error() -> None:
    declared = (Response("200", "sse", "text/event-stream", Chunk),)
    async with serve({"GET /events": raw(b'{"error":"no stream"}', "application/json")}) as s:
        core = make_core(s.url)
        try:
            with pytest.raises(APIResponseValidationError) as caught:
                await core.call(op("/events", responses=declared, streaming=True))
        finally:
            await core.aclose()
    assert caught.value.body == '{"error":"no stream"}'


# --- errors ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_error_statuses_map_to_sdk_errors() -> None:
    routes = {
        "GET /problem": reply_json({"detail": "id must be 10 chars"}, 422, {"X-Req": "r1"}),
        "GET /odd-problem": reply_json({"detail": ["a", "list"]}, status=422),
        "GET /missing": raw(b"Not here", "text/plain", 404),
    }
    async with serve(routes) as server:
        core = make_core(server.url)
        try:
            with pytest.raises(ProblemError) as problem:
                await core.call(op("/problem"))
            with pytest.raises(APIError) as odd:
                await core.call(op("/odd-problem"))
            with pytest.raises(APIError) as missing:
                await core.call(op("/missing"))
        finally:
            await core.aclose()
    error = problem.value
    assert error.data == Problem(detail="id must be 10 chars")
    assert error.status_code == 422
    assert json.loads(error.body) == {"detail": "id must be 10 chars"}
    assert error.headers["X-Req"] == "r1"
    assert error.raw_response is not None and error.raw_response.closed
    assert str(error).startswith("things.get: HTTP 422")
    assert type(odd.value) is APIError
    assert json.loads(odd.value.body) == {"detail": ["a", "list"]}
    assert type(missing.value) is APIError
    assert missing.value.status_code == 404
    assert missing.value.body == "Not here"
    assert "Not here" in str(missing.value)


@pytest.mark.anyio
async def test_connection_refused_is_an_sdk_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    core = make_core(f"http://127.0.0.1:{port}", retry_config=NONE)
    try:
        with pytest.raises(APIConnectionError) as caught:
            await core.call(op())
    finally:
        await core.aclose()
    assert isinstance(caught.value, ConnectionError)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectionError)


# --- retries --------------------------------------------------------------------------


def statuses(*answers: tuple[int, dict[str, str]]) -> Handler:
    """Answer the n-th request with the n-th (status, headers), then 200 {"id": "ok"}."""

    async def handler(request: web.Request, server: Server) -> web.StreamResponse:
        index = server.count - 1
        if index < len(answers):
            status, headers = answers[index]
            return web.json_response({"detail": "later"}, status=status, headers=headers)
        return web.json_response({"id": "ok"})

    return handler


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def capture_logger(name: str) -> tuple[logging.Logger, Lines]:
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    lines = Lines()
    logger.handlers = [lines]
    return logger, lines


@pytest.mark.anyio
async def test_429_retry_after_seconds_and_http_date_are_honoured() -> None:
    soon = email.utils.format_datetime(
        datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2), usegmt=True
    )
    handler = statuses((429, {"Retry-After": "1"}), (503, {"Retry-After": soon}))
    logger, lines = capture_logger("test_sdk.retry_after")
    async with serve({"GET /thing": handler}) as server:
        core = make_core(server.url, debug_logger=logger)
        started = time.monotonic()
        try:
            assert await core.call(op()) == Thing(id="ok")
        finally:
            await core.aclose()
    assert server.count == 3
    assert time.monotonic() - started >= 1.0
    retries = [line for line in lines.lines if line.startswith("retrying")]
    assert retries[0] == "retrying in 1.0 s after 429"
    assert retries[1].endswith("after 503")
    assert 0.0 <= float(retries[1].split()[2]) <= 2.0


@pytest.mark.anyio
async def test_503_then_success() -> None:
    async with serve({"GET /thing": statuses((503, {}), (502, {}))}) as server:
        core = make_core(server.url)
        try:
            assert await core.call(op()) == Thing(id="ok")
        finally:
            await core.aclose()
    assert server.count == 3


@pytest.mark.anyio
async def test_dropped_connection_then_success() -> None:
    """A raw server that closes the first connection without answering (POST: aiohttp
    itself retries an idempotent request once on such a drop)."""
    connections = 0

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        if connections > 1:
            body = b'{"id":"again"}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        writer.close()

    tcp = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    core = make_core(f"http://127.0.0.1:{port}")
    try:
        assert await core.call(op(method="POST")) == Thing(id="again")
        no_retry_on_drop = RetryConfig("backoff", BackoffStrategy(10, 50, 2.0, 3000), False)
        connections = 0
        with pytest.raises(APIConnectionError):
            await core.call(op(method="POST"), options=CallOptions(retries=no_retry_on_drop))
    finally:
        await core.aclose()
        tcp.close()
        await tcp.wait_closed()
    assert connections == 1


@pytest.mark.anyio
async def test_gives_up_after_max_elapsed_time_with_the_last_error() -> None:
    async def always_503(request: web.Request, server: Server) -> web.StreamResponse:
        detail = f"attempt {server.count}"
        return web.json_response({"detail": detail}, status=503)

    quick = RetryConfig("backoff", BackoffStrategy(20, 40, 2.0, 300), True)
    async with serve({"GET /thing": always_503}) as server:
        core = make_core(server.url, retry_config=quick)
        started = time.monotonic()
        try:
            with pytest.raises(APIError) as caught:
                await core.call(op())
        finally:
            await core.aclose()
    assert server.count >= 3
    assert caught.value.status_code == 503
    assert json.loads(caught.value.body) == {"detail": f"attempt {server.count}"}
    assert time.monotonic() - started < 3


@pytest.mark.anyio
async def test_retry_after_beyond_max_elapsed_gives_up_at_once() -> None:
    async with serve({"GET /thing": statuses((429, {"Retry-After": "120"}))}) as server:
        core = make_core(server.url)
        try:
            with pytest.raises(APIError) as caught:
                await core.call(op())
        finally:
            await core.aclose()
    assert server.count == 1
    assert caught.value.status_code == 429
    assert caught.value.headers["Retry-After"] == "120"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 501])
async def test_client_errors_are_not_retried(status: int) -> None:
    async with serve({"GET /thing": statuses((status, {}))}) as server:
        core = make_core(server.url)
        try:
            with pytest.raises(APIError) as caught:
                await core.call(op())
        finally:
            await core.aclose()
    assert server.count == 1
    assert caught.value.status_code == status


@pytest.mark.anyio
async def test_per_call_retry_config_none_disables_retries() -> None:
    async with serve({"GET /thing": statuses((503, {}))}) as server:
        core = make_core(server.url)
        try:
            with pytest.raises(APIError):
                await core.call(op(), options=CallOptions(retries=NONE))
        finally:
            await core.aclose()
    assert server.count == 1


@pytest.mark.anyio
async def test_response_is_released_before_the_retry_wait() -> None:
    """During the Retry-After wait, the only pooled connection is free for another call."""
    side_calls: list[int] = []

    async def side(request: web.Request, server: Server) -> web.StreamResponse:
        side_calls.append(server.count)
        return web.json_response({"id": "side"})

    routes = {"GET /thing": statuses((503, {"Retry-After": "1"})), "GET /side": side}
    session = one_connection_session()
    try:
        async with serve(routes) as server:
            core = make_core(server.url, session=session)
            call = asyncio.ensure_future(core.call(op()))
            while server.count == 0:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            await assert_pool_free(session, server.url + "/side")
            assert await call == Thing(id="ok")
            await core.aclose()
    finally:
        await session.close()
    assert side_calls == [2]  # the side request came between the two attempts


# --- timeouts and cancellation --------------------------------------------------------


async def slow(request: web.Request, server: Server) -> web.StreamResponse:
    await server.hang()
    return web.json_response({"id": "late"})


@pytest.mark.anyio
async def test_slow_server_times_out() -> None:
    async with serve({"GET /thing": slow}) as server:
        core = make_core(server.url, retry_config=NONE, timeout_ms=5000)
        try:
            with pytest.raises(APITimeoutError) as caught:
                await core.call(op(), options=CallOptions(timeout_ms=200))
        finally:
            await core.aclose()
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value.__cause__, asyncio.TimeoutError)


@pytest.mark.anyio
async def test_timeouts_are_retried_as_connection_errors() -> None:
    async def slow_once(request: web.Request, server: Server) -> web.StreamResponse:
        if server.count == 1:
            await server.hang()
        return web.json_response({"id": "second"})

    async with serve({"GET /thing": slow_once}) as server:
        core = make_core(server.url, timeout_ms=300)
        try:
            assert await core.call(op()) == Thing(id="second")
        finally:
            await core.aclose()
    assert server.count == 2


async def silent_stream(request: web.Request, server: Server) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'data: {"text":"first"}\n\n')
    await server.hang()
    return response


@pytest.mark.anyio
async def test_silent_stream_times_out_on_read() -> None:
    declared = (Response("200", "sse", "text/event-stream", Chunk),)
    async with serve({"GET /events": silent_stream}) as server:
        core = make_core(server.url, timeout_ms=300)
        try:
            stream = await core.call(op("/events", responses=declared, streaming=True))
            seen = []
            with pytest.raises(APITimeoutError):
                async for item in stream:
                    seen.append(item)
        finally:
            await core.aclose()
    assert seen == [Chunk(text="first")]


@pytest.mark.anyio
async def test_cancelling_mid_request_leaves_no_acquired_connection() -> None:
    session = one_connection_session()
    try:
        async with serve({"GET /thing": slow, "GET /side": reply_json({"id": "s"})}) as server:
            core = make_core(server.url, session=session)
            call = asyncio.ensure_future(core.call(op()))
            while server.count == 0:
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await assert_pool_free(session, server.url + "/side")
    finally:
        await session.close()


@pytest.mark.anyio
async def test_cancelling_mid_body_read_leaves_no_acquired_connection() -> None:
    async def half_body(request: web.Request, server: Server) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"id": "par')
        await server.hang()
        return response

    session = one_connection_session()
    try:
        routes = {"GET /thing": half_body, "GET /side": reply_json({"id": "s"})}
        async with serve(routes) as server:
            core = make_core(server.url, session=session)
            call = asyncio.ensure_future(core.call(op()))
            while server.count == 0:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await assert_pool_free(session, server.url + "/side")
    finally:
        await session.close()


@pytest.mark.anyio
async def test_cancelling_mid_stream_leaves_no_acquired_connection() -> None:
    declared = (Response("200", "sse", "text/event-stream", Chunk),)
    session = one_connection_session()
    first = asyncio.Event()

    async def consume(core: HTTPCore) -> None:
        stream = await core.call(op("/events", responses=declared, streaming=True))
        async for _ in stream:
            first.set()

    try:
        routes = {"GET /events": silent_stream, "GET /side": reply_json({"id": "s"})}
        async with serve(routes) as server:
            core = make_core(server.url, session=session)
            task = asyncio.ensure_future(consume(core))
            await asyncio.wait_for(first.wait(), HANG_SECONDS)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await assert_pool_free(session, server.url + "/side")
    finally:
        await session.close()


# --- sessions, servers, proxies -------------------------------------------------------


@pytest.mark.anyio
async def test_borrowed_session_is_used_and_never_closed() -> None:
    session = aiohttp.ClientSession()
    try:
        async with serve({"GET /thing": reply_json({"id": "1"})}) as server:
            core = make_core(server.url, session=session)
            assert core.session is session
            await core.call(op())
            await core.aclose()
            assert not session.closed
            async with session.get(server.url + "/thing") as response:
                assert response.status == 200
    finally:
        await session.close()


@pytest.mark.anyio
async def test_owned_session_is_lazy_and_is_closed_by_aclose() -> None:
    async with serve({"GET /thing": reply_json({"id": "1"})}) as server:
        core = make_core(server.url)
        assert core.session is None
        await core.call(op())
        session = core.session
        assert session is not None  # proxies: see test_proxy_env_var_is_honoured
        assert session.timeout.total is None
        await core.call(op())
        assert core.session is session
        await core.aclose()
        await core.aclose()
    assert session.closed and core.closed
    with pytest.raises(RuntimeError, match="closed"):
        await core.call(op())


def test_owned_session_is_replaced_when_the_event_loop_changes() -> None:
    """A call from another event loop gets a new session; the old loop's one is left
    open (it can only be closed from its own loop)."""
    server_loop = asyncio.new_event_loop()
    box: dict[str, Any] = {}

    async def thing(request: web.Request) -> web.Response:
        return web.json_response({"id": "t"})

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/thing", thing)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        box["runner"] = runner
        box["port"] = runner.addresses[0][1]

    thread = threading.Thread(target=server_loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), server_loop).result(HANG_SECONDS)
    core = make_core(f"http://127.0.0.1:{box['port']}")

    async def call() -> aiohttp.ClientSession | None:
        assert await core.call(op()) == Thing(id="t")
        return core.session

    first_loop, second_loop = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        first = first_loop.run_until_complete(call())
        second = second_loop.run_until_complete(call())
        assert first is not None and second is not None and first is not second
        assert not first.closed
        second_loop.run_until_complete(core.aclose())
        assert second.closed and not first.closed
        first_loop.run_until_complete(first.close())
    finally:
        first_loop.close()
        second_loop.close()
        asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), server_loop).result(5)
        server_loop.call_soon_threadsafe(server_loop.stop)
        thread.join(HANG_SECONDS)
        server_loop.close()


@pytest.mark.anyio
async def test_owned_session_is_replaced_not_closed_in_a_forked_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serve({"GET /thing": reply_json({"id": "1"})}) as server:
        core = make_core(server.url)
        await core.call(op())
        parent_session = core.session
        parent_pid = os.getpid()
        monkeypatch.setattr(os, "getpid", lambda: parent_pid + 1)
        await core.call(op())
        assert core.session is not parent_session
        assert parent_session is not None and not parent_session.closed
        await core.aclose()
        monkeypatch.undo()
        await parent_session.close()  # only because this "child" is really the parent


@pytest.mark.anyio
async def test_per_call_server_url_overrides_the_client_server() -> None:
    async with (
        serve({"GET /thing": reply_json({"id": "main"})}) as main,
        serve({"GET /thing": reply_json({"id": "other"})}) as other,
    ):
        core = make_core(main.url)
        try:
            options = CallOptions(server_url=other.url + "/")
            assert await core.call(op(), options=options) == Thing(id="other")
            assert await core.call(op()) == Thing(id="main")
        finally:
            await core.aclose()


def test_server_variables_are_checked_when_the_client_is_built() -> None:
    template = ServerTemplate(
        "http://{instance}-be.example.test:{port}",
        {"instance": ServerVariable("acme"), "port": ServerVariable("80", ("80", "8080"))},
    )

    def build(**kwargs: Any) -> HTTPCore:
        return HTTPCore(
            ClientConfig(
                sdk_name="t", servers=[template], serializer=SERIALIZER, errors=ERRORS, **kwargs
            )
        )

    assert "acme-be.example.test" in repr(build())
    assert "corp-be.example.test:8080" in repr(
        build(server_variables={"instance": "corp", "port": "8080"})
    )
    with pytest.raises(ValueError, match="instance"):
        build(server_variables={"instance": "evil.com/x"})
    with pytest.raises(ValueError, match="server_idx"):
        build(server_idx=3)
    with pytest.raises(ValueError, match="server_url"):
        build(server_url="ftp://example.test")


@pytest.mark.anyio
async def test_proxy_env_var_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []

    async def proxy(request: web.Request, server: Server) -> web.StreamResponse:
        lines.append(f"{request.method} {request.raw_path} {request.host}")
        return web.json_response({"id": "via-proxy"})

    async with serve({"GET /{tail:.*}": proxy}) as server:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", server.url)
        monkeypatch.setenv("http_proxy", server.url)
        core = make_core("http://sdk-target.invalid/api", retry_config=NONE)
        try:
            assert await core.call(op()) == Thing(id="via-proxy")
        finally:
            await core.aclose()
    assert lines == ["GET http://sdk-target.invalid/api/thing sdk-target.invalid"]


# --- secrets --------------------------------------------------------------------------


def sync_token() -> str:
    return TOKEN


async def async_token() -> str:
    await asyncio.sleep(0)
    return TOKEN


@pytest.mark.anyio
@pytest.mark.parametrize("supplier", [TOKEN, sync_token, async_token])
async def test_token_never_in_logs_reprs_or_errors(supplier: Any) -> None:
    async def echo_auth(request: web.Request, server: Server) -> web.StreamResponse:
        text = f"bad credentials: {request.headers.get('Authorization')}"
        return web.Response(text=text, status=401)

    flaky_calls: list[str] = []

    async def echo_then_fail(request: web.Request, server: Server) -> web.StreamResponse:
        flaky_calls.append(request.headers["Authorization"])
        if len(flaky_calls) == 1:
            return web.json_response({"detail": flaky_calls[0]}, status=503)
        return web.Response(text=f"<p>{flaky_calls[-1]}</p>", content_type="text/html")

    logger, lines = capture_logger("test_sdk.secrets")
    routes = {"GET /thing": echo_auth, "GET /flaky": echo_then_fail}
    async with serve(routes) as server:
        core = make_core(server.url, token=TokenSource(supplier), debug_logger=logger)
        options = CallOptions(http_headers={"Authorization": f"Bearer {TOKEN}"})
        messages = [repr(core), repr(core.config), repr(options)]
        try:
            for path in ("/thing", "/flaky"):
                with pytest.raises(APIError) as caught:
                    await core.call(op(path, auth=True))
                messages += [str(caught.value), repr(caught.value)]
            messages.append(repr(core.config.token))
        finally:
            await core.aclose()
    assert server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert any(line.startswith("-> GET") for line in lines.lines)
    assert any(line.startswith("<- 401") for line in lines.lines)
    assert any(line.startswith("retrying") for line in lines.lines)
    for text in messages + lines.lines:
        assert TOKEN not in text
    assert "[REDACTED]" in "\n".join(lines.lines)
