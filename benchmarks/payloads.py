"""The bodies the benchmark server answers with, and the one the clients send.

All are built deterministically from the shapes of ``specs/glean.json``:

* :func:`search_response`: a ``SearchResponse`` of 100 results (about 219 KB of JSON), each
  a ``SearchResult`` with snippets and a ``Document`` with full ``DocumentMetadata``;
* :func:`chat_ndjson`: a chat stream, one ``ChatResponse`` per line;
* :func:`agent_sse`: an agent run stream of Server-Sent Events with JSON data;
* :data:`SMALL_DOCUMENT`: the one small document of each ``indexdocuments`` request.

``python -m benchmarks.payloads`` checks that both SDKs accept the bodies.
"""

from __future__ import annotations

import json
from typing import Any

DATASOURCE = "benchds"
SEARCH_RESULTS = 100
STREAM_EVENTS = 2000

SMALL_DOCUMENT: dict[str, Any] = {
    "datasource": DATASOURCE,
    "id": "doc-1",
    "title": "Quarterly planning notes",
    "view_url": "https://docs.example.com/doc-1",
}
"""A ``DocumentDefinition`` keyed by attribute names (both SDKs accept these keys)."""

SMALL_DOCUMENT_WIRE: dict[str, Any] = {
    "datasource": DATASOURCE,
    "id": "doc-1",
    "title": "Quarterly planning notes",
    "viewURL": "https://docs.example.com/doc-1",
}
"""The same document as it goes on the wire (what raw aiohttp sends)."""

_WORDS = (
    *("quarterly", "planning", "roadmap", "launch", "review", "budget", "hiring"),
    *("onboarding", "security", "policy", "incident", "retro", "design", "spec"),
    *("migration", "latency", "dashboard", "customer", "feedback", "release"),
)


def _text(seed: int, words: int) -> str:
    """A deterministic sentence of ``words`` words."""
    return " ".join(_WORDS[(seed * 7 + i * 3) % len(_WORDS)] for i in range(words))


def _person(seed: int) -> dict[str, Any]:
    """A ``Person`` with the metadata a search result usually carries."""
    first, last = _WORDS[seed % len(_WORDS)].title(), _WORDS[(seed + 5) % len(_WORDS)].title()
    return {
        "name": f"{first} {last}",
        "obfuscatedId": f"p{seed:08x}",
        "metadata": {
            "type": "FULL_TIME",
            "firstName": first,
            "lastName": last,
            "title": "Staff Engineer",
            "department": "Engineering",
            "email": f"{first.lower()}.{last.lower()}@example.com",
            "startDate": "2021-03-01",
        },
    }


def _snippet(seed: int, index: int) -> dict[str, Any]:
    """A ``SearchResultSnippet`` with two highlighted ranges."""
    text = _text(seed + index, 12)
    return {
        "snippet": text,
        "text": text,
        "mimeType": "text/plain",
        "snippetTextOrdering": index,
        "ranges": [
            {"startIndex": 0, "endIndex": 9, "type": "BOLD"},
            {"startIndex": 20, "endIndex": 28, "type": "HIGHLIGHT"},
        ],
    }


def _metadata(seed: int, doc_id: str) -> dict[str, Any]:
    """A ``DocumentMetadata`` with people, dates, labels and interactions."""
    return {
        "datasource": "confluence",
        "datasourceInstance": "confluence_main",
        "objectType": "page",
        "container": "Engineering",
        "containerId": f"space-{seed % 9}",
        "parentId": f"page-{seed // 3}",
        "mimeType": "text/html",
        "documentId": doc_id,
        "loggingId": f"log-{seed:06d}",
        "documentIdHash": f"{seed * 2654435761 % 2**32:08x}",
        "createTime": "2024-01-15T10:30:00Z",
        "updateTime": "2024-06-02T08:15:30Z",
        "author": _person(seed),
        "owner": _person(seed + 1),
        "visibility": "DOMAIN_VISIBLE",
        "status": "current",
        "labels": ["q3", "planning", "engineering"],
        "datasourceId": f"ds-{seed}",
        "interactions": {"numComments": seed % 11, "numReactions": seed % 5},
        "visitCount": {"count": 40 + seed, "org": "Engineering"},
        "path": f"/spaces/ENG/pages/{seed}",
        "documentCategory": "KNOWLEDGE_BASE",
    }


