"""The demo, the README's first command: ``python -m glean_async.demo`` (``bash .ci/demo``).

It starts the embedded Glean and flux0 servers on 127.0.0.1 (in this process), then:
bulk-uploads 20,000 generated documents with a progress bar (``glean.bulk.documents``),
searches them (async, then the same search through the blocking ``glean_async.sync``
facade), streams a chat answer, runs a flux0 session whose reply streams in, and prints
a summary with timings.

``--url`` (or ``GLEAN_SERVER_URL`` / ``GLEAN_INSTANCE``, with ``GLEAN_API_TOKEN``) and
``--flux0-url`` (or ``FLUX0_SERVER_URL``) point it at real servers instead. Against a
real Glean the upload *replaces* the documents of ``--datasource`` (default
``glean-async-demo``), so use a datasource made for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import attrs

from . import Glean
from . import sync as glean_sync

TOPICS = (
    "vacation policy",
    "expense reports",
    "laptop security",
    "onboarding checklist",
    "travel booking",
    "benefits enrollment",
    "incident review",
    "release process",
)
QUERY = "vacation policy"
QUESTION = "How many vacation days do I get?"
FLUX0_MESSAGE = "Is it foggy in San Francisco today?"


@attrs.define
class Summary:
    """What the demo did, printed at the end (and checked by tests/test_demo.py)."""

    timings: dict[str, float] = attrs.field(factory=dict)
    lines: list[str] = attrs.field(factory=list)

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = time.perf_counter() - start

    def add(self, step: str, text: str) -> None:
        self.lines.append(f"{text} ({self.timings.get(step, 0.0):.2f} s)")

    def print(self, total: float) -> None:
        print("\n== summary")
        for line in self.lines:
            print(line)
        print(f"total: {total:.2f} s")


@attrs.frozen
class Documents:
    """``count`` handbook-like documents, made as the upload pulls them (never a list).

    Its ``len`` gives the progress bar its total.
    """

    count: int
    datasource: str

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self.document, range(self.count))

    def document(self, number: int) -> dict[str, Any]:
        topic = TOPICS[number % len(TOPICS)]
        datasource = self.datasource
        return {
            "datasource": datasource,
            "object_type": "Article",
            "id": f"demo-{number}",
            "title": f"{topic.capitalize()} {number}",
            "view_url": f"https://handbook.example.com/{topic.replace(' ', '-')}/{number}",
            "body": {
                "mime_type": "text/plain",
                "text_content": f"Everything about {topic}, part {number} of the handbook.",
            },
            "permissions": {"allow_anonymous_access": True},
        }


# -- Glean ------------------------------------------------------------------------------


async def glean_tour(options: dict[str, Any], args: argparse.Namespace, summary: Summary) -> None:
    print(f"== Glean (glean_async) at {options.get('server_url') or options.get('instance')}")
    async with Glean(**options) as glean:
        with summary.timed("upload"):
            report = await glean.bulk.documents(
                args.datasource, Documents(args.documents, args.datasource), progress=True
            )
        state = "finalized" if report.finalized else "NOT finalized"
        seconds = summary.timings["upload"]
        summary.add(
            "upload",
            f"glean: {report.accepted:,} documents uploaded in {report.pages} pages, {state}, "
            f"{report.failed} failed, {report.accepted / max(seconds, 1e-9):,.0f} docs/s",
        )
        print(f"uploaded: {report.accepted:,} documents, {state}")

        with summary.timed("search"):
            results = await glean.client.search.query(query=QUERY, page_size=5)
        hits = results.results or []
        for rank, hit in enumerate(hits, 1):
            print(f"  {rank}. {hit.title}  {hit.url}")
        top = repr(hits[0].title) if hits else "none"
        summary.add("search", f"glean: search {QUERY!r}: {len(hits)} hits, top {top}")

        with summary.timed("chat"):
            chunks, answer = await stream_chat(glean)
        summary.add("chat", f"glean: chat answer streamed in {chunks} chunks, {len(answer)} chars")


async def stream_chat(glean: Glean) -> tuple[int, str]:
    """Ask one question and print the answer's text as it streams in."""
    print(f"chat: {QUESTION}\n  > ", end="", flush=True)
    question = {"author": "USER", "fragments": [{"text": QUESTION}]}
    chunks, answer = 0, []
    stream = await glean.client.chat.create_stream(messages=[question])
    async with stream as responses:
        async for response in responses:
            for message in response.messages or []:
                for fragment in message.fragments or []:
                    if fragment.text:
                        chunks += 1
                        answer.append(fragment.text)
                        print(fragment.text, end="", flush=True)
    print()
    return chunks, "".join(answer)


