"""Pages cut by count and by serialized size; items encoded once; acknowledged ranges."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glean_async._generated.wire import SERIALIZER
from glean_async.bulk.kinds import KINDS
from glean_async.bulk.pages import Cutter, Encoded, Envelope, ItemEncoder
from glean_async.bulk.positions import AckSet, ResumeCheck, item_hash
from glean_async.bulk.report import AckRange, BulkResumeError, ItemFailure
from glean_async.bulk.source import chunks_of
from glean_async.testing import FakeGleanServer

DOCUMENTS = KINDS["documents"]


def envelope() -> Envelope:
    fields = {"uploadId": "u-1", "datasource": "wiki"}
    return Envelope(
        "documents",
        fields,
        {"forceRestartUpload": True},
        {"disableStaleDocumentDeletionCheck": True},
    )


def cut(sizes: list[int], batch_size: int, max_bytes: int) -> tuple[list, list[ItemFailure]]:
    """Encode documents whose titles have ``sizes`` characters, cut them into pages."""
    body = envelope()
    encoder = ItemEncoder(DOCUMENTS, SERIALIZER, "wiki", max_bytes - body.overhead)
    cutter = Cutter(batch_size, max_bytes, body.overhead)
    pages, failures = [], []
    for position, size in enumerate(sizes):
        encoded = encoder.encode(position, {"id": f"d{position}", "title": "é" * size})
        if isinstance(encoded, ItemFailure):
            failures.append(encoded)
            continue
        page = cutter.add(encoded)
        if page is not None:
            pages.append(page)
    last = cutter.flush()
    return [*pages, *([last] if last else [])], failures


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 3000), max_size=60),
    batch_size=st.integers(1, 12),
    max_bytes=st.integers(300, 12_000),
)
def test_pages_respect_count_and_bytes_and_keep_every_item_once_in_order(
    sizes: list[int], batch_size: int, max_bytes: int
) -> None:
    pages, failures = cut(sizes, batch_size, max_bytes)
    body = envelope()
    sent = []
    for number, page in enumerate(pages):
        assert page.number == number
        assert 1 <= len(page) <= batch_size
        for first in (False, True):
            for last in (False, True):
                data = body.body(page, first=first, last=last)
                assert len(data) <= max_bytes
                decoded = json.loads(data)
                assert [doc["id"] for doc in decoded["documents"]] == [i.id for i in page.items]
                assert decoded.get("isFirstPage", False) is first
                assert decoded.get("isLastPage", False) is last
                assert decoded.get("forceRestartUpload", False) is first
                assert decoded.get("disableStaleDocumentDeletionCheck", False) is last
        sent.extend(item.position for item in page.items)
    failed = [failure.position for failure in failures]
    assert sorted(sent + failed) == list(range(len(sizes)))
    assert sent == sorted(sent)  # order kept
    for failure in failures:  # only items that cannot fit in a page alone fail
        assert failure.reason.startswith("too large")
        alone = len(
            SERIALIZER.dumps(
                SERIALIZER.from_python(
                    {
                        "id": f"d{failure.position}",
                        "title": "é" * sizes[failure.position],
                        "datasource": "wiki",
                    },
                    DOCUMENTS.model_type,
                    "d",
                )
            )
        )
        assert alone + body.overhead > max_bytes


def test_a_page_is_full_by_count_before_bytes_and_by_bytes_before_count() -> None:
    by_count, _ = cut([10] * 7, batch_size=3, max_bytes=100_000)
    assert [len(page) for page in by_count] == [3, 3, 1]
    item = len(
        SERIALIZER.dumps(
            SERIALIZER.from_python(
                {"id": "d0", "title": "é" * 100, "datasource": "wiki"}, DOCUMENTS.model_type, "d"
            )
        )
    )
    room = envelope().overhead + 2 * item + 1  # two items and their comma, exactly
    by_bytes, failures = cut([100] * 5, batch_size=1000, max_bytes=room)
    assert not failures
    assert [len(page) for page in by_bytes] == [2, 2, 1]


def test_invalid_items_are_failures_naming_position_and_field() -> None:
    encoder = ItemEncoder(DOCUMENTS, SERIALIZER, "wiki", 10_000)
    bad = encoder.encode(7, {"id": "x", "title": 3})
    assert isinstance(bad, ItemFailure)
    assert bad.position == 7 and bad.id == "x"
    assert "documents[7].title" in bad.reason
    typo = encoder.encode(8, {"id": "y", "titel": "t"})
    assert isinstance(typo, ItemFailure) and "did you mean 'title'" in typo.reason


def test_items_in_either_spelling_or_as_models_encode_to_the_same_wire_data() -> None:
    from glean_async import models

    encoder = ItemEncoder(DOCUMENTS, SERIALIZER, "wiki", 10_000)
    wire = encoder.encode(0, {"id": "a", "viewURL": "https://x/a", "objectType": "Page"})
    python = encoder.encode(0, {"id": "a", "view_url": "https://x/a", "object_type": "Page"})
    model = encoder.encode(
        0,
        models.DocumentDefinition(
            datasource="wiki", id="a", view_url="https://x/a", object_type="Page"
        ),
    )
    assert isinstance(wire, Encoded) and isinstance(python, Encoded) and isinstance(model, Encoded)
    # the same JSON value; a dict already in wire form keeps its own key order
    assert json.loads(wire.data) == json.loads(python.data) == json.loads(model.data)
    assert python.data == model.data
    assert json.loads(wire.data)["datasource"] == "wiki"  # the upload's datasource filled in


def test_a_document_keeps_its_own_datasource() -> None:
    encoder = ItemEncoder(DOCUMENTS, SERIALIZER, "wiki", 10_000)
    encoded = encoder.encode(0, {"id": "a", "datasource": "other"})
    assert isinstance(encoded, Encoded)
    assert json.loads(encoded.data)["datasource"] == "other"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), unique=True, max_size=40), st.randoms())
def test_ack_ranges_merge_in_any_order_to_the_same_digests(
    positions: list[int], rng: random.Random
) -> None:
    keys = {position: f"id-{position}" for position in positions}
    in_order = AckSet()
    in_order.add_keys(sorted(positions), [keys[p] for p in sorted(positions)])
    shuffled = AckSet()
    for position in rng.sample(positions, len(positions)):
        shuffled.add_keys([position], [keys[position]])
    assert in_order.ranges() == shuffled.ranges()
    assert len(in_order) == len(positions)
    for span in in_order.ranges():  # disjoint, separated by gaps
        assert all(p in in_order for p in range(span.start, span.stop))
    assert all((p in in_order) == (p in keys) for p in range(45))
    check = ResumeCheck(in_order.ranges())
    for position in sorted(positions):
        check.see(position, keys[position])
    check.finish(41)


def test_resume_check_refuses_other_ids_or_another_order() -> None:
    acked = AckSet()
    acked.add_keys([0, 1, 2], ["a", "b", "c"])
    swapped = ResumeCheck(acked.ranges())
    swapped.see(0, "b")
    swapped.see(1, "a")
    with pytest.raises(BulkResumeError, match=r"positions 0\.\.2"):
        swapped.see(2, "c")
    short = ResumeCheck(acked.ranges())
    short.see(0, "a")
    with pytest.raises(BulkResumeError, match="shorter"):
        short.finish(1)


def test_item_hash_is_blake2b_128_of_position_and_key() -> None:
    import hashlib

    for position, key in [(0, "a"), (12345, "doc-12345"), (7, "é\x00x")]:
        data = f"{position}\x00{key}".encode()
        expected = int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "big")
        assert item_hash(position, key) == expected  # reports written before still resume
    acked = AckSet()
    acked.add_keys([5, 6, 7], ["a", "b", "c"])
    (span,) = acked.ranges()
    total = sum(item_hash(p, k) for p, k in [(5, "a"), (6, "b"), (7, "c")]) % (1 << 128)
    assert int(span.digest, 16) == total


def test_ack_digest_is_the_sum_of_item_hashes() -> None:
    acked = AckSet([AckRange(0, 1, f"{item_hash(0, 'a'):032x}")])
    acked.add_keys([1], ["b"])
    (span,) = acked.ranges()
    assert (span.start, span.stop) == (0, 2)
    assert int(span.digest, 16) == (item_hash(0, "a") + item_hash(1, "b")) % (1 << 128)
    with pytest.raises(ValueError, match="already acknowledged"):
        acked.add_keys([1], ["b"])


@pytest.mark.anyio
async def test_bodies_on_the_wire_stay_under_max_batch_bytes(glean_server: FakeGleanServer) -> None:
    from glean_async import Glean

    rng = random.Random(5)
    documents = [{"id": f"d{n}", "title": "x" * rng.randrange(0, 900)} for n in range(120)]
    async with Glean(api_token="t", server_url=glean_server.url) as glean:
        report = await glean.bulk.documents(
            "wiki", documents, batch_size=25, max_batch_bytes=4000, concurrency=3
        )
    assert report.finalized and report.accepted == 120
    bodies = [r.raw_body for r in glean_server.requests if r.path.endswith("bulkindexdocuments")]
    assert len(bodies) == report.pages > 120 // 25
    assert all(len(body) <= 4000 for body in bodies)
    sent = [doc["id"] for body in bodies for doc in json.loads(body)["documents"]]
    assert sorted(sent) == sorted(doc["id"] for doc in documents)
    assert len(sent) == len(set(sent))


@pytest.mark.anyio
@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 300), fail_at=st.one_of(st.none(), st.integers(0, 300)))
async def test_chunks_of_a_plain_iterable_keep_every_item_then_the_error(
    count: int, fail_at: int | None
) -> None:
    def items() -> Iterator[int]:
        for number in range(count):
            if number == fail_at:
                raise LookupError("input broke")
            yield number

    got: list[int] = []
    raised = None
    try:
        async for chunk in chunks_of(items()):
            assert 1 <= len(chunk) <= 64
            got.extend(chunk)
    except LookupError as exc:
        raised = exc
    broken = fail_at is not None and fail_at < count
    assert got == list(range(fail_at if broken else count))  # type: ignore[arg-type]
    assert (raised is not None) == broken


@pytest.mark.anyio
async def test_chunks_of_an_async_iterable_come_one_item_at_a_time() -> None:
    async def items() -> AsyncIterator[int]:
        for number in range(3):
            yield number

    assert [chunk async for chunk in chunks_of(items())] == [[0], [1], [2]]
    with pytest.raises(TypeError, match="expected an iterable of items, got str"):
        async for _ in chunks_of("abc"):
            pass


# -- a chunk at a time --------------------------------------------------------------

_TITLES = st.one_of(st.text(max_size=3), st.integers(0, 2), st.just("x" * 300))


def _item(kind: str, n: int, title: object) -> object:
    from glean_async import models

    if kind == "wire":
        return {"id": f"d{n}", "title": title, "viewURL": "https://x/a", "datasource": "wiki"}
    if kind == "python":
        return {"view_url": "https://x/a", "id": f"d{n}", "title": title}
    if kind == "no-datasource":
        return {"id": f"d{n}", "title": title}
    if kind == "unset-datasource":
        from shared.unset import UNSET

        return {"id": f"d{n}", "title": title, "datasource": UNSET}
    if kind == "int-id":
        return {"id": n, "title": title, "datasource": "wiki"}
    if kind == "no-id":
        return {"title": title, "datasource": "wiki"}
    if kind == "unknown-key":
        return {"id": f"d{n}", "titel": title, "datasource": "wiki"}
    if kind == "model":
        return models.DocumentDefinition(datasource="wiki", id=f"d{n}", title="m")
    if kind == "nan":
        return {"id": f"d{n}", "datasource": "wiki", "customProperties": [{"value": float("nan")}]}
    return n  # not a document at all


_KINDS = st.sampled_from(
    [
        *("wire", "wire", "python", "no-datasource", "unset-datasource", "int-id", "no-id"),
        *("unknown-key", "model", "nan", "int"),
    ]
)
# one encoder for every example: the writers' key orders are learned across them
_SHARED = ItemEncoder(DOCUMENTS, SERIALIZER, "wiki", 250)


def _outcome(item: Encoded | ItemFailure) -> tuple[object, ...]:
    if isinstance(item, Encoded):
        return ("ok", item.position, item.id, item.key, item.data)
    return ("failed", item.position, item.id, item.reason)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_KINDS, _TITLES), max_size=40),
    st.integers(0, 10_000),
    st.sampled_from(["wiki", None]),
)
def test_a_chunk_encodes_like_its_items_one_by_one(
    specs: list[tuple[str, object]], start: int, datasource: str | None
) -> None:
    items = [_item(kind, n, title) for n, (kind, title) in enumerate(specs)]
    encoder = ItemEncoder(DOCUMENTS, SERIALIZER, datasource, 250) if datasource is None else _SHARED
    good, bad = encoder.encode_many(start, items)
    one_by_one = [encoder.encode(start + n, item) for n, item in enumerate(items)]
    assert [_outcome(item) for item in good] == [
        _outcome(item) for item in one_by_one if isinstance(item, Encoded)
    ]
    assert [_outcome(item) for item in bad] == [
        _outcome(item) for item in one_by_one if isinstance(item, ItemFailure)
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 300), max_size=60),
    st.integers(1, 7),
    st.integers(200, 2000),
    st.integers(1, 9),
)
def test_adding_many_items_cuts_the_pages_adding_one_at_a_time_cuts(
    sizes: list[int], batch_size: int, max_bytes: int, step: int
) -> None:
    items = [Encoded(n, f"d{n}", b"x" * size) for n, size in enumerate(sizes)]
    one, many = Cutter(batch_size, max_bytes, 50), Cutter(batch_size, max_bytes, 50)
    singly = [page for page in map(one.add, items) if page is not None]
    together = [
        page for s in range(0, len(items), step) for page in many.add_many(items[s : s + step])
    ]
    for cutter, pages in ((one, singly), (many, together)):
        last = cutter.flush()
        pages.extend([last] if last is not None else [])
    assert [(p.number, p.size, p.items) for p in together] == [
        (p.number, p.size, p.items) for p in singly
    ]


@pytest.mark.anyio
async def test_other_tasks_run_while_a_long_input_is_read(glean_server: FakeGleanServer) -> None:
    import anyio

    from glean_async import Glean

    ticks = 0  # turns of another task so far
    seen: list[int] = []  # ``ticks`` as each item was read

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    def documents() -> Iterator[dict[str, str]]:
        for n in range(8000):
            seen.append(ticks)
            yield {"id": f"d{n}", "title": "t"}

    glean = Glean(api_token="t", server_url=glean_server.url)
    async with glean, anyio.create_task_group() as group:
        group.start_soon(ticker)
        report = await glean.bulk.documents("wiki", documents(), batch_size=4000)
        group.cancel_scope.cancel()
    assert report.finalized and report.pages == 2
    # the first page's 4000 items were read in chunks of 64, the loop turning after each
    assert len(set(seen[:4000])) >= 4000 // 64
