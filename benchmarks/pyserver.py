"""A minimal HTTP/1.1 server on uvloop for the benchmark: canned answers, keep-alive.

``python -m benchmarks.pyserver --port P --files DIR [--delay-ms D]`` answers

* ``POST /api/index/v1/indexdocuments`` with ``{}``;
* ``POST /rest/api/v1/search`` with ``DIR/search.json``;
* ``POST /rest/api/v1/chat`` with ``DIR/chat.ndjson`` (``text/plain``);
* ``POST /rest/api/v1/agents/runs/stream`` with ``DIR/agent.sse`` (``text/event-stream``).

With ``--delay-ms``, a stream's first line or event is sent at once and the rest ``D`` ms
later: the "time to first event" workload (nginx serves everything else when installed;
this server is its stand-in where nginx is not). It parses only what the benchmark
clients send (``Content-Length`` bodies, no chunked requests) and costs the client nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

ROUTES = {
    b"/api/index/v1/indexdocuments": ("application/json", None),
    b"/rest/api/v1/search": ("application/json", "search.json"),
    b"/rest/api/v1/chat": ("text/plain", "chat.ndjson"),
    b"/rest/api/v1/agents/runs/stream": ("text/event-stream", "agent.sse"),
}
STREAM_SPLIT = {"chat.ndjson": b"\n", "agent.sse": b"\n\n"}


def _head(status: bytes, content_type: str, length: int) -> bytes:
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\nServer: bench\r\n",
            b"Content-Type: " + content_type.encode() + b"\r\n",
            b"Content-Length: " + str(length).encode() + b"\r\n",
            b"Connection: keep-alive\r\n\r\n",
        ]
    )


class Answers:
    """The canned responses: per path, the bytes to send first and those to send later."""

    def __init__(self, files: Path, delay_ms: float) -> None:
        self.delay = delay_ms / 1000
        self.by_path: dict[bytes, tuple[bytes, bytes]] = {}
        for path, (content_type, name) in ROUTES.items():
            body = b"{}" if name is None else (files / name).read_bytes()
            head = _head(b"200 OK", content_type, len(body))
            cut = 0
            if self.delay and name in STREAM_SPLIT:
                cut = body.index(STREAM_SPLIT[name]) + len(STREAM_SPLIT[name])
            if cut:
                self.by_path[path] = (head + body[:cut], body[cut:])
            else:
                self.by_path[path] = (head + body, b"")
        self.not_found = _head(b"404 Not Found", "text/plain", 0)


class HTTPProtocol(asyncio.Protocol):
    """One connection: reads requests one after the other and answers each."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.waiting = False  # the rest of a delayed stream is still to be sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.waiting:
            self._serve()

    def _serve(self) -> None:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].split(b"\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            path = head[0].split(b" ")[1].split(b"?")[0]
            if self._answer(path):
                return

    def _answer(self, path: bytes) -> bool:
        """Send the answer to ``path``; True when the rest is sent later."""
        assert self.transport is not None
        first, rest = self.answers.by_path.get(path, (self.answers.not_found, b""))
        self.transport.write(first)
        if not rest:
            return False
        self.waiting = True
        asyncio.get_running_loop().call_later(self.answers.delay, self._finish, rest)
        return True

    def _finish(self, rest: bytes) -> None:
        assert self.transport is not None
        self.waiting = False
        if not self.transport.is_closing():
            self.transport.write(rest)
            self._serve()


async def serve(port: int, answers: Answers) -> None:
    """Serve on 127.0.0.1:``port`` until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HTTPProtocol(answers), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--files", type=Path, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    answers = Answers(args.files, args.delay_ms)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.port, answers))


if __name__ == "__main__":
    main()
