"""OpenTelemetry: with ``opentelemetry-instrumentation-aiohttp-client`` enabled, every HTTP
attempt of an SDK call is one CLIENT span (method, URL, status; never the token), for the
owned session and a caller's session, async and sync; a retried call shows each attempt.

Spans go to an in-memory exporter of a tracer provider of the test's own; the
instrumentation is enabled inside a fixture and removed after it, so other tests see
plain sessions.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_client import (
    AioHttpClientInstrumentor,
    create_trace_config,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

import flux0_async
import flux0_async.sync
import glean_async
import glean_async.sync
from flux0_async.testing import FakeFlux0Server
from glean_async.utils import BackoffStrategy, RetryConfig
from shared.testing import LocalAppServer

TOKEN = "glean-trace-token-Zq81"
SEARCH_PATH = "/rest/api/v1/search"
FAST = RetryConfig("backoff", BackoffStrategy(1, 5, 2.0, 5000), True)
NO_RETRIES = RetryConfig("none")
GIVE_UP_SOON = RetryConfig("backoff", BackoffStrategy(1, 5, 2.0, 100), True)
# the attribute names of the stable HTTP conventions and of the older ones
# (OTEL_SEMCONV_STABILITY_OPT_IN picks which the instrumentation writes)
METHOD = ("http.request.method", "http.method")
URL = ("url.full", "http.url")
STATUS = ("http.response.status_code", "http.status_code")


class Tracing:
    """An in-memory exporter behind a tracer provider of the test's own."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def spans(self) -> list[ReadableSpan]:
        """The finished spans, oldest first."""
        return sorted(self.exporter.get_finished_spans(), key=lambda span: span.start_time or 0)

    def close(self) -> None:
        self.provider.shutdown()


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    """Tracing without the instrumentation (sessions must bring their own trace config)."""
    tracing = Tracing()
    yield tracing
    tracing.close()


@pytest.fixture
def instrumented(tracing: Tracing) -> Iterator[Tracing]:
    """``AioHttpClientInstrumentor().instrument()``, undone afterwards."""
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=tracing.provider)
    try:
        yield tracing
    finally:
        instrumentor.uninstrument()


class FlakySearch(LocalAppServer):
    """Answers every request with ``{}``, after failing the first ``failures`` with 503."""

    def __init__(self, *, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[tuple[str, str, str]] = []  # method, path, Authorization
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        super().__init__(app)

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        auth = request.headers.get("Authorization", "")
        self.requests.append((request.method, request.path, auth))
        if len(self.requests) <= self.failures:
            return web.json_response({"message": "try again"}, status=503)
        return web.json_response({})


@pytest.fixture
async def flaky() -> AsyncIterator[FlakySearch]:
    async with FlakySearch(failures=2) as server:
        yield server


def attribute(span: ReadableSpan, names: tuple[str, ...]) -> Any:
    attributes = span.attributes or {}
    for name in names:
        if name in attributes:
            return attributes[name]
    raise AssertionError(f"span {span.name!r} has none of {names}: {dict(attributes)}")


def summary(spans: list[ReadableSpan]) -> list[tuple[str, str, int]]:
    """``(method, url, status)`` of each span, after checking it is a CLIENT span."""
    for span in spans:
        assert span.kind is SpanKind.CLIENT
    return [(attribute(s, METHOD), attribute(s, URL), attribute(s, STATUS)) for s in spans]


def assert_no_secret(spans: list[ReadableSpan], secret: str = TOKEN) -> None:
    for span in spans:
        texts = [span.name, *map(str, (span.attributes or {}).values())]
        texts += [
            str(value) for event in span.events for value in (event.attributes or {}).values()
        ]
        assert not any(secret in text for text in texts), span.to_json()


def retried_twice(url: str) -> list[tuple[str, str, int]]:
    """The spans of a search that failed twice with 503, then succeeded."""
    return [("POST", url, 503), ("POST", url, 503), ("POST", url, 200)]


def assert_separate(spans: list[ReadableSpan]) -> None:
    """Each attempt is its own root span, not a child of the one before."""
    ids = {span.context.span_id for span in spans if span.context is not None}
    assert len(ids) == len(spans)
    assert all(span.parent is None for span in spans)


# --- async, owned session --------------------------------------------------------------


@pytest.mark.anyio
async def test_each_attempt_of_a_retried_call_is_one_client_span(
    instrumented: Tracing, flaky: FlakySearch
) -> None:
    async with glean_async.Glean(api_token=TOKEN, server_url=flaky.url) as glean:
        await glean.client.search.query(query="vacation", retries=FAST)
    spans = instrumented.spans()
    url = flaky.url + SEARCH_PATH
    assert summary(spans) == retried_twice(url)
    assert [span.status.status_code for span in spans] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]
    assert_separate(spans)
    assert_no_secret(spans)
    assert [auth for _, _, auth in flaky.requests] == [f"Bearer {TOKEN}"] * 3


