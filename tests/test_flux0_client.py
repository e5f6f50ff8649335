"""Every flux0 operation through the async client, against the fake and the real server.

Each test runs twice: ``[fake]`` on a fresh fake server, ``[real]`` on the session's real
flux0 server (whose agents and sessions pile up, so tests look only at what they made).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flux0_async import Flux0, converter, errors, models
from shared.errors import InvalidInputError
from shared.unset import UNSET
from tests.flux0_real.plugin import SERVER_KINDS


@pytest.fixture(params=SERVER_KINDS)
def server_url(request: pytest.FixtureRequest) -> str:
    """A fresh fake server's URL (the plugin's flux0_server), or the real server's."""
    name = "real_flux0_server" if request.param == "real" else "flux0_server"
    url: str = request.getfixturevalue(name).url
    return url


@pytest.fixture
async def flux0(server_url: str) -> AsyncIterator[Flux0]:
    async with Flux0(server_url=server_url) as client:
        yield client


def acquired(client: Flux0) -> int:
    """Connections the client's pool has handed out and not got back."""
    connector = client._core.session.connector
    assert connector is not None
    return len(connector._acquired)  # type: ignore[attr-defined]


def reply_text(events: list[Any]) -> str:
    """The AI reply rebuilt from the chunk events' ``/-`` patches, in ``seq`` order."""
    chunks = [e.data for e in events if isinstance(e, models.ChunkEventStream)]
    texts = [c for c in chunks if all(p.path == "/-" for p in c.patches)]
    texts.sort(key=lambda c: (c.event_id, c.seq))
    return "".join(str(p.value) for c in texts for p in c.patches)


async def new_session(flux0: Flux0, agent_type: str = "echo") -> models.SessionDTO:
    agent = await flux0.agents.create(name="Drizzle", type=agent_type)
    return await flux0.sessions.create(agent_id=agent.id, title="weather")


pytestmark = pytest.mark.anyio


async def agent_ids(flux0: Flux0) -> list[str]:
    return [a.id for a in (await flux0.agents.list()).data]


async def test_agents_create_list_retrieve(flux0: Flux0) -> None:
    before = await agent_ids(flux0)
    agent = await flux0.agents.create(name="Drizzle", type="echo")
    assert isinstance(agent, models.AgentDTO) and len(agent.id) == 10
    assert agent.name == "Drizzle" and agent.type == "echo"
    assert [i for i in await agent_ids(flux0) if i not in before] == [agent.id]
    retrieved = await flux0.agents.retrieve(agent_id=agent.id)
    # like the real server, create omits null fields that retrieve sends as null
    assert (retrieved.id, retrieved.name, retrieved.created_at) == (
        agent.id,
        agent.name,
        agent.created_at,
    )
    assert agent.description is UNSET and retrieved.description is None


async def test_create_accepts_a_whole_request_as_dict_or_model(flux0: Flux0) -> None:
    by_dict = await flux0.agents.create(request={"name": "A", "type": "echo"})
    model = models.AgentCreationParamsDTO(name="B", type="echo_tool")
    by_model = await flux0.agents.create(request=model)
    assert (by_dict.name, by_model.type) == ("A", "echo_tool")


async def test_sessions_create_list_retrieve(flux0: Flux0) -> None:
    before = {s.id for s in (await flux0.sessions.list()).data}
    agent = await flux0.agents.create(name="Drizzle", type="echo")
    other = await flux0.agents.create(name="Other", type="echo")
    session = await flux0.sessions.create(agent_id=agent.id, title="SF", allow_greeting=False)
    second = await flux0.sessions.create(agent_id=other.id)
    assert session.agent_id == agent.id and session.title == "SF"
    assert await flux0.sessions.retrieve(session_id=session.id) == session
    listed = [s.id for s in (await flux0.sessions.list()).data if s.id not in before]
    assert listed == [session.id, second.id]
    filtered = await flux0.sessions.list(agent_id=agent.id)
    assert [s.id for s in filtered.data] == [session.id]


async def test_create_event_streams_typed_events_that_rebuild_the_reply(flux0: Flux0) -> None:
    session = await new_session(flux0)
    stream = await flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="hello flux0"
    )
    async with stream as events:
        received = [event async for event in events]
    assert reply_text(received) == "Echo: hello flux0"
    statuses = [e for e in received if isinstance(e, models.EmittedEventStream)]
    assert statuses and all(len(s.id) == 10 for s in statuses)
    assert isinstance(statuses[0].data.data, models.StatusEventDataDTO)
    assert statuses[0].data.data.status == models.StatusEventDataStatusField.PROCESSING
    assert acquired(flux0) == 0


async def test_list_events_after_a_stream_and_filtering_by_body(flux0: Flux0) -> None:
    session = await new_session(flux0)
    stream = await flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="hi"
    )
    async for _ in stream:
        pass
    events = await flux0.sessions.list_events(session_id=session.id)
    messages = [e for e in events.data if e.type == models.EventTypeDTO.MESSAGE]
    assert [m.source for m in messages] == [
        models.EventSourceDTO.USER,
        models.EventSourceDTO.AI_AGENT,
    ]
    final = messages[-1].data
    assert isinstance(final, models.MessageEventDataDTO)
    assert isinstance(final.parts[0], models.ContentPartDTO)
    assert final.parts[0].content == "Echo: hi"
    only_messages = await flux0.sessions.list_events(session_id=session.id, request=["message"])
    assert {e.type for e in only_messages.data} == {models.EventTypeDTO.MESSAGE}
    after = await flux0.sessions.list_events(session_id=session.id, min_offset=1, source="ai_agent")
    assert all(e.offset >= 1 and e.source == "ai_agent" for e in after.data)


