"""An aiohttp application that answers like the real flux0 server (0.1.0b4), in memory.

Status codes, error bodies and the SSE wire format follow the real server: 422 with
FastAPI's ``{"detail": [...]}`` for invalid input (ids must be exactly 10 characters),
plain-string ``detail`` for the errors the server raises itself, 400 for a missing
session on ``/events`` and ``/events/stream`` but 404 on ``GET /api/sessions/{id}``.
Like the real server, status updates are stored as events next to the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from shared.testing import LocalAppServer

from .agents import AGENTS, Chunk, Hang, Save, Status, Step, Turn
from .state import GUEST_NAME, FakeFlux0State, JSONDict, new_correlation_id
from .validation import (
    AGENT_CREATION_PARAMS,
    AGENT_ID_QUERY,
    ALLOW_GREETING_QUERY,
    CORRELATION_ID_QUERY,
    EVENT_CREATION_PARAMS,
    EVENT_TYPES_BODY,
    ID_SCHEMA,
    MIN_OFFSET_QUERY,
    SESSION_CREATION_PARAMS,
    SOURCE_QUERY,
    check,
    check_query,
    error,
)

STATE_KEY = web.AppKey("flux0_fake_state", FakeFlux0State)
CHUNK_DELAY_KEY = web.AppKey("flux0_fake_chunk_delay", float)
CLOSING_KEY = web.AppKey("flux0_fake_closing", asyncio.Event)

DISCONNECT_POLL_SECONDS = 0.05
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestError(Exception):
    """Ends a request with ``status`` and the JSON body ``{"detail": detail}``."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


def create_app(*, chunk_delay: float = 0.0) -> web.Application:
    """A fresh fake flux0 application with empty in-memory state.

    ``chunk_delay`` is the pause in seconds between two frames of an event stream.
    The state is ``app[STATE_KEY]`` (a :class:`FakeFlux0State`).
    """
    app = web.Application(middlewares=[error_middleware])
    app[STATE_KEY] = FakeFlux0State()
    app[CHUNK_DELAY_KEY] = chunk_delay
    app[CLOSING_KEY] = asyncio.Event()
    app.on_shutdown.append(_release_open_streams)
    # The real server's route order: a wrong method is answered with the ``Allow`` of
    # the first route whose path matches (so ``DELETE /api/agents`` allows ``POST``).
    app.router.add_post("/api/agents", create_agent)
    app.router.add_get("/api/agents/{agent_id}", retrieve_agent)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_post("/api/sessions", create_session)
    app.router.add_get("/api/sessions/{session_id}", retrieve_session)
    app.router.add_get("/api/sessions", list_sessions)
    app.router.add_post("/api/sessions/{session_id}/events/stream", create_session_event)
    app.router.add_get("/api/sessions/{session_id}/events", list_session_events)
    return app


