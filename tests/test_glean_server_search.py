"""Search and chat of the embedded Glean server, over the documents it stores."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glean_async.sync
from glean_async import Glean
from glean_async.testing import FakeGleanServer

WORDS = ["alpha", "beta", "gamma", "delta", "Vacation", "policy"]


def doc(ident: str, title: str = "", text: str = "", datasource: str = "wiki") -> dict[str, Any]:
    document: dict[str, Any] = {"datasource": datasource, "id": ident, "objectType": "Page"}
    if title:
        document["title"] = title
    if text:
        document["body"] = {"mimeType": "text/plain", "textContent": text}
    return document


def index(glean: glean_async.sync.Glean, documents: list[dict[str, Any]]) -> None:
    for datasource in sorted({d["datasource"] for d in documents}):
        mine = [d for d in documents if d["datasource"] == datasource]
        glean.indexing.documents.index(datasource=datasource, documents=mine)


def expected_ranking(documents: list[dict[str, Any]], query: str) -> list[tuple[str, str]]:
    """The ranking the server documents: every term in the title or the body; 3 per
    title hit, 1 per body hit; ties by datasource, then id."""
    wanted = re.findall(r"[a-z0-9]+", query.lower())
    if not wanted:
        return []
    scored = []
    for d in documents:
        title = re.findall(r"[a-z0-9]+", d.get("title", "").lower())
        body = re.findall(r"[a-z0-9]+", d.get("body", {}).get("textContent", "").lower())
        hits = [3 * title.count(w) + body.count(w) for w in wanted]
        if all(hits):
            scored.append((-sum(hits), d["datasource"], d["id"]))
    return [(ds, ident) for _, ds, ident in sorted(scored)]


def all_pages(glean: glean_async.sync.Glean, query: str, size: int, **options: Any) -> Any:
    """Every page of a search, following the cursor."""
    pages = [glean.client.search.query(query=query, page_size=size, **options)]
    while pages[-1].has_more_results:
        cursor = pages[-1].cursor
        pages.append(
            glean.client.search.query(query=query, page_size=size, cursor=cursor, **options)
        )
    return pages


texts = st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join)
corpora = st.lists(
    st.tuples(st.sampled_from(["wiki", "drive"]), texts, texts), min_size=1, max_size=12
).map(
    lambda rows: [
        doc(f"d{n}", title=title, text=text, datasource=ds)
        for n, (ds, title, text) in enumerate(rows)
    ]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    documents=corpora,
    query=st.lists(st.sampled_from([*WORDS, "VACATION", "zeta"]), min_size=1, max_size=2).map(
        " , ".join
    ),
    size=st.integers(min_value=1, max_value=5),
)
def test_cursors_page_through_every_hit_in_rank_order(
    glean_server: FakeGleanServer,
    glean_sync_client: glean_async.sync.Glean,
    documents: list[dict[str, Any]],
    query: str,
    size: int,
) -> None:
    glean_server.reset()
    index(glean_sync_client, documents)
    pages = all_pages(glean_sync_client, query, size)
    results = [r for page in pages for r in page.results or []]
    ranked = [(r.document.datasource, r.document.id) for r in results]
    assert ranked == expected_ranking(documents, query)
    assert all(len(page.results or []) == size for page in pages[:-1])
    assert all(r.url for r in results)
    again = [
        (r.document.datasource, r.document.id)
        for r in all_pages(glean_sync_client, query, size)[0].results or []
    ]
    assert again == ranked[:size]  # stable
    for record in glean_server.requests:
        assert glean_server.answer_errors(record) == []


def test_results_carry_title_url_document_and_snippet(
    glean_sync_client: glean_async.sync.Glean,
) -> None:
    text = "Our vacation policy: twenty days a year, plus public holidays."
    document = doc("vp", title="Vacation policy", text=text)
    document["viewURL"] = "https://wiki.example.com/vp"
    index(glean_sync_client, [document, doc("other", title="Travel")])
    (result,) = glean_sync_client.client.search.query(query="holidays").results
    assert (result.title, result.url) == ("Vacation policy", "https://wiki.example.com/vp")
    assert (result.document.id, result.document.datasource, result.document.title) == (
        "vp",
        "wiki",
        "Vacation policy",
    )
    (snippet,) = result.snippets
    assert "holidays" in snippet.snippet


def test_title_hits_outrank_body_hits(glean_sync_client: glean_async.sync.Glean) -> None:
    index(
        glean_sync_client,
        [
            doc("b1", text="budget budget"),
            doc("a2", title="Budget"),
            doc("a1", text="budget budget budget"),
        ],
    )
    results = glean_sync_client.client.search.query(query="budget").results
    assert [r.document.id for r in results] == ["a1", "a2", "b1"]  # 3, 3 (by id), 2


def test_an_empty_query_finds_nothing(glean_sync_client: glean_async.sync.Glean) -> None:
    index(glean_sync_client, [doc("a", title="anything")])
    for query in ("", "  ", "?!"):
        answer = glean_sync_client.client.search.query(query=query)
        assert not answer.results and answer.has_more_results is False


def test_datasource_filters(glean_sync_client: glean_async.sync.Glean) -> None:
    index(
        glean_sync_client,
        [doc("w", title="roadmap"), doc("d", title="roadmap", datasource="drive")],
    )
    search = glean_sync_client.client.search.query
    only_drive = search(
        query="roadmap", request_options={"facet_bucket_size": 1, "datasource_filter": "drive"}
    )
    assert [r.document.id for r in only_drive.results] == ["d"]
    both = search(
        query="roadmap",
        request_options={"facet_bucket_size": 1, "datasources_filter": ["drive", "wiki"]},
    )
    assert [r.document.id for r in both.results] == ["d", "w"]


# -- chat --------------------------------------------------------------------------------------


ASK = [{"author": "USER", "fragments": [{"text": "What is the vacation policy?"}]}]


def chat_text(answer: Any) -> str:
    return "".join(f.text or "" for m in answer.messages or [] for f in m.fragments or [])


@pytest.mark.anyio
async def test_chat_answers_with_the_question_and_the_matching_titles(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await glean_client.indexing.documents.index(
        datasource="wiki",
        documents=[
            doc("vp", title="Vacation policy", text="twenty days"),
            doc("tr", title="Travel", text="book trains"),
        ],
    )
    answer = await glean_client.client.chat.create(messages=ASK)
    text = chat_text(answer)
    assert "What is the vacation policy?" in text and "Vacation policy" in text
    assert "Travel" not in text
    (message,) = answer.messages
    assert message.author == "GLEAN_AI"
    assert [c.source_document.id for c in message.citations] == ["vp"]
    assert all(glean_server.answer_errors(r) == [] for r in glean_server.requests)


@pytest.mark.anyio
async def test_chat_streams_the_answer_line_by_line(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    await glean_client.indexing.documents.index(
        datasource="wiki", documents=[doc("vp", title="Vacation policy")]
    )
    whole = chat_text(await glean_client.client.chat.create(messages=ASK))
    stream = await glean_client.client.chat.create_stream(messages=ASK)
    async with stream as responses:
        lines = [line async for line in responses]
    assert len(lines) > 1 and "".join(chat_text(line) for line in lines) == whole
    record = glean_server.requests[-1]
    assert record.name == "client.chat.create_stream" and len(record.response) == len(lines)
    assert glean_server.answer_errors(record) == []


def test_chat_without_matching_documents_says_so(
    glean_sync_client: glean_async.sync.Glean,
) -> None:
    text = chat_text(glean_sync_client.client.chat.create(messages=ASK))
    assert text.startswith("You asked: What is the vacation policy?")
    assert "No indexed document matches it." in text