def sync_search(options: dict[str, Any], summary: Summary) -> None:
    """The same search through the blocking facade (outside any event loop)."""
    with summary.timed("sync search"), glean_sync.Glean(**options) as glean:
        hits = glean.client.search.query(query=QUERY, page_size=5).results or []
    top = repr(hits[0].title) if hits else "none"
    print(f"the same search with glean_async.sync: {len(hits)} hits, top {top}")
    summary.add("sync search", f"glean: same search with glean_async.sync: {len(hits)} hits")


# -- flux0 ------------------------------------------------------------------------------


async def flux0_tour(url: str, args: argparse.Namespace, summary: Summary) -> None:
    from flux0_async import Flux0
    from flux0_async.demo import EventPrinter

    print(f"\n== flux0 (flux0_async) at {url}")
    with summary.timed("flux0"):
        async with Flux0(server_url=url) as flux0:
            agent = await flux0.agents.create(name="Drizzle", type=args.flux0_agent_type)
            session = await flux0.sessions.create(agent_id=agent.id, title="Weather in SF")
            print(f"session {session.id} with agent {agent.name!r}; the reply streams in:")
            printer = CountingPrinter(EventPrinter())
            stream = await flux0.sessions.create_event(
                session_id=session.id, type="message", source="user", content=FLUX0_MESSAGE
            )
            async with stream as events:
                async for event in events:
                    printer(event)
            printer.printer.end_line()
    summary.add(
        "flux0",
        f"flux0: session {session.id}: reply streamed in {printer.events} events, "
        f"{printer.chunks} text chunks",
    )


class CountingPrinter:
    """flux0's event printer, counting the events and the text chunks it was shown."""

    def __init__(self, printer: Any) -> None:
        self.printer = printer
        self.events = 0
        self.chunks = 0

    def __call__(self, event: Any) -> None:
        from flux0_async import models

        self.events += 1
        if isinstance(event, models.ChunkEventStream):
            self.chunks += 1
        self.printer(event)


# -- entry point ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m glean_async.demo", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--url", default=os.environ.get("GLEAN_SERVER_URL"), help="Glean URL")
    parser.add_argument("--flux0-url", default=os.environ.get("FLUX0_SERVER_URL"))
    parser.add_argument("--documents", type=int, default=20_000, help="documents to upload")
    parser.add_argument("--datasource", default="glean-async-demo")
    parser.add_argument("--flux0-agent-type", default="echo", help="agent type to create")
    return parser.parse_args(argv)


def glean_options(args: argparse.Namespace, embedded_url: str | None) -> dict[str, Any]:
    """``Glean(...)`` arguments: the embedded server's, or the real one's from the settings."""
    if embedded_url is not None:
        return {"api_token": "demo-token", "server_url": embedded_url}
    token = os.environ.get("GLEAN_API_TOKEN")
    if not token:
        raise SystemExit("GLEAN_API_TOKEN must be set to use a real Glean instance")
    return {
        "api_token": token,
        "server_url": args.url,
        "instance": os.environ.get("GLEAN_INSTANCE"),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    real_glean = bool(args.url or os.environ.get("GLEAN_INSTANCE"))
    with contextlib.ExitStack() as stack:
        glean_url = None if real_glean else start_glean(stack)
        flux0_url = args.flux0_url or start_flux0(stack)
        summary = Summary()
        options = glean_options(args, glean_url)
        asyncio.run(glean_tour(options, args, summary))
        sync_search(options, summary)
        asyncio.run(flux0_tour(flux0_url, args, summary))
    summary.print(time.perf_counter() - started)
    return 0


def start_glean(stack: contextlib.ExitStack) -> str:
    from .testing import FakeGleanServer

    server = stack.enter_context(FakeGleanServer.in_thread())
    print(f"embedded Glean server on {server.url}")
    return server.url


def start_flux0(stack: contextlib.ExitStack) -> str:
    from flux0_async.testing import FakeFlux0Server

    server = stack.enter_context(FakeFlux0Server.in_thread(chunk_delay=0.02))
    print(f"embedded flux0 server on {server.url}")
    return server.url


if __name__ == "__main__":
    sys.exit(main())
