"""Scripted agents of the fake flux0 server, one per recorded real stream (and a long one).

Each agent turns a user message into a list of steps: status updates (sent as ``status``
frames and stored as status events), chunks (sent as ``chunk`` frames), saved events
(the finished message or tool result, stored only) and, for ``echo_crash``, a hang.
The frames follow ``fixtures/flux0/<agent type>.sse``: text comes in 4-character ``/-``
patches, a reasoning message carries ``"kind": "reasoning"`` in its chunk metadata, and
a tool call is built under ``/tool_calls/0`` with its arguments as JSON text pieces.
The real server's tests play these same scripts there (``tests/flux0_real``), so keep
this module free of imports beyond the standard library and ``.state``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .state import new_id

JSONDict = dict[str, Any]

PIECE_SIZE = 4
TOOL_NAME = "reverse_text"
FAILURE_MESSAGE = "simulated failure"
LONG_REPLY_LINES = 100


@dataclass(frozen=True)
class Turn:
    """What an agent knows when answering one user message."""

    agent_id: str
    agent_name: str
    agent_type: str
    correlation_id: str
    acknowledged_offset: int
    content: str


@dataclass(frozen=True)
class Status:
    """A status update: a ``status`` frame with ``id: <event_id>``, stored as an event."""

    event_id: str
    status: str
    data: JSONDict = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A ``chunk`` frame: JSON patches for the event being built under ``event_id``."""

    event_id: str
    seq: int
    patches: list[JSONDict]
    kind: str | None = None


@dataclass(frozen=True)
class Save:
    """A finished event the server stores without sending a frame."""

    type: str
    data: JSONDict
    metadata: JSONDict | None


@dataclass(frozen=True)
class Hang:
    """Send nothing more and keep the stream open until the client goes away."""


Step = Status | Chunk | Save | Hang
Agent = Callable[[Turn], list[Step]]


def split_text(text: str, size: int = PIECE_SIZE) -> list[str]:
    """``text`` in pieces of ``size`` characters (the last may be shorter)."""
    return [text[start : start + size] for start in range(0, len(text), size)]


def text_chunks(event_id: str, text: str, kind: str | None = None) -> list[Chunk]:
    """Chunks whose ``/-`` add patches join to ``text``."""
    return [
        Chunk(event_id, seq, [{"op": "add", "path": "/-", "value": piece}], kind)
        for seq, piece in enumerate(split_text(text))
    ]


def message_save(turn: Turn, part: JSONDict, metadata: JSONDict | None) -> Save:
    """The AI message the real server stores once an event's chunks are final."""
    data: JSONDict = {
        "type": "message",
        "tags": None,
        "flagged": None,
        "parts": [part],
        "participant": {"id": turn.agent_id, "name": turn.agent_name},
    }
    return Save("message", data, metadata)


def echo_reply(turn: Turn) -> str:
    """The answer of the echo agents."""
    return f"Echo: {turn.content}"


def long_reply(turn: Turn) -> str:
    """The answer of ``echo_long``: the echo reply on ``LONG_REPLY_LINES`` numbered lines."""
    return "".join(f"{number:03d} {echo_reply(turn)}\n" for number in range(LONG_REPLY_LINES))


def echo(turn: Turn) -> list[Step]:
    """Processing, typing, the reply ``Echo: <content>`` in chunks, the saved message."""
    return reply_steps(turn, echo_reply(turn))


def echo_long(turn: Turn) -> list[Step]:
    """Like :func:`echo`, with a long reply (:func:`long_reply`) in hundreds of chunks."""
    return reply_steps(turn, long_reply(turn))


def reply_steps(turn: Turn, reply: str) -> list[Step]:
    """Processing, typing, ``reply`` in chunks, the saved message."""
    event_id = new_id()
    return [
        Status(event_id, "processing"),
        Status(event_id, "typing"),
        *text_chunks(event_id, reply),
        message_save(turn, {"type": "content", "content": reply}, {}),
    ]


def echo_think(turn: Turn) -> list[Step]:
    """Like :func:`echo`, preceded by a reasoning message ``Thinking about: <content>``."""
    reasoning_id, reply_id = new_id(), new_id()
    reasoning = f"Thinking about: {turn.content}"
    reply = echo_reply(turn)
    return [
        Status(new_id(), "processing"),
        *text_chunks(reasoning_id, reasoning, kind="reasoning"),
        message_save(turn, {"type": "reasoning", "reasoning": reasoning}, {}),
        Status(reply_id, "typing"),
        *text_chunks(reply_id, reply),
        message_save(turn, {"type": "content", "content": reply}, {}),
    ]


