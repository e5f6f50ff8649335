"""Search and chat over the embedded Glean server's stored documents.

Search: a document matches when every query term (lower case, split on anything not a
letter or digit) is in its title or its body text (``body.textContent``); the score is
3 per title hit plus 1 per body hit, ties ordered by datasource then id, so the ranking
is stable. ``pageSize`` (default 10) pages the hits; the answer's ``cursor`` continues.
``requestOptions.datasourceFilter`` / ``datasourcesFilter`` restrict the datasources.

Chat: a canned answer that repeats the question and names the titles of the documents
best matching it (any term counts); streamed as NDJSON, one ``ChatResponse`` per piece.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from shared.testing.openapi import Answer, Call

from .state import GleanState

JSON = Any
TITLE_WEIGHT = 3
DEFAULT_PAGE_SIZE = 10
SNIPPET_CHARS = 160
CURSOR_PREFIX = "offset:"
# words a chat question is full of; they do not pick documents
_STOP_WORDS = (
    "a an and are as at be by do does for from how i in is it me my of on or our the "
    "this to we what when where which who why with you your"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())


def terms(text: str) -> list[str]:
    """The search terms of a text: lower case, split on non-alphanumerics."""
    return re.findall(r"[^\W_]+", text.lower())


@attrs.frozen
class Hit:
    """A matching document and its score."""

    score: int
    datasource: str
    id: str
    document: dict[str, Any]

    @property
    def order(self) -> tuple[int, str, str]:
        return (-self.score, self.datasource, self.id)


@attrs.define
class _Indexed:
    document: dict[str, Any]  # the stored dict the counts were taken from
    title: Counter[str]
    body: Counter[str]


class Index:
    """Term counts of the stored documents, recomputed when a document is replaced."""

    def __init__(self, state: GleanState) -> None:
        self.state = state
        self._cache: dict[tuple[str, str], _Indexed] = {}

    def hits(
        self, query_terms: list[str], datasources: set[str] | None, match_all: bool = True
    ) -> list[Hit]:
        """The documents matching the terms, best first."""
        if not query_terms:
            return []
        found: list[Hit] = []
        kept: dict[tuple[str, str], _Indexed] = {}  # the counts of the documents stored now
        for datasource in self.state.keys("documents"):
            if datasources is not None and datasource not in datasources:
                continue
            for ident, document in self.state.items("documents", datasource).items():
                counts = kept[(datasource, ident)] = self._counts(datasource, ident, document)
                score = _score(query_terms, counts, match_all)
                if score:
                    found.append(Hit(score, datasource, ident, document))
        if datasources is None:
            self._cache = kept
        return sorted(found, key=lambda hit: hit.order)

    def _counts(self, datasource: str, ident: str, document: dict[str, Any]) -> _Indexed:
        cached = self._cache.get((datasource, ident))
        if cached is None or cached.document is not document:
            body = document.get("body")
            text = body.get("textContent") if isinstance(body, dict) else None
            cached = _Indexed(
                document,
                Counter(terms(str(document.get("title") or ""))),
                Counter(terms(str(text or ""))),
            )
            self._cache[(datasource, ident)] = cached
        return cached


def _score(query_terms: list[str], counts: _Indexed, match_all: bool) -> int:
    scores = [TITLE_WEIGHT * counts.title[t] + counts.body[t] for t in query_terms]
    if match_all and not all(scores):
        return 0
    return sum(scores)


class SearchHandlers:
    """``client.search.query``, ``client.chat.create`` and ``client.chat.create_stream``."""

    def __init__(self, state: GleanState) -> None:
        self.index = Index(state)

    def table(self) -> dict[str, Callable[[Call], Answer]]:
        """Operation name -> handler."""
        return {
            "client.search.query": self.search,
            "client.chat.create": self.chat,
            "client.chat.create_stream": self.chat_stream,
        }

    def search(self, call: Call) -> Answer:
        body = call.body if isinstance(call.body, dict) else {}
        query_terms = terms(str(body.get("query") or ""))
        hits = self.index.hits(query_terms, _datasources(body.get("requestOptions")))
        size = body.get("pageSize") or DEFAULT_PAGE_SIZE
        start = _offset(body.get("cursor"))
        page = hits[start : start + size]
        answer: dict[str, Any] = {
            "results": [_result(hit, query_terms) for hit in page],
            "hasMoreResults": start + size < len(hits),
            "trackingToken": f"fake-search-{len(hits)}",
        }
        if answer["hasMoreResults"]:
            answer["cursor"] = f"{CURSOR_PREFIX}{start + size}"
        return Answer.json(answer)

    def chat(self, call: Call) -> Answer:
        text, hits = self._reply(call)
        message = _message(text)
        if hits:
            message["citations"] = [{"sourceDocument": _document(hit)} for hit in hits]
        return Answer.json({"messages": [message]})

    def chat_stream(self, call: Call) -> Answer:
        text, _ = self._reply(call)
        lines = [{"messages": [_message(piece)]} for piece in _pieces(text)]
        return Answer.ndjson(lines, 200, call.op.content_type)

    def _reply(self, call: Call) -> tuple[str, list[Hit]]:
        question = _question(call.body)
        asked = [term for term in terms(question) if term not in STOP_WORDS]
        hits = self.index.hits(asked, None, match_all=False)[:3]
        reply = f"You asked: {question}" if question else "You asked nothing."
        if hits:
            titles = "; ".join(str(hit.document.get("title") or hit.id) for hit in hits)
            return f"{reply} Relevant documents: {titles}.", hits
        return f"{reply} No indexed document matches it.", hits


def _datasources(options: JSON) -> set[str] | None:
    if not isinstance(options, dict):
        return None
    chosen: set[str] = set()
    if isinstance(options.get("datasourceFilter"), str):
        chosen.add(options["datasourceFilter"])
    chosen.update(d for d in options.get("datasourcesFilter") or [] if isinstance(d, str))
    return chosen or None


def _offset(cursor: JSON) -> int:
    if isinstance(cursor, str) and cursor.startswith(CURSOR_PREFIX):
        number = cursor[len(CURSOR_PREFIX) :]
        if number.isdigit():
            return int(number)
    return 0


def _url(hit: Hit) -> str:
    url = hit.document.get("viewURL")
    return url if isinstance(url, str) else f"https://{hit.datasource}.example.com/{hit.id}"


def _document(hit: Hit) -> dict[str, Any]:
    document = {"id": hit.id, "datasource": hit.datasource, "url": _url(hit)}
    if isinstance(hit.document.get("title"), str):
        document["title"] = hit.document["title"]
    return document


def _result(hit: Hit, query_terms: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"url": _url(hit), "document": _document(hit)}
    if "title" in result["document"]:
        result["title"] = result["document"]["title"]
    snippet = _snippet(hit.document, query_terms)
    if snippet:
        result["snippets"] = [{"snippet": snippet, "mimeType": "text/plain"}]
    return result


def _snippet(document: dict[str, Any], query_terms: Iterable[str]) -> str:
    """Body text around the first query term it holds."""
    body = document.get("body")
    text = str(body.get("textContent") or "") if isinstance(body, dict) else ""
    lowered = text.lower()
    places = [lowered.find(term) for term in query_terms if term in lowered]
    start = max(0, min(places) - SNIPPET_CHARS // 4) if places else 0
    return text[start : start + SNIPPET_CHARS]


def _question(body: JSON) -> str:
    """The text of the last user message of a chat request."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("author", "USER") == "USER":
            fragments = message.get("fragments") or []
            texts = [f.get("text") for f in fragments if isinstance(f, dict)]
            return " ".join(t for t in texts if isinstance(t, str)).strip()
    return ""


def _message(text: str) -> dict[str, Any]:
    return {"author": "GLEAN_AI", "messageType": "CONTENT", "fragments": [{"text": text}]}


def _pieces(text: str, words: int = 4) -> list[str]:
    """The answer cut into pieces of a few words (each keeps its trailing space)."""
    split = text.split(" ")
    pieces = [" ".join(split[i : i + words]) for i in range(0, len(split), words)]
    return [piece + " " for piece in pieces[:-1]] + pieces[-1:]