async def test_tool_agent_stream_carries_tool_call_patches(flux0: Flux0) -> None:
    session = await new_session(flux0, "echo_tool")
    stream = await flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="abc"
    )
    async with stream as events:
        received = [e async for e in events]
    paths = [
        p.path for e in received if isinstance(e, models.ChunkEventStream) for p in e.data.patches
    ]
    assert any(path.startswith("/tool_calls/0") for path in paths)


async def test_failing_agent_reports_an_error_status(flux0: Flux0) -> None:
    session = await new_session(flux0, "echo_fail")
    stream = await flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="x"
    )
    statuses = [e.data.data async for e in stream if isinstance(e, models.EmittedEventStream)]
    assert any(isinstance(s, models.StatusEventDataDTO) and s.status == "error" for s in statuses)


async def test_crashing_agent_stream_times_out_and_releases(flux0: Flux0) -> None:
    session = await new_session(flux0, "echo_crash")
    stream = await flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="x", timeout_ms=300
    )
    with pytest.raises(errors.APITimeoutError):
        async for _ in stream:
            pass
    await asyncio.sleep(0)
    assert acquired(flux0) == 0


async def test_breaking_out_of_a_stream_releases_the_connection(flux0: Flux0) -> None:
    session = await new_session(flux0)
    stream = await flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="a long message here"
    )
    async for _ in stream:
        break
    for _ in range(3):
        await asyncio.sleep(0)
    assert acquired(flux0) == 0


async def test_cancelling_a_task_mid_stream_releases_the_connection(flux0: Flux0) -> None:
    session = await new_session(flux0, "echo_crash")
    started = asyncio.Event()

    async def consume() -> None:
        stream = await flux0.sessions.create_event(
            session_id=session.id, type="message", source="user", content="x"
        )
        async for _ in stream:
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert acquired(flux0) == 0


# ---- errors ------------------------------------------------------------------------------


async def test_missing_agent_is_a_404_api_error(flux0: Flux0) -> None:
    with pytest.raises(errors.APIError) as caught:
        await flux0.agents.retrieve(agent_id="abcdefghij")
    assert caught.value.status_code == 404 and "detail" in caught.value.body


async def test_bad_id_gives_http_validation_error_with_parsed_data(flux0: Flux0) -> None:
    with pytest.raises(errors.HTTPValidationError) as caught:
        await flux0.agents.retrieve(agent_id="short")
    error = caught.value
    assert error.status_code == 422 and isinstance(error.data, models.HTTPValidationError)
    assert error.data.detail and error.data.detail[0].loc[-1] == "agent_id"
    assert converter.unstructure(error.data) == json.loads(error.body)


async def test_missing_session_statuses_match_the_real_server(flux0: Flux0) -> None:
    with pytest.raises(errors.APIError) as on_get:
        await flux0.sessions.retrieve(session_id="abcdefghij")
    with pytest.raises(errors.APIError) as on_events:
        await flux0.sessions.list_events(session_id="abcdefghij")
    assert (on_get.value.status_code, on_events.value.status_code) == (404, 400)


async def test_invalid_create_bodies_give_http_validation_error_with_parsed_data(
    flux0: Flux0,
) -> None:
    with pytest.raises(errors.HTTPValidationError) as on_agent:
        await flux0.agents.create(name="x" * 101, type="echo")
    with pytest.raises(errors.HTTPValidationError) as on_session:
        await flux0.sessions.create(agent_id="short")
    for caught, field in ((on_agent, "name"), (on_session, "agent_id")):
        error = caught.value
        assert error.status_code == 422 and isinstance(error.data, models.HTTPValidationError)
        assert [(d.loc, d.type) for d in error.data.detail] == [
            (["body", field], "string_too_long" if field == "name" else "string_too_short")
        ]
        assert converter.unstructure(error.data) == json.loads(error.body)


async def test_unknown_agent_type_gives_422_with_a_plain_string_detail(flux0: Flux0) -> None:
    with pytest.raises(errors.APIError) as caught:
        await flux0.agents.create(name="x", type="no-such-type")
    assert caught.value.status_code == 422 and "no-such-type" in caught.value.body


# ---- bad input is caught before any request ------------------------------------------------


async def test_wrong_type_and_missing_arguments_raise_before_sending(flux0: Flux0) -> None:
    before = await agent_ids(flux0)
    with pytest.raises(InvalidInputError, match="name"):
        await flux0.agents.create(name=123, type="echo")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="name"):
        await flux0.agents.create(type="echo")  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError, match="agent_id"):
        await flux0.agents.retrieve(agent_id=7)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="request"):
        await flux0.agents.create(name="a", type="echo", request={"name": "b", "type": "echo"})  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError, match="min_offset"):
        await flux0.sessions.list_events(session_id="abcdefghij", min_offset="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="session_id"):
        await flux0.sessions.retrieve()  # type: ignore[call-arg]
    assert await agent_ids(flux0) == before


async def test_enum_arguments_accept_members_and_strings(flux0: Flux0) -> None:
    session = await new_session(flux0)
    stream = await flux0.sessions.create_event(
        session_id=session.id,
        type=models.EventTypeDTO.MESSAGE,
        source=models.EventSourceDTO.USER,
        content="enum",
    )
    async with stream as events:
        assert reply_text([e async for e in events]) == "Echo: enum"
