"""A fake flux0 server for tests and demos: in memory, real HTTP, real SSE.

    async with FakeFlux0Server() as server:        # or: with FakeFlux0Server.in_thread()
        client = Flux0(server_url=server.url)

It answers the 8 operations of the flux0 API like the real server (status codes, error
bodies, the SSE wire format) with scripted agents of the types in ``AGENT_TYPES``:
``echo`` replies ``Echo: <message>``; ``echo_think`` reasons first; ``echo_tool`` calls a
``reverse_text`` tool; ``echo_fail`` reports an error status; ``echo_crash`` stops
mid-answer and leaves the stream open; ``echo_long`` streams a long echo reply.
``python -m flux0_async.testing --port 8080`` serves it from the command line. It
depends on aiohttp, anyio and the shared runtime.
"""

from __future__ import annotations

from .agents import AGENT_TYPES
from .server import STATE_KEY, FakeFlux0Server, create_app
from .state import FakeFlux0State

__all__ = ["AGENT_TYPES", "STATE_KEY", "FakeFlux0Server", "FakeFlux0State", "create_app"]
