"""A tiny async client (aiohttp, session created lazily in the running loop) and its
sync facade built on ``shared.runtime``; used by tests/test_runtime.py and its scripts."""

from __future__ import annotations

import aiohttp

from shared.runtime import SyncClientBase, SyncEventStream


class ToyStream:
    """Async iterator over the lines of a live response; a line starting "bad" fails."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.aclose_calls = 0

    def __aiter__(self) -> ToyStream:
        return self

    async def __anext__(self) -> str:
        line = await self._response.content.readline()
        if not line:
            await self.aclose()
            raise StopAsyncIteration
        text = line.decode().rstrip("\n")
        if text.startswith("bad"):
            raise ValueError(f"bad event {text!r}")
        return text

    async def aclose(self) -> None:
        self.aclose_calls += 1
        self._response.close()


class ToyClient:
    """Async client: one ``aiohttp.ClientSession`` made on first use, in the running loop."""

    def __init__(self, base_url: str, limit: int = 4) -> None:
        self.base_url = base_url
        self.limit = limit
        self.sessions_created = 0
        self.closed = False
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.limit)
            self._session = aiohttp.ClientSession(self.base_url, connector=connector)
            self.sessions_created += 1
        return self._session

    async def get(self, path: str) -> str:
        async with self.session().get(path) as response:
            response.raise_for_status()
            return await response.text()

    async def get_via(self, path: str) -> tuple[str, int]:
        """The body and the id of the connector that carried the request."""
        return await self.get(path), id(self.session().connector)

    async def stream(self, path: str) -> ToyStream:
        response = await self.session().get(path)
        response.raise_for_status()
        return ToyStream(response)

    async def aclose(self) -> None:
        self.closed = True
        if self._session is not None:
            await self._session.close()


class ToySyncClient(SyncClientBase[ToyClient]):
    """What a generated sync facade looks like: each method runs the async one."""

    def __init__(self, base_url: str, limit: int = 4) -> None:
        super().__init__(lambda: ToyClient(base_url, limit))

    def get(self, path: str) -> str:
        return self._run(lambda client: client.get(path))

    def get_via(self, path: str) -> tuple[str, int]:
        return self._run(lambda client: client.get_via(path))

    def stream(self, path: str) -> SyncEventStream[str]:
        return self._stream(lambda client: client.stream(path))

    def async_client(self) -> ToyClient:
        """The async client in use (created if needed)."""

        async def same(client: ToyClient) -> ToyClient:
            return client

        return self._run(same)
