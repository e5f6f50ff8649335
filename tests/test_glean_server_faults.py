"""The embedded Glean server's seeded fault knobs: each knob over real HTTP, the fault log,
and determinism (same seed and requests, same faults, whatever the arrival order)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glean_async import Glean, errors
from glean_async.testing import FakeGleanServer, Faults
from glean_async.testing.faults import decide
from glean_async.utils import RetryConfig
from shared.testing import pytest_plugin

NO_RETRIES = RetryConfig("none")
INDEX = "indexing.documents.index"
COUNT = "indexing.documents.count"
HEADERS = {"Authorization": f"Bearer {pytest_plugin.TOKEN}"}


def doc(ident: str) -> dict[str, Any]:
    return {"datasource": "wiki", "id": ident, "title": f"Doc {ident}"}


async def index(server: FakeGleanServer, *ids: str) -> tuple[int, dict[str, str], Any]:
    """POST /indexdocuments: the status, headers and parsed body answered."""
    body = {"datasource": "wiki", "documents": [doc(i) for i in ids]}
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.post(f"{server.url}/api/index/v1/indexdocuments", json=body) as response,
    ):
        text = await response.text()
        return response.status, dict(response.headers), json.loads(text) if text else None


# -- each knob -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_errors_answer_the_error_status_and_store_nothing(
    glean_server: FakeGleanServer,
) -> None:
    glean_server.faults = Faults(error_rate=1.0, error_status=500)
    status, _, body = await index(glean_server, "a")
    assert status == 500 and body["status"] == 500 and "injected" in body["detail"]
    assert glean_server.documents("wiki") == {}
    (record,) = glean_server.fault_log
    assert (record.operation, record.injected, record.status) == (INDEX, ("error",), 500)


@pytest.mark.anyio
@pytest.mark.parametrize(("retry_after", "header"), [(0, "0"), (3, "3"), (None, None)])
async def test_throttling_answers_429_with_retry_after_in_whole_seconds(
    glean_server: FakeGleanServer, retry_after: int | None, header: str | None
) -> None:
    glean_server.faults = Faults(throttle_rate=1.0, retry_after=retry_after)
    status, headers, body = await index(glean_server, "a")
    assert (status, body["type"]) == (429, "urn:glean-fake:throttled")
    assert headers.get("Retry-After") == header
    assert glean_server.documents("wiki") == {}
    assert glean_server.fault_counts() == {"throttle": 1}


@pytest.mark.anyio
async def test_latency_delays_within_its_range(glean_server: FakeGleanServer) -> None:
    glean_server.faults = Faults(latency=(0.01, 0.03))
    for ident in "abc":
        assert (await index(glean_server, ident))[0] == 200
    assert [r.injected for r in glean_server.fault_log] == [("latency",)] * 3
    assert all(0.01 <= r.latency <= 0.03 for r in glean_server.fault_log)
    assert len({r.latency for r in glean_server.fault_log}) == 3  # drawn per request


@pytest.mark.anyio
async def test_drops_close_the_connection_without_an_answer(
    glean_server: FakeGleanServer,
) -> None:
    glean_server.faults = Faults(drop_rate=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await index(glean_server, "a")
    assert glean_server.documents("wiki") == {}
    (request,) = glean_server.requests
    assert request.valid and request.status is None
    assert glean_server.fault_log[0].injected == ("drop",)


@pytest.mark.anyio
async def test_truncation_stops_a_stream_midway(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    glean_server.faults = Faults(truncate_rate=1.0)
    ask = [{"fragments": [{"text": "tell me about the long list of holidays this year"}]}]
    lines: list[Any] = []
    with pytest.raises(errors.GleanError):
        stream = await glean_client.client.chat.create_stream(messages=ask, retries=NO_RETRIES)
        async with stream as responses:
            async for line in responses:
                lines.append(line)
    (request,) = glean_server.requests
    assert 0 < len(lines) < len(request.response)  # some lines arrived, not all
    assert glean_server.fault_log[0].injected == ("truncate",)
    answer = await glean_client.client.chat.create(messages=ask)  # not a stream: untouched
    assert answer.messages


@pytest.mark.anyio
async def test_errors_after_store_apply_the_request(glean_server: FakeGleanServer) -> None:
    glean_server.faults = Faults(error_after_store_rate=1.0)
    status, _, body = await index(glean_server, "a")
    assert (status, body["type"]) == (503, "urn:glean-fake:error-after-store")
    assert list(glean_server.documents("wiki")) == ["a"]


@pytest.mark.anyio
async def test_a_bulk_page_failing_after_store_records_what_was_answered(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    glean_server.faults = Faults(error_after_store_rate=1.0)
    bulk = glean_client.indexing.documents.bulk_index
    sent = {"datasource": "wiki", "upload_id": "u", "retries": NO_RETRIES}
    with pytest.raises(errors.GleanError):
        await bulk(documents=[doc("a")], is_first_page=True, is_last_page=True, **sent)
    glean_server.faults = Faults()
    await bulk(documents=[doc("a")], is_first_page=True, is_last_page=True, **sent)  # the retry
    (upload,) = glean_server.uploads
    assert [p.status for p in upload.pages] == [503, 200]
    assert upload.finalizations == 1 and glean_server.violations == []


@pytest.mark.anyio
async def test_rejected_ids_fail_every_time_and_store_nothing(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    glean_server.faults = Faults(reject_ids=["b", "c"])
    for _ in range(2):
        status, _, body = await index(glean_server, "a", "b", "c")
        assert (status, body["detail"]) == (400, "rejected ids: b, c")
    with pytest.raises(errors.GleanError) as caught:
        await glean_client.indexing.documents.bulk_index(
            datasource="wiki",
            documents=[doc("c")],
            upload_id="u",
            is_first_page=True,
            retries=NO_RETRIES,
        )
    assert caught.value.status_code == 400
    with pytest.raises(errors.GleanError):
        await glean_client.indexing.documents.delete(
            datasource="wiki", object_type="Page", id="b", retries=NO_RETRIES
        )
    assert glean_server.documents("wiki") == {}
    assert (await index(glean_server, "a", "d"))[0] == 200
    assert glean_server.fault_counts() == {"reject": 4}


@pytest.mark.anyio
async def test_operations_limit_where_the_rates_apply(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    glean_server.faults = Faults(error_rate=1.0, operations=[COUNT])
    assert (await index(glean_server, "a"))[0] == 200
    with pytest.raises(errors.GleanError) as caught, pytest.warns(DeprecationWarning):
        await glean_client.indexing.documents.count(datasource="wiki", retries=NO_RETRIES)
    assert caught.value.status_code == 503


@pytest.mark.anyio
async def test_the_sdk_retries_through_injected_faults(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    from glean_async.utils import BackoffStrategy

    glean_server.faults = Faults(seed=1, error_rate=0.5, throttle_rate=0.2)
    fast = RetryConfig("backoff", BackoffStrategy(1, 2, 1.1, 30_000), True)
    for n in range(10):
        await glean_client.indexing.documents.index(
            datasource="wiki", documents=[doc(f"d{n}")], retries=fast
        )
    assert len(glean_server.documents("wiki")) == 10
    counts = glean_server.fault_counts()
    assert counts["error"] > 0 and len(glean_server.requests) == 10 + sum(counts.values())
    # a retried identical request is seen again, with a fresh decision
    assert max(r.occurrence for r in glean_server.fault_log) >= 1


# -- determinism -----------------------------------------------------------------------------


async def fault_pattern(server: FakeGleanServer, faults: Faults, order: list[int]) -> Any:
    """The faults met by 24 distinct requests sent concurrently in ``order``."""
    server.reset()
    server.faults = faults
    await asyncio.gather(*(index(server, f"doc-{n}") for n in order))
    by_digest = {r.digest: r.injected for r in server.fault_log}
    request_digests = sorted(by_digest)
    return {d: by_digest[d] for d in request_digests}


@pytest.mark.anyio
async def test_same_seed_same_faults_in_any_arrival_order(glean_server: FakeGleanServer) -> None:
    faults = Faults(seed=42, error_rate=0.3, throttle_rate=0.2, error_after_store_rate=0.2)
    forward = list(range(24))
    first = await fault_pattern(glean_server, faults, forward)
    again = await fault_pattern(glean_server, faults, forward[::-1])
    other = await fault_pattern(glean_server, attrs.evolve(faults, seed=43), forward)
    assert first and first == again
    assert other != first


def test_the_seed_can_be_given_to_the_server() -> None:
    server = FakeGleanServer(faults=Faults(error_rate=0.5), seed=9)
    assert server.faults == Faults(seed=9, error_rate=0.5)
    assert FakeGleanServer(seed=3).faults == Faults(seed=3)


@settings(max_examples=200)
@given(
    seed=st.integers(),
    operation=st.sampled_from([INDEX, COUNT, "client.search.query"]),
    digest=st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    occurrence=st.integers(min_value=0, max_value=50),
    low=st.floats(min_value=0, max_value=1),
    high=st.floats(min_value=0, max_value=1),
)
def test_decisions_are_pure_and_grow_with_their_rates(
    seed: int, operation: str, digest: str, occurrence: int, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    rates = ("error_rate", "throttle_rate", "drop_rate", "truncate_rate", "error_after_store_rate")
    less = Faults(seed=seed, latency=(0.0, 1.0), **dict.fromkeys(rates, low))
    more = attrs.evolve(less, **dict.fromkeys(rates, high))
    decision = decide(less, operation, digest, occurrence)
    assert decision == decide(less, operation, digest, occurrence)
    bigger = decide(more, operation, digest, occurrence)
    for name in ("drop", "throttle", "error", "error_after_store", "truncate"):
        assert getattr(bigger, name) >= getattr(decision, name)  # the same draw, a higher bar
    assert bigger.latency == decision.latency and 0 <= decision.latency <= 1
    assert not decide(attrs.evolve(less, operations=[]), operation, digest, occurrence).error


def test_occurrences_give_fresh_decisions() -> None:
    faults = Faults(seed=5, error_rate=0.5)
    outcomes = {decide(faults, INDEX, "0" * 16, n).error for n in range(40)}
    assert outcomes == {True, False}


# -- bad knobs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"error_rate": 1.5}, "Faults.error_rate"),
        ({"throttle_rate": -0.1}, "Faults.throttle_rate"),
        ({"drop_rate": True}, "Faults.drop_rate"),
        ({"error_status": 404}, "Faults.error_status"),
        ({"retry_after": 0.5}, "Faults.retry_after"),
        ({"retry_after": -1}, "Faults.retry_after"),
        ({"latency": (0.2, 0.1)}, "Faults.latency"),
        ({"latency": -1}, "Faults.latency"),
    ],
)
def test_bad_knobs_are_refused_naming_the_field(knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        Faults(**knobs)


def test_unknown_operations_are_refused(glean_server: FakeGleanServer) -> None:
    with pytest.raises(ValueError, match=r"Faults\.operations.*'indexing\.nothing'"):
        glean_server.faults = Faults(operations=["indexing.nothing", INDEX])
    assert Faults(operations=INDEX).operations == frozenset({INDEX})
    assert Faults(reject_ids="a").reject_ids == frozenset({"a"})


@pytest.mark.anyio
async def test_reset_clears_faults_and_their_log(glean_server: FakeGleanServer) -> None:
    glean_server.faults = Faults(error_rate=1.0)
    await index(glean_server, "a")
    glean_server.reset()
    assert glean_server.faults == Faults() and glean_server.fault_log == []
    assert (await index(glean_server, "a"))[0] == 200