def _result(seed: int) -> dict[str, Any]:
    """One ``SearchResult`` with its ``Document``."""
    doc_id = f"CONFLUENCE_{seed:06d}"
    url = f"https://wiki.example.com/spaces/ENG/pages/{seed}"
    title = f"{_text(seed, 4).title()} ({seed})"
    return {
        "trackingToken": f"tt-{seed:08d}",
        "title": title,
        "url": url,
        "snippets": [_snippet(seed, i) for i in range(2)],
        "prominence": "STANDARD",
        "document": {
            "id": doc_id,
            "datasource": "confluence",
            "docType": "page",
            "title": title,
            "url": url,
            "metadata": _metadata(seed, doc_id),
        },
    }


def search_response(results: int = SEARCH_RESULTS) -> dict[str, Any]:
    """A ``SearchResponse`` holding ``results`` results."""
    return {
        "trackingToken": "search-tracking-token",
        "requestID": "req-0001",
        "backendTimeMillis": 87,
        "experimentIds": [101, 202],
        "sessionInfo": {"sessionTrackingToken": "sess-1", "tabId": "tab-1"},
        "metadata": {"searchedQuery": "quarterly planning", "originalQuery": "quarterly planning"},
        "results": [_result(seed) for seed in range(results)],
        "resultTabs": [{"id": "all", "count": results}],
        "facetResults": [
            {
                "sourceName": "datasource",
                "operatorName": "SelectSingle",
                "buckets": [
                    {"count": 60, "value": {"stringValue": "confluence", "displayLabel": "Wiki"}},
                    {"count": 40, "value": {"stringValue": "gdrive", "displayLabel": "Drive"}},
                ],
            }
        ],
        "cursor": "cursor-2",
        "hasMoreResults": True,
    }


def compact(value: Any) -> bytes:
    """``value`` as compact JSON bytes, the way servers send it."""
    return json.dumps(value, separators=(",", ":")).encode()


def search_body() -> bytes:
    """The search response body the server sends."""
    return compact(search_response())


def chat_line(index: int) -> dict[str, Any]:
    """One ``ChatResponse`` of a chat stream: a fragment of the answer's text."""
    return {
        "messages": [
            {
                "author": "GLEAN_AI",
                "messageType": "CONTENT",
                "messageId": "msg-1",
                "hasMoreFragments": True,
                "fragments": [{"text": _WORDS[index % len(_WORDS)] + " "}],
            }
        ],
        "chatId": "chat-1",
    }


def chat_ndjson(lines: int = STREAM_EVENTS) -> bytes:
    """A chat stream body: ``lines`` JSON lines."""
    return b"".join(compact(chat_line(i)) + b"\n" for i in range(lines))


def agent_event(index: int) -> str:
    """One Server-Sent Event of an agent run."""
    data = {
        "messages": [
            {"role": "GLEAN_AI", "content": [{"type": "text", "text": _WORDS[index % 19] + " "}]}
        ]
    }
    return f"id: {index}\nevent: message\ndata: {compact(data).decode()}\n\n"


def agent_sse(events: int = STREAM_EVENTS) -> bytes:
    """An agent run stream body: ``events`` events."""
    return "".join(agent_event(i) for i in range(events)).encode()


def check() -> None:
    """Check that both SDKs accept the bodies (raises if one does not)."""
    from glean.api_client import models as official
    from glean.api_client.utils import unmarshal_json

    import glean_async

    body = search_body()
    ours = glean_async.converter.structure(json.loads(body), glean_async.models.SearchResponse)
    assert len(ours.results) == SEARCH_RESULTS
    theirs = unmarshal_json(body, official.SearchResponse)
    assert len(theirs.results) == SEARCH_RESULTS
    line = compact(chat_line(0))
    glean_async.converter.structure(json.loads(line), glean_async.models.ChatResponse)
    unmarshal_json(line, official.ChatResponse)
    print(f"search response: {len(body) / 1024:.0f} KiB, chat and search accepted by both SDKs")


if __name__ == "__main__":
    check()
