"""In-memory agents, sessions and events of the fake flux0 server, as plain JSON dicts.

Every record is stored in the shape the real server puts on the wire (same keys, same
order), so handlers can return them as they are and tests can assert on them directly.
"""

from __future__ import annotations

import datetime
import secrets
import string
from collections.abc import Sequence
from typing import Any

JSONDict = dict[str, Any]

ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 10
GUEST_NAME = "Anonymous"  # the name flux0 gives the user of its no-op authentication


def new_id() -> str:
    """A random 10-character alphanumeric id, like the ids flux0 generates."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def new_correlation_id() -> str:
    """A correlation id in flux0's ``RID(<request id>)::<id>`` form."""
    return f"RID({new_id()})::{new_id()}"


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` suffix (pydantic's rendering)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat().replace("+00:00", "Z")


class FakeFlux0State:
    """Agents, sessions and per-session events held by one fake server.

    ``agents`` and ``sessions`` map ids to their full DTO dicts; ``events`` maps a session
    id to its events in offset order; ``open_streams`` counts the event streams being
    served right now; ``all_sessions`` lists every session created. Like the real
    server, a session may be created with an id that is taken: both are listed, the
    first one answers to the id. All requests are served from here, and tests may read
    it, or seed it with :meth:`add_agent` and :meth:`add_session`.
    """

    def __init__(self) -> None:
        self.user_id = new_id()
        self.agents: dict[str, JSONDict] = {}
        self.sessions: dict[str, JSONDict] = {}
        self.all_sessions: list[JSONDict] = []
        self.events: dict[str, list[JSONDict]] = {}
        self.open_streams = 0

    def add_agent(self, *, name: str, type: str, description: str | None = None) -> JSONDict:
        """Store a new agent and return its record (``AgentDTO`` shape)."""
        agent: JSONDict = {
            "id": new_id(),
            "name": name,
            "type": type,
            "description": description,
            "created_at": utc_now_iso(),
        }
        self.agents[agent["id"]] = agent
        return agent

    def add_session(
        self, *, agent_id: str, session_id: str | None = None, title: str | None = None
    ) -> JSONDict:
        """Store a new session for the guest user and return its record (``SessionDTO``)."""
        session: JSONDict = {
            "id": session_id or new_id(),
            "agent_id": agent_id,
            "user_id": self.user_id,
            "title": title,
            "consumption_offsets": {"client": 0},
            "created_at": utc_now_iso(),
        }
        self.sessions.setdefault(session["id"], session)
        self.all_sessions.append(session)
        self.events.setdefault(session["id"], [])
        return session

    def add_event(
        self,
        session_id: str,
        *,
        type: str,
        source: str,
        correlation_id: str,
        data: JSONDict,
        metadata: JSONDict | None = None,
    ) -> JSONDict:
        """Append an event to a session at the next offset and return it (``EventDTO``)."""
        events = self.events.setdefault(session_id, [])
        event: JSONDict = {
            "id": new_id(),
            "correlation_id": correlation_id,
            "type": type,
            "source": source,
            "offset": len(events),
            "data": data,
            "deleted": False,
            "metadata": metadata,
            "created_at": utc_now_iso(),
        }
        events.append(event)
        return event

    def list_sessions(self, agent_id: str | None = None) -> list[JSONDict]:
        """Sessions in creation order, optionally only those of one agent."""
        return [s for s in self.all_sessions if agent_id is None or s["agent_id"] == agent_id]

    def list_events(
        self,
        session_id: str,
        *,
        min_offset: int | None = None,
        source: str | None = None,
        correlation_id: str | None = None,
        types: Sequence[str] = (),
    ) -> list[JSONDict]:
        """A session's events matching every given filter, in offset order."""
        return [
            event
            for event in self.events.get(session_id, [])
            if (min_offset is None or event["offset"] >= min_offset)
            and (source is None or event["source"] == source)
            and (correlation_id is None or event["correlation_id"] == correlation_id)
            and (not types or event["type"] in types)
        ]