async def _release_open_streams(app: web.Application) -> None:
    app[CLOSING_KEY].set()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render :class:`RequestError` and routing errors as FastAPI does."""
    try:
        return await handler(request)
    except RequestError as exc:
        return json_response({"detail": exc.detail}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_response({"detail": exc.reason}, status=exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = ", ".join(sorted(await first_route_methods(request)))
        return response


async def first_route_methods(request: web.Request) -> set[str]:
    """The methods of the first route whose path matches (Starlette's ``Allow``)."""
    for resource in request.app.router.resources():
        _, allowed = await resource.resolve(request)
        if allowed:
            return set(allowed)
    return set()


def json_response(body: Any, *, status: int = 200) -> web.Response:
    """A JSON response encoded like FastAPI's (compact, UTF-8)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return web.Response(body=text.encode(), status=status, content_type="application/json")


def without_none(record: JSONDict) -> JSONDict:
    """``record`` without ``None`` values, nested dicts included (``exclude_none``)."""
    return {
        key: without_none(value) if isinstance(value, dict) else value
        for key, value in record.items()
        if value is not None
    }


async def read_body(
    request: web.Request, schema: JSONDict, *, required: bool
) -> tuple[Any, list[JSONDict]]:
    """The request's JSON body and its validation errors against ``schema``."""
    raw = await request.read()
    if raw and _declares_other_than_json(request):
        value: Any = raw.decode("utf-8", "replace")
    elif raw:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            ctx = {"error": exc.msg}
            return None, [error("json_invalid", ("body", exc.pos), "JSON decode error", {}, ctx)]
        except UnicodeDecodeError as exc:
            ctx = {"error": exc.reason}
            return None, [error("json_invalid", ("body", 0), "JSON decode error", {}, ctx)]
    else:
        value = None
    if value is None:
        missing = error("missing", ("body",), "Field required", None)
        return None, [missing] if required else []
    return value, check(schema, value, ("body",))


def _declares_other_than_json(request: web.Request) -> bool:
    if "Content-Type" not in request.headers:
        return False
    main_type, _, subtype = request.content_type.partition("/")
    return not (main_type == "application" and (subtype == "json" or subtype.endswith("+json")))


def path_id(request: web.Request, name: str) -> tuple[str, list[JSONDict]]:
    """A 10-character id from the path and its validation errors."""
    value = request.match_info[name]
    return value, check(ID_SCHEMA, value, ("path", name))


def query_value(request: web.Request, name: str, schema: JSONDict) -> tuple[Any, list[JSONDict]]:
    """A query parameter parsed by ``schema`` (``None`` when absent) and its errors."""
    return check_query(schema, request.query.get(name), ("query", name))


def raise_if_invalid(errors: list[JSONDict]) -> None:
    """Reject the request with FastAPI's 422 body when there are errors."""
    if errors:
        raise RequestError(422, errors)


# --- agents ---------------------------------------------------------------------------


async def list_agents(request: web.Request) -> web.Response:
    """``GET /api/agents``: every agent, in creation order."""
    state = request.app[STATE_KEY]
    return json_response({"data": list(state.agents.values())})


async def create_agent(request: web.Request) -> web.Response:
    """``POST /api/agents``: 201 with the new agent; 422 for an unknown agent type."""
    state = request.app[STATE_KEY]
    body, errors = await read_body(request, AGENT_CREATION_PARAMS, required=True)
    raise_if_invalid(errors)
    if body["type"] not in AGENTS:
        raise RequestError(422, f"Agent type '{body['type']}' is not supported")
    description = body.get("description") or None
    agent = state.add_agent(name=body["name"], type=body["type"], description=description)
    return json_response(without_none(agent), status=201)


async def retrieve_agent(request: web.Request) -> web.Response:
    """``GET /api/agents/{agent_id}``: the agent, or 404."""
    state = request.app[STATE_KEY]
    agent_id, errors = path_id(request, "agent_id")
    raise_if_invalid(errors)
    agent = state.agents.get(agent_id)
    if agent is None:
        raise RequestError(404, f"Agent with ID {agent_id} not found")
    return json_response(agent)


# --- sessions -------------------------------------------------------------------------


async def create_session(request: web.Request) -> web.Response:
    """``POST /api/sessions``: 201 with the new session (even for a taken ``id``, as the
    real server does); 400 for a missing agent.

    ``allow_greeting`` is validated and otherwise ignored: the scripted agents never greet.
    """
    state = request.app[STATE_KEY]
    _, errors = query_value(request, "allow_greeting", ALLOW_GREETING_QUERY)
    body, body_errors = await read_body(request, SESSION_CREATION_PARAMS, required=True)
    raise_if_invalid(errors + body_errors)
    agent = state.agents.get(body["agent_id"])
    if agent is None:
        raise RequestError(400, f"Agent with ID {body['agent_id']} not found")
    if agent["type"] not in AGENTS:
        raise RequestError(400, f"Agent type {agent['type']} is not supported by the server")
    session = state.add_session(
        agent_id=agent["id"], session_id=body.get("id"), title=body.get("title")
    )
    return json_response(without_none(session), status=201)


async def list_sessions(request: web.Request) -> web.Response:
    """``GET /api/sessions``: all sessions, or those of ``?agent_id=``."""
    state = request.app[STATE_KEY]
    agent_id, errors = query_value(request, "agent_id", AGENT_ID_QUERY)
    raise_if_invalid(errors)
    return json_response({"data": state.list_sessions(agent_id)})


async def retrieve_session(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}``: the session, or 404."""
    state = request.app[STATE_KEY]
    session_id, errors = path_id(request, "session_id")
    raise_if_invalid(errors)
    session = state.sessions.get(session_id)
    if session is None:
        raise RequestError(404, f"Session with ID {session_id} not found")
    return json_response(without_none(session))


# --- events ---------------------------------------------------------------------------


async def list_session_events(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/events``: filtered events; 400 for no session.

    Filters: ``min_offset``, ``source`` and ``correlation_id`` in the query, and an
    optional JSON body holding an array of event types (or ``null``).
    """
    state = request.app[STATE_KEY]
    session_id, errors = path_id(request, "session_id")
    min_offset, offset_errors = query_value(request, "min_offset", MIN_OFFSET_QUERY)
    source, source_errors = query_value(request, "source", SOURCE_QUERY)
    correlation_id, correlation_errors = query_value(
        request, "correlation_id", CORRELATION_ID_QUERY
    )
    types, body_errors = await read_body(request, EVENT_TYPES_BODY, required=False)
    raise_if_invalid(errors + offset_errors + source_errors + correlation_errors + body_errors)
    if session_id not in state.sessions:
        detail = f"Cannot list events for non-existent session with ID {session_id}"
        raise RequestError(400, detail)
    events = state.list_events(
        session_id,
        min_offset=min_offset,
        source=source,
        correlation_id=correlation_id,
        types=types or (),
    )
    return json_response({"data": events})


async def create_session_event(request: web.Request) -> web.StreamResponse:
    """``POST /api/sessions/{session_id}/events/stream``: store a user message, stream the
    agent's answer as SSE and close (``echo_crash`` keeps the stream open)."""
    state = request.app[STATE_KEY]
    session_id, errors = path_id(request, "session_id")
    body, body_errors = await read_body(request, EVENT_CREATION_PARAMS, required=True)
    raise_if_invalid(errors + body_errors)
    content = accepted_user_message(body)
    session = state.sessions.get(session_id)
    if session is None:
        raise RequestError(400, f"Session with ID {session_id} not found")
    agent = state.agents.get(session["agent_id"])
    if agent is None:
        raise RequestError(400, f"Agent with ID {session['agent_id']} not found")
    run_agent = AGENTS.get(agent["type"])
    if run_agent is None:
        raise RequestError(400, f"Agent type {agent['type']} is not supported by the server")
    user_event = state.add_event(
        session_id,
        type="message",
        source="user",
        correlation_id=new_correlation_id(),
        data=user_message_data(session["user_id"], content),
    )
    turn = Turn(
        agent_id=agent["id"],
        agent_name=agent["name"],
        agent_type=agent["type"],
        correlation_id=user_event["correlation_id"],
        acknowledged_offset=user_event["offset"],
        content=content,
    )
    response = web.StreamResponse(headers={"Content-Type": SSE_CONTENT_TYPE})
    await response.prepare(request)
    state.open_streams += 1
    try:
        await play_steps(request, response, session_id, turn, run_agent(turn))
    finally:
        state.open_streams -= 1
    return response


def accepted_user_message(body: JSONDict) -> str:
    """The content of a postable event: a user message with text, else 422."""
    if body["type"] != "message":
        raise RequestError(422, "Only message events can currently be added manually")
    if body["source"] != "user":
        raise RequestError(422, 'Only "user" source is supported for direct posting.')
    content = body.get("content")
    if not content:
        raise RequestError(422, "Missing 'message' field in event parameters")
    return str(content)


def user_message_data(user_id: str, content: str) -> JSONDict:
    """The ``data`` of a stored user message, as the real server builds it."""
    return {
        "type": "message",
        "tags": [],
        "flagged": False,
        "parts": [{"type": "content", "content": content}],
        "participant": {"id": user_id, "name": GUEST_NAME},
    }


async def play_steps(
    request: web.Request,
    response: web.StreamResponse,
    session_id: str,
    turn: Turn,
    steps: list[Step],
) -> None:
    """Send and store an agent's steps until the last one or until the client leaves."""
    state = request.app[STATE_KEY]
    delay = request.app[CHUNK_DELAY_KEY]
    sent_frames = 0
    for step in steps:
        if isinstance(step, Hang):
            await wait_until_gone(request)
            return
        if isinstance(step, Save):
            state.add_event(
                session_id,
                type=step.type,
                source="ai_agent",
                correlation_id=turn.correlation_id,
                data=step.data,
                metadata=step.metadata,
            )
            continue
        if isinstance(step, Status):
            store_status(state, session_id, turn, step)
        if sent_frames and delay > 0:
            await asyncio.sleep(delay)
        try:
            await response.write(render_frame(turn, step).encode())
        except ConnectionError:
            return
        sent_frames += 1


def store_status(state: FakeFlux0State, session_id: str, turn: Turn, step: Status) -> None:
    """Store a status update as an event, as the real server does before sending it."""
    data = {
        "type": "status",
        "status": step.status,
        "acknowledged_offset": turn.acknowledged_offset,
        "data": step.data,
    }
    state.add_event(
        session_id,
        type="status",
        source="ai_agent",
        correlation_id=turn.correlation_id,
        data=data,
    )


def render_frame(turn: Turn, step: Status | Chunk) -> str:
    """The SSE frame of a step: ``status`` frames carry ``id:``, ``chunk`` frames do not."""
    if isinstance(step, Status):
        payload = json.dumps(status_payload(turn, step))
        return f"event: status\nid: {step.event_id}\ndata: {payload}\n\n"
    return f"event: chunk\ndata: {json.dumps(chunk_payload(turn, step))}\n\n"


def status_payload(turn: Turn, step: Status) -> JSONDict:
    """The JSON of a ``status`` frame (an ``EmittedEvent``)."""
    return {
        "id": step.event_id,
        "source": "ai_agent",
        "type": "status",
        "correlation_id": turn.correlation_id,
        "data": {
            "type": "status",
            "acknowledged_offset": turn.acknowledged_offset,
            "status": step.status,
            "data": step.data,
        },
        "metadata": None,
    }


def chunk_payload(turn: Turn, step: Chunk) -> JSONDict:
    """The JSON of a ``chunk`` frame (a ``ChunkEvent``)."""
    metadata: JSONDict = {"agent_id": turn.agent_id, "agent_name": turn.agent_name}
    if step.kind is not None:
        metadata["kind"] = step.kind
    return {
        "correlation_id": turn.correlation_id,
        "event_id": step.event_id,
        "seq": step.seq,
        "patches": step.patches,
        "metadata": metadata,
        "timestamp": time.time(),
    }


async def wait_until_gone(request: web.Request) -> None:
    """Return once the client has disconnected or the server is shutting down."""
    closing = request.app[CLOSING_KEY]
    while not closing.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(closing.wait(), DISCONNECT_POLL_SECONDS)


# --- running it -----------------------------------------------------------------------


class FakeFlux0Server(LocalAppServer):
    """The fake flux0 app served over HTTP on ``host`` (a free port when ``port`` is 0).

    ``async with FakeFlux0Server() as server:`` runs it on the current event loop;
    ``with FakeFlux0Server.in_thread() as server:`` runs it on a thread of its own, for
    blocking code. ``server.url`` is the base URL, ``server.state`` the in-memory state.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, chunk_delay: float = 0.0) -> None:
        super().__init__(create_app(chunk_delay=chunk_delay), host=host, port=port)

    @property
    def state(self) -> FakeFlux0State:
        """The agents, sessions and events the server holds."""
        return self.app[STATE_KEY]
