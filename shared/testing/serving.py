"""Serving an aiohttp app on 127.0.0.1 for tests and demos: the base of the SDKs' fakes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web
from anyio.from_thread import start_blocking_portal

S = TypeVar("S", bound="LocalAppServer")


class LocalAppServer:
    """An aiohttp ``app`` served on ``host`` (a free port when ``port`` is 0).

    ``async with server:`` serves it on the running loop; ``with Cls.in_thread(...) as
    server:`` builds one and serves it on a thread of its own, for blocking code.
    Subclasses build ``self.app`` and call ``super().__init__(app, host=..., port=...)``.
    """

    shutdown_timeout = 5.0

    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not running"
        return f"<{type(self).__name__} {where}>"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise RuntimeError(f"the {type(self).__name__} is not running")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, like ``http://127.0.0.1:43123``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving."""
        if self._runner is not None:
            raise RuntimeError(f"the {type(self).__name__} is already running")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop serving; requests still open are ended."""
        runner, self._runner, self._port = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self: S) -> S:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls: type[S], **options: Any) -> Iterator[S]:
        """Build a server with ``options`` and serve it on its own thread and event loop."""
        server = cls(**options)
        with start_blocking_portal() as portal, portal.wrap_async_context_manager(server):
            yield server
