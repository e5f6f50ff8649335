"""The clients compared, each doing the same calls and handing the user the same data.

Every client has ``index()``, ``search() -> results``, ``chat() -> (events, t_first)``
and ``sse() -> (events, t_first)`` (async clients as coroutines, sync ones blocking), where
``t_first`` is the ``time.perf_counter()`` at which the first parsed event was in hand.

What each stream event costs the user to get, per client:

* ``raw`` (the floor): aiohttp, ``response.content.iter_any()`` chunks split on ``\\n``
  (chat) or ``\\n\\n`` (SSE, ``data:`` lines only), ``json.loads`` per line or event data;
* ``ga``/``ga_sync``: the SDK's ``ChatResponse`` models; for SSE the SDK's
  ``ServerSentEvent`` + ``json.loads(event.data)`` (the SDK hands out raw events);
* ``official``/``official_sync``: the whole body as ``str`` (the SDK's return value),
  then split into lines or events and ``json.loads`` per item, like the floor.

Imports happen in the constructors so that a cell process loads only its own client.
"""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any

from benchmarks.payloads import DATASOURCE, SMALL_DOCUMENT, SMALL_DOCUMENT_WIRE

TOKEN = "bench-token"
QUERY = "quarterly planning"
PAGE_SIZE = 100
AGENT_ID = "bench-agent"
CHAT_MESSAGES: list[dict[str, Any]] = [{"author": "USER", "fragments": [{"text": "hi"}]}]

INDEX_PATH = "/api/index/v1/indexdocuments"
SEARCH_PATH = "/rest/api/v1/search"
CHAT_PATH = "/rest/api/v1/chat"
SSE_PATH = "/rest/api/v1/agents/runs/stream"