def echo_tool(turn: Turn) -> list[Step]:
    """A ``reverse_text`` tool call and its result, then ``Tool said: <reversed>``."""
    call_id, result_id, reply_id = new_id(), new_id(), new_id()
    tool_call_id = f"call_{new_id()}"
    args = {"text": turn.content}
    reversed_text = turn.content[::-1]
    reply = f"Tool said: {reversed_text}"
    return [
        Status(call_id, "processing"),
        *tool_call_chunks(call_id, tool_call_id, args),
        message_save(turn, tool_call_part(tool_call_id, args), None),
        tool_result_chunk(result_id, tool_call_id, args, reversed_text),
        tool_result_save(tool_call_id, args, reversed_text),
        Status(reply_id, "typing"),
        *text_chunks(reply_id, reply),
        message_save(turn, {"type": "content", "content": reply}, {}),
    ]


def tool_call_chunks(event_id: str, tool_call_id: str, args: JSONDict) -> list[Chunk]:
    """The tool call skeleton and name, then its arguments as two JSON text pieces."""
    skeleton = {"type": "tool_call", "tool_call_id": tool_call_id, "tool_name": "", "args": []}
    first = Chunk(
        event_id,
        0,
        [
            {"op": "add", "path": "/tool_calls/0", "value": skeleton},
            {"op": "replace", "path": "/tool_calls/0/tool_name", "value": TOOL_NAME},
        ],
    )
    args_text = json.dumps(args)
    middle = len(args_text) // 2
    pieces = [args_text[:middle], args_text[middle:]]
    return [first] + [
        Chunk(event_id, seq, [{"op": "add", "path": "/tool_calls/0/args/-", "value": piece}])
        for seq, piece in enumerate(pieces, start=1)
    ]


def tool_call_part(tool_call_id: str, args: JSONDict) -> JSONDict:
    """The ``tool_call`` message part the finished tool call is saved as."""
    return {"type": "tool_call", "tool_call_id": tool_call_id, "tool_name": TOOL_NAME, "args": args}


def tool_result_chunk(event_id: str, tool_call_id: str, args: JSONDict, result: str) -> Chunk:
    """The chunk announcing the tool's result."""
    value = {
        "tool_call_id": tool_call_id,
        "tool_name": TOOL_NAME,
        "data": {"result": result},
        "args": args,
    }
    return Chunk(
        event_id,
        0,
        [
            {"op": "add", "path": "/tool_call_results", "value": []},
            {"op": "add", "path": "/tool_call_results/-", "value": value},
        ],
    )


def tool_result_save(tool_call_id: str, args: JSONDict, result: str) -> Save:
    """The ``tool`` event the real server stores for a tool result."""
    tool_call = {
        "tool_call_id": tool_call_id,
        "tool_name": TOOL_NAME,
        "args": args,
        "result": {"data": result, "metadata": {}, "control": {"mode": "auto"}},
        "error": None,
    }
    return Save("tool", {"type": "tool_call_result", "tool_calls": [tool_call]}, None)


def echo_fail(turn: Turn) -> list[Step]:
    """Starts the echo reply, then reports an ``error`` status; nothing is saved."""
    event_id = new_id()
    error_data = {"error": FAILURE_MESSAGE, "agent_type": turn.agent_type}
    return [
        Status(event_id, "processing"),
        Status(event_id, "typing"),
        *text_chunks(event_id, echo_reply(turn))[:2],
        Status(event_id, "error", error_data),
    ]


def echo_crash(turn: Turn) -> list[Step]:
    """Starts the echo reply, then goes silent with the stream left open."""
    event_id = new_id()
    return [
        Status(event_id, "processing"),
        Status(event_id, "typing"),
        *text_chunks(event_id, echo_reply(turn))[:2],
        Hang(),
    ]


AGENTS: dict[str, Agent] = {
    "echo": echo,
    "echo_think": echo_think,
    "echo_tool": echo_tool,
    "echo_fail": echo_fail,
    "echo_crash": echo_crash,
    "echo_long": echo_long,
}
AGENT_TYPES = tuple(AGENTS)
