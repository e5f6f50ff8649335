"""A tour of the flux0 SDK against the embedded fake server: ``python -m flux0_async.demo``.

It starts :class:`flux0_async.testing.FakeFlux0Server` on 127.0.0.1, then talks to it
twice: with the async client (agents, sessions, a streamed reply printed as it arrives,
the saved events, a validation error) and with the blocking ``flux0_async.sync`` facade.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from . import Flux0, errors, models
from .sync import Flux0 as SyncFlux0
from .testing import FakeFlux0Server


class EventPrinter:
    """Prints text chunks inline as they arrive, and status changes on lines of their own."""

    def __init__(self, out: Any = sys.stdout) -> None:
        self.out = out
        self.mid_line = False

    def __call__(self, event: Any) -> None:
        if isinstance(event, models.ChunkEventStream):
            text = "".join(str(p.value) for p in event.data.patches if p.path == "/-")
            if text:
                self._write(text if self.mid_line else f"  > {text}")
                self.mid_line = True
        elif isinstance(event.data.data, models.StatusEventDataDTO):
            self.end_line()
            self._write(f"  [status: {event.data.data.status}]\n")

    def end_line(self) -> None:
        if self.mid_line:
            self._write("\n")
            self.mid_line = False

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


async def async_tour(url: str) -> None:
    print("== async client (flux0_async.Flux0)")
    async with Flux0(server_url=url) as flux0:
        agent = await flux0.agents.create(name="Drizzle", type="echo")
        print(f"created agent {agent.name!r} ({agent.id}), type {agent.type}")
        session = await flux0.sessions.create(agent_id=agent.id, title="Weather in SF")
        print(f"created session {session.id} at {session.created_at:%H:%M:%S}")
        print("streaming the reply:")
        show_event = EventPrinter()
        stream = await flux0.sessions.create_event(
            session_id=session.id, type="message", source="user", content="is it foggy?"
        )
        async with stream as events:
            async for event in events:
                show_event(event)
        show_event.end_line()
        saved = await flux0.sessions.list_events(session_id=session.id, request=["message"])
        for saved_event in saved.data:
            data = saved_event.data
            if isinstance(data, models.MessageEventDataDTO):
                text = " ".join(str(getattr(p, "content", "")) for p in data.parts)
                print(f"saved #{saved_event.offset} from {saved_event.source}: {text}")
        try:
            await flux0.agents.retrieve(agent_id="too-short")
        except errors.HTTPValidationError as error:
            for detail in error.data.detail or []:
                print(f"HTTP {error.status_code}: {detail.msg} at {detail.loc}")


def sync_tour(url: str) -> None:
    print("\n== sync facade (flux0_async.sync.Flux0)")
    with SyncFlux0(server_url=url) as flux0:
        agent = flux0.agents.create(name="Echo tool", type="echo_tool")
        session = flux0.sessions.create(agent_id=agent.id)
        print("streaming a tool-using reply:")
        show_event = EventPrinter()
        with flux0.sessions.create_event(
            session_id=session.id, type="message", source="user", content="hello"
        ) as events:
            for event in events:
                show_event(event)
        show_event.end_line()
        agents = flux0.agents.list().data
        print(f"{len(agents)} agents on the server: {', '.join(a.name for a in agents)}")


def main() -> int:
    with FakeFlux0Server.in_thread(chunk_delay=0.03) as server:
        print(f"fake flux0 server listening on {server.url}\n")
        asyncio.run(async_tour(server.url))
        sync_tour(server.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