def parse_sse_text(text: str) -> tuple[int, float]:
    """Events of a whole SSE body (``str``): ``json.loads`` of each data; (count, t_first)."""
    count, first = 0, 0.0
    for block in text.split("\n\n"):
        data = [line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:")]
        if data:
            json.loads("\n".join(data))
            if not count:
                first = time.perf_counter()
            count += 1
    return count, first


def parse_ndjson_text(text: str) -> tuple[int, float]:
    """Lines of a whole NDJSON body (``str``), ``json.loads`` each; (count, t_first)."""
    count, first = 0, 0.0
    for line in text.splitlines():
        if line.strip():
            json.loads(line)
            if not count:
                first = time.perf_counter()
            count += 1
    return count, first


class Raw:
    """The floor: one ``aiohttp.ClientSession`` (same connector limit as glean_async)."""

    def __init__(self, url: str) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self.url = url
        self.session: Any = None
        self.headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        self.index_body = json.dumps({"datasource": DATASOURCE, "documents": [SMALL_DOCUMENT_WIRE]})
        self.search_body = json.dumps({"query": QUERY, "pageSize": PAGE_SIZE})
        self.chat_body = json.dumps({"messages": CHAT_MESSAGES, "stream": True})
        self.sse_body = json.dumps({"agent_id": AGENT_ID})

    async def __aenter__(self) -> Raw:
        connector = self._aiohttp.TCPConnector(limit=256)
        self.session = self._aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    def _post(self, path: str, body: str, accept: str = "application/json") -> Any:
        headers = {**self.headers, "Accept": accept}
        return self.session.post(self.url + path, data=body.encode(), headers=headers)

    async def index(self) -> None:
        async with self._post(INDEX_PATH, self.index_body) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            await response.read()

    async def search(self) -> int:
        async with self._post(SEARCH_PATH, self.search_body) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            return len(json.loads(await response.read())["results"])

    async def chat(self) -> tuple[int, float]:
        count, first = 0, 0.0
        buffer = b""
        async with self._post(CHAT_PATH, self.chat_body, "text/plain") as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            async for chunk in response.content.iter_any():
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        json.loads(line)
                        if not count:
                            first = time.perf_counter()
                        count += 1
        if buffer.strip():
            json.loads(buffer)
            count += 1
        return count, first

    async def sse(self) -> tuple[int, float]:
        count, first = 0, 0.0
        buffer = b""
        async with self._post(SSE_PATH, self.sse_body, "text/event-stream") as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            async for chunk in response.content.iter_any():
                *blocks, buffer = (buffer + chunk).split(b"\n\n")
                for block in blocks:
                    data = [
                        line[5:].lstrip(b" ") for line in block.split(b"\n") if line[:5] == b"data:"
                    ]
                    if data:
                        json.loads(b"\n".join(data))
                        if not count:
                            first = time.perf_counter()
                        count += 1
        return count, first


class GleanAsync:
    """``glean_async.Glean``."""

    def __init__(self, url: str) -> None:
        from glean_async import Glean

        self.glean = Glean(api_token=TOKEN, server_url=url)

    async def __aenter__(self) -> GleanAsync:
        await self.glean.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.glean.__aexit__(None, None, None)

    async def index(self) -> None:
        await self.glean.indexing.documents.index(datasource=DATASOURCE, documents=[SMALL_DOCUMENT])

    async def search(self) -> int:
        response = await self.glean.client.search.query(query=QUERY, page_size=PAGE_SIZE)
        return len(response.results)

    async def chat(self) -> tuple[int, float]:
        count, first = 0, 0.0
        stream = await self.glean.client.chat.create_stream(messages=CHAT_MESSAGES)
        async with stream as responses:
            async for _response in responses:
                if not count:
                    first = time.perf_counter()
                count += 1
        return count, first

    async def sse(self) -> tuple[int, float]:
        count, first = 0, 0.0
        async with await self.glean.client.agents.run_stream(agent_id=AGENT_ID) as events:
            async for event in events:
                json.loads(event.data)
                if not count:
                    first = time.perf_counter()
                count += 1
        return count, first


class GleanSync:
    """``glean_async.sync.Glean`` (calls run on its background event-loop thread)."""

    def __init__(self, url: str) -> None:
        from glean_async.sync import Glean

        self.glean = Glean(api_token=TOKEN, server_url=url)

    def __enter__(self) -> GleanSync:
        self.glean.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.glean.__exit__(None, None, None)

    def index(self) -> None:
        self.glean.indexing.documents.index(datasource=DATASOURCE, documents=[SMALL_DOCUMENT])

    def search(self) -> int:
        return len(self.glean.client.search.query(query=QUERY, page_size=PAGE_SIZE).results)

    def chat(self) -> tuple[int, float]:
        count, first = 0, 0.0
        with self.glean.client.chat.create_stream(messages=CHAT_MESSAGES) as responses:
            for _response in responses:
                if not count:
                    first = time.perf_counter()
                count += 1
        return count, first

    def sse(self) -> tuple[int, float]:
        count, first = 0, 0.0
        with self.glean.client.agents.run_stream(agent_id=AGENT_ID) as events:
            for event in events:
                json.loads(event.data)
                if not count:
                    first = time.perf_counter()
                count += 1
        return count, first


class Official:
    """The official SDK (``glean.api_client.Glean``), its ``*_async`` methods."""

    def __init__(self, url: str) -> None:
        from glean.api_client import Glean

        self.glean = Glean(api_token=TOKEN, server_url=url)

    async def __aenter__(self) -> Official:
        await self.glean.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.glean.__aexit__(None, None, None)

    async def index(self) -> None:
        await self.glean.indexing.documents.index_async(
            datasource=DATASOURCE, documents=[SMALL_DOCUMENT]
        )

    async def search(self) -> int:
        response = await self.glean.client.search.query_async(query=QUERY, page_size=PAGE_SIZE)
        return len(response.results or [])

    async def chat(self) -> tuple[int, float]:
        text = await self.glean.client.chat.create_stream_async(messages=CHAT_MESSAGES)
        return parse_ndjson_text(text)

    async def sse(self) -> tuple[int, float]:
        return parse_sse_text(await self.glean.client.agents.run_stream_async(agent_id=AGENT_ID))


class OfficialSync:
    """The official SDK's blocking methods (one ``httpx.Client``, shared by the threads)."""

    def __init__(self, url: str) -> None:
        from glean.api_client import Glean

        self.glean = Glean(api_token=TOKEN, server_url=url)

    def __enter__(self) -> OfficialSync:
        self.glean.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.glean.__exit__(exc_type, exc, tb)

    def index(self) -> None:
        self.glean.indexing.documents.index(datasource=DATASOURCE, documents=[SMALL_DOCUMENT])

    def search(self) -> int:
        return len(self.glean.client.search.query(query=QUERY, page_size=PAGE_SIZE).results or [])

    def chat(self) -> tuple[int, float]:
        return parse_ndjson_text(self.glean.client.chat.create_stream(messages=CHAT_MESSAGES))

    def sse(self) -> tuple[int, float]:
        return parse_sse_text(self.glean.client.agents.run_stream(agent_id=AGENT_ID))


ASYNC_CLIENTS: dict[str, Any] = {
    "raw": Raw,
    "ga": GleanAsync,
    "ga_speedups": GleanAsync,  # the same client; its cell has orjson on its path
    "official": Official,
}
SYNC_CLIENTS: dict[str, Any] = {"ga_sync": GleanSync, "official_sync": OfficialSync}
