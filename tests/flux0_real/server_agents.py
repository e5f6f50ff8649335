"""A flux0 module (run inside the real server) with the fake server's scripted agents.

``init_module`` registers one ``AgentRunner`` per agent type of
``flux0_async/testing/agents.py``: the scripts the fake server plays are played here
through the real server's event emitter, so both servers answer the same user message
with the same steps, and whatever differs on the wire is the servers' doing.

Steps map onto the emitter like this: ``Status`` -> a status event; ``Chunk`` -> a
chunk event; ``Save`` -> a ``ready`` status for the event whose chunks came last (the
server then builds and stores the finished message); ``Hang`` -> wait until cancelled.
The run ends with a ``completed`` status, which ends the server's event stream.

The scripts are loaded from their files under a package name of their own, without
importing ``flux0_async`` (whose runtime dependencies the server venv does not have).
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import types
from pathlib import Path
from typing import Any

from flux0_core.agent_runners.api import AgentRunner, Deps, agent_runner
from flux0_core.agent_runners.context import Context
from flux0_stream.types import ChunkEvent
from lagom import Container

SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "flux0_async" / "testing"
SCRIPTS_PACKAGE = "flux0_fake_scripts"


def load_scripts() -> types.ModuleType:
    """``flux0_async/testing/agents.py`` (and its ``state`` helper), imported by file."""
    if SCRIPTS_PACKAGE not in sys.modules:
        package = types.ModuleType(SCRIPTS_PACKAGE)
        package.__path__ = [str(SCRIPTS_DIR)]
        sys.modules[SCRIPTS_PACKAGE] = package
    return importlib.import_module(f"{SCRIPTS_PACKAGE}.agents")


scripts = load_scripts()


def last_user_message(events: Any) -> Any:
    """The newest user message event of a session, or ``None`` (a greeting run)."""
    for event in reversed(list(events)):
        if event.source == "user" and event.type == "message":
            return event
    return None


def message_text(event: Any) -> str:
    """The text of a user message event."""
    return "".join(str(part.get("content", "")) for part in event.data["parts"])


class ScriptPlayer:
    """Plays one agent script's steps for one user message through the emitter."""

    def __init__(self, deps: Deps, turn: Any) -> None:
        self.emitter = deps.event_emitter
        self.turn = turn
        self.last_chunk_event: str | None = None

    async def status(self, status: str, event_id: str, data: Any = None) -> None:
        payload = {
            "type": "status",
            "acknowledged_offset": self.turn.acknowledged_offset,
            "status": status,
            "data": {} if data is None else data,
        }
        await self.emitter.enqueue_status_event(
            correlation_id=self.turn.correlation_id, data=payload, event_id=event_id
        )

    async def chunk(self, step: Any) -> None:
        metadata: dict[str, Any] = {
            "agent_id": self.turn.agent_id,
            "agent_name": self.turn.agent_name,
        }
        if step.kind is not None:
            metadata["kind"] = step.kind
        chunk = ChunkEvent(
            correlation_id=self.turn.correlation_id,
            event_id=step.event_id,
            seq=step.seq,
            patches=step.patches,
            metadata=metadata,
        )
        self.last_chunk_event = step.event_id
        await self.emitter.enqueue_event_chunk(chunk)

    async def play(self, steps: list[Any]) -> None:
        for step in steps:
            if isinstance(step, scripts.Status):
                await self.status(step.status, step.event_id, step.data)
            elif isinstance(step, scripts.Chunk):
                await self.chunk(step)
            elif isinstance(step, scripts.Save):
                if self.last_chunk_event is None:
                    raise RuntimeError("a Save step must follow the chunks it finishes")
                await self.status("ready", self.last_chunk_event)
            elif isinstance(step, scripts.Hang):
                await asyncio.Event().wait()


async def run_script(agent_type: str, context: Context, deps: Deps) -> bool:
    """Answer the session's newest user message with the script of ``agent_type``."""
    agent = await deps.read_agent(context.agent_id)
    user_event = last_user_message(await deps.list_session_events(context.session_id))
    if agent is None or user_event is None:
        return True
    turn = scripts.Turn(
        agent_id=agent.id,
        agent_name=agent.name,
        agent_type=agent_type,
        correlation_id=user_event.correlation_id,
        acknowledged_offset=user_event.offset,
        content=message_text(user_event),
    )
    player = ScriptPlayer(deps, turn)
    await player.play(scripts.AGENTS[agent_type](turn))
    await player.status("completed", scripts.new_id())
    return True


def runner_class(agent_type: str) -> type[AgentRunner]:
    """An ``AgentRunner`` subclass registered for ``agent_type``."""

    async def run(self: AgentRunner, context: Context, deps: Deps) -> bool:
        return await run_script(agent_type, context, deps)

    cls = type(f"ScriptedRunner_{agent_type}", (AgentRunner,), {"run": run})
    return agent_runner(agent_type)(cls)


RUNNERS = [runner_class(agent_type) for agent_type in scripts.AGENT_TYPES]


async def init_module(container: Container) -> None:
    """Register the scripted runners (flux0 module hook)."""
    for runner in RUNNERS:
        container[runner] = runner()


async def shutdown_module() -> None:
    """Nothing to release (flux0 module hook)."""