@pytest.mark.anyio
async def test_a_client_made_before_instrumenting_is_traced_from_its_first_call(
    tracing: Tracing, flaky: FlakySearch
) -> None:
    """The owned session is made on the first call, so it picks the instrumentation up."""
    flaky.failures = 0
    async with glean_async.Glean(api_token=TOKEN, server_url=flaky.url) as glean:
        instrumentor = AioHttpClientInstrumentor()
        instrumentor.instrument(tracer_provider=tracing.provider)
        try:
            await glean.client.search.query(query="late")
        finally:
            instrumentor.uninstrument()
    assert summary(tracing.spans()) == [("POST", flaky.url + SEARCH_PATH, 200)]


@pytest.mark.anyio
async def test_an_attempt_without_a_response_is_an_error_span(instrumented: Tracing) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    glean = glean_async.Glean(api_token=TOKEN, server_url=f"http://127.0.0.1:{port}")
    async with glean:
        with pytest.raises(glean_async.errors.GleanError):
            await glean.client.search.query(query="nobody home", retries=GIVE_UP_SOON)
    spans = instrumented.spans()
    assert len(spans) >= 2  # the connection error was retried
    for span in spans:
        assert span.kind is SpanKind.CLIENT
        assert attribute(span, URL) == f"http://127.0.0.1:{port}{SEARCH_PATH}"
        assert span.status.status_code is StatusCode.ERROR
        assert not any(name in (span.attributes or {}) for name in STATUS)
    assert_no_secret(spans)


@pytest.mark.anyio
async def test_a_flux0_stream_is_one_span_per_request(
    instrumented: Tracing, flux0_server: FakeFlux0Server, flux0_client: flux0_async.Flux0
) -> None:
    agent = await flux0_client.agents.create(name="traced", type="echo")
    session = await flux0_client.sessions.create(agent_id=agent.id)
    stream = await flux0_client.sessions.create_event(
        session_id=session.id, type="message", source="user", content="hi"
    )
    async with stream as events:
        received = [event async for event in events]
    assert received
    base = flux0_server.url
    assert [
        (method, url.removeprefix(base), status)
        for method, url, status in summary(instrumented.spans())
    ] == [
        ("POST", "/api/agents", 201),
        ("POST", "/api/sessions", 201),
        ("POST", f"/api/sessions/{session.id}/events/stream", 200),
    ]


# --- async, caller's session -----------------------------------------------------------


@pytest.mark.anyio
async def test_a_caller_session_made_after_instrumenting_is_traced(
    instrumented: Tracing, flaky: FlakySearch
) -> None:
    async with aiohttp.ClientSession() as session:
        glean = glean_async.Glean(api_token=TOKEN, server_url=flaky.url, session=session)
        await glean.client.search.query(query="mine", retries=FAST)
        await glean.aclose()
    url = flaky.url + SEARCH_PATH
    spans = instrumented.spans()
    assert summary(spans) == retried_twice(url)
    assert_separate(spans)
    assert_no_secret(spans)


@pytest.mark.anyio
async def test_a_caller_session_with_its_own_trace_config(
    tracing: Tracing, flaky: FlakySearch
) -> None:
    """Without the global instrumentation: the session's ``trace_configs`` do the same."""
    trace_config = create_trace_config(tracer_provider=tracing.provider)
    async with aiohttp.ClientSession(trace_configs=[trace_config]) as session:
        glean = glean_async.Glean(api_token=TOKEN, server_url=flaky.url, session=session)
        await glean.client.search.query(query="mine", retries=FAST)
        await glean.aclose()
    assert [status for _, _, status in summary(tracing.spans())] == [503, 503, 200]
    assert_no_secret(tracing.spans())


@pytest.mark.anyio
async def test_without_instrumentation_there_are_no_spans(
    tracing: Tracing, flaky: FlakySearch
) -> None:
    async with glean_async.Glean(api_token=TOKEN, server_url=flaky.url) as glean:
        await glean.client.search.query(query="quiet", retries=FAST)
    assert len(flaky.requests) == 3
    assert tracing.spans() == []


# --- sync facade -----------------------------------------------------------------------


@pytest.fixture
def flaky_in_thread() -> Iterator[FlakySearch]:
    with FlakySearch.in_thread(failures=2) as server:
        yield server


def test_sync_calls_and_their_retries_are_spans(
    instrumented: Tracing, flaky_in_thread: FlakySearch
) -> None:
    server = flaky_in_thread
    with glean_async.sync.Glean(api_token=TOKEN, server_url=server.url) as glean:
        glean.client.search.query(query="sync", retries=FAST)
        glean.client.search.query(query="again", retries=NO_RETRIES)
    url = server.url + SEARCH_PATH
    spans = instrumented.spans()
    assert summary(spans) == [*retried_twice(url), ("POST", url, 200)]
    assert_separate(spans)
    assert_no_secret(spans)


def test_a_sync_flux0_stream_is_one_span(
    instrumented: Tracing, flux0_server: FakeFlux0Server, flux0_sync_client: flux0_async.sync.Flux0
) -> None:
    agent = flux0_sync_client.agents.create(name="traced-sync", type="echo")
    session = flux0_sync_client.sessions.create(agent_id=agent.id)
    with flux0_sync_client.sessions.create_event(
        session_id=session.id, type="message", source="user", content="hi"
    ) as events:
        received = list(events)
    assert received
    paths = [url.removeprefix(flux0_server.url) for _, url, _ in summary(instrumented.spans())]
    assert paths == ["/api/agents", "/api/sessions", f"/api/sessions/{session.id}/events/stream"]
