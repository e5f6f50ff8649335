"""``client.chat.upload_files`` against a real aiohttp server on 127.0.0.1.

The server reads each multipart part as a stream and records its field name, file name,
content type, size and SHA-256 (and the bytes of small parts), so the tests check what
went over the wire, and the large-file test can measure the client's memory.
"""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import hdrs, web
from aiohttp.test_utils import TestServer

from glean_async import Glean, models
from glean_async.utils import BackoffStrategy, RetryConfig

pytestmark = pytest.mark.anyio

UPLOAD = "/rest/api/v1/uploadchatfiles"
KEEP_BYTES = 1024 * 1024  # parts up to this size are kept whole for comparison
READ_SIZE = 64 * 1024
BIG_FILE_BYTES = 20 * 1024 * 1024
CLOSE_GRACE = 0.5  # seconds a file closed in the background has to show it
FAST_RETRIES = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 5_000), False)


@attrs.frozen
class Part:
    """One multipart part as the server received it."""

    name: str | None
    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    content: bytes | None  # None when larger than KEEP_BYTES


@attrs.define
class Uploads:
    """Every upload request the server got (a list of parts each) and failures to fake."""

    requests: list[list[Part]] = attrs.field(factory=list)
    fail_first: int = 0  # answer this many requests with 503 (after reading them)


UPLOADS = web.AppKey("uploads", Uploads)


async def read_part(part: Any) -> Part:
    digest = hashlib.sha256()
    kept = bytearray()
    size = 0
    while chunk := await part.read_chunk(READ_SIZE):
        digest.update(chunk)
        size += len(chunk)
        if size <= KEEP_BYTES:
            kept.extend(chunk)
    content = bytes(kept) if size <= KEEP_BYTES else None
    content_type = part.headers.get(hdrs.CONTENT_TYPE)
    return Part(part.name, part.filename, content_type, size, digest.hexdigest(), content)


async def receive_files(request: web.Request) -> web.Response:
    uploads = request.app[UPLOADS]
    reader = await request.multipart()
    parts = []
    while (part := await reader.next()) is not None:
        parts.append(await read_part(part))
    uploads.requests.append(parts)
    if len(uploads.requests) <= uploads.fail_first:
        return web.Response(status=503)
    files = [{"id": f"file-{n}", "name": part.filename} for n, part in enumerate(parts)]
    return web.json_response({"files": files})


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app[UPLOADS] = Uploads()
    app.router.add_post(UPLOAD, receive_files)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


@pytest.fixture
async def glean(server: TestServer) -> AsyncIterator[Glean]:
    async with Glean("secret-token", server_url=str(server.make_url(""))) as client:
        yield client


def uploads_of(server: TestServer) -> Uploads:
    return server.app[UPLOADS]


@pytest.fixture
def notes(tmp_path: Path) -> Iterator[io.BufferedReader]:
    path = tmp_path / "notes.txt"
    path.write_bytes("meeting notes: caf\u00e9\n".encode())
    with path.open("rb") as handle:
        yield handle


RAW = bytes(range(256)) * 3
PDF = b"%PDF-1.7\n" + bytes(range(255, -1, -1)) * 10
JSON_DOC = b'{"k": [1, 2, 3]}'


async def test_each_kind_of_file_arrives_with_its_bytes_name_and_type(
    server: TestServer, glean: Glean, tmp_path: Path, notes: io.BufferedReader
) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(PDF)
    result = await glean.client.chat.upload_files(
        files=[RAW, notes, pdf, ("data.json", JSON_DOC, "application/json")]
    )
    assert isinstance(result, models.UploadChatFilesResponse)
    [parts] = uploads_of(server).requests
    assert [part.name for part in parts] == ["files"] * 4
    assert [part.content for part in parts] == [RAW, notes_bytes(tmp_path), PDF, JSON_DOC]
    assert all(part.filename for part in parts)  # a file part always carries a name
    assert [part.filename for part in parts[1:]] == ["notes.txt", "report.pdf", "data.json"]
    assert [part.content_type for part in parts] == [
        "application/octet-stream",
        "text/plain",
        "application/pdf",
        "application/json",
    ]
    assert [f.name for f in result.files] == [part.filename for part in parts]


async def test_the_callers_file_object_stays_open(
    server: TestServer, glean: Glean, notes: io.BufferedReader
) -> None:
    await glean.client.chat.upload_files(files=[notes])
    with anyio.move_on_after(CLOSE_GRACE):  # aiohttp closes files on a worker thread
        while not notes.closed:
            await anyio.sleep(0.01)
    assert not notes.closed


def notes_bytes(tmp_path: Path) -> bytes:
    return (tmp_path / "notes.txt").read_bytes()


async def test_a_file_object_is_sent_from_where_it_stands(server: TestServer, glean: Glean) -> None:
    handle = io.BytesIO(b"HEADER|" + RAW)
    handle.seek(len(b"HEADER|"))
    await glean.client.chat.upload_files(files=[("raw.bin", handle, "application/x-raw")])
    [[part]] = uploads_of(server).requests
    assert (part.filename, part.content_type, part.content) == ("raw.bin", "application/x-raw", RAW)


async def test_a_retried_upload_sends_the_same_bytes_again(
    server: TestServer, glean: Glean, tmp_path: Path
) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(PDF)
    uploads_of(server).fail_first = 1
    await glean.client.chat.upload_files(
        files=[pdf, RAW, ("data.json", JSON_DOC, "application/json")], retries=FAST_RETRIES
    )
    first, second = uploads_of(server).requests
    assert first == second
    assert [part.content for part in second] == [PDF, RAW, JSON_DOC]


async def test_a_retried_upload_rewinds_a_file_object(
    server: TestServer, glean: Glean, tmp_path: Path, notes: io.BufferedReader
) -> None:
    uploads_of(server).fail_first = 1
    await glean.client.chat.upload_files(files=[notes], retries=FAST_RETRIES)
    first, second = uploads_of(server).requests
    assert first == second and second[0].content == notes_bytes(tmp_path)


async def test_a_large_path_is_streamed_not_loaded(
    server: TestServer, glean: Glean, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
    digest = hashlib.sha256()
    with big.open("wb") as out:
        for index in range(BIG_FILE_BYTES // len(block)):
            chunk = index.to_bytes(4, "big") + block[4:]
            out.write(chunk)
            digest.update(chunk)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await glean.client.chat.upload_files(files=[big])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [[part]] = uploads_of(server).requests
    assert (part.filename, part.size, part.sha256) == (
        "big.bin",
        BIG_FILE_BYTES,
        digest.hexdigest(),
    )
    # client and server share this process: neither held the file in memory
    assert peak < BIG_FILE_BYTES / 4, f"peak {peak} bytes while uploading {BIG_FILE_BYTES}"
