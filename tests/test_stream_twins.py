"""A streaming twin (``/chat#stream`` beside ``/chat``) whose request has a boolean
``stream`` property sends ``stream: true`` unless the caller says otherwise.

Generator rule on inline specs, a package generated from one called over HTTP (async and
sync), and Glean's ``client.chat.create_stream`` against the spec-driven fake.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glean_async
import glean_async.sync
from glean_async.testing import FakeGleanServer
from shared.codegen import ir
from shared.codegen.build import build
from shared.errors import InvalidInputError
from shared.testing import LocalAppServer
from shared.unset import UNSET
from tests.generated import generated_package

REF = "#/components/schemas/"
CHAT_REQUEST = {
    "required": ["messages"],
    "properties": {
        "messages": {"type": "array", "items": {"type": "string"}},
        "saveChat": {"type": "boolean"},
        "stream": {"type": "boolean"},
    },
}


def chat_operation(operation_id: str, media_type: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "tags": ["chat"],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"{REF}ChatRequest"}}},
        },
        "responses": {
            "200": {
                "description": "",
                "content": {media_type: {"schema": {"$ref": f"{REF}Reply"}}},
            }
        },
    }


SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Chat", "version": "1"},
    "components": {
        "schemas": {
            "ChatRequest": CHAT_REQUEST,
            "Reply": {"properties": {"text": {"type": "string"}}},
        }
    },
    "paths": {
        "/chat": {"post": chat_operation("chat", "application/json")},
        "/chat#stream": {"post": chat_operation("chatStream", "text/plain")},
    },
}


def operation(api: ir.API, name: str) -> ir.Operation:
    return next(op for op in api.operations if op.name == name)


def body_defaults(spec: dict[str, Any], name: str) -> dict[str, Any]:
    body = operation(build(spec), name).body
    assert body is not None
    return body.defaults


# ---- the generator rule -------------------------------------------------------------------


def test_the_twin_defaults_stream_to_true_and_its_sibling_does_not() -> None:
    spec = copy.deepcopy(SPEC)
    assert body_defaults(spec, "chat_stream") == {"stream": True}
    assert body_defaults(spec, "chat") == {}
    # the model the two share is not changed: its field still has no default
    api = build(spec)
    decl = api.decls["ChatRequest"]
    assert isinstance(decl, ir.Model)
    assert [f.py_name for f in decl.fields if f.py_name == "stream"] == ["stream"]


def test_a_fragment_path_without_a_sibling_is_no_twin() -> None:
    spec = copy.deepcopy(SPEC)
    del spec["paths"]["/chat"]
    assert body_defaults(spec, "chat_stream") == {}


def test_only_a_boolean_property_named_stream_gets_the_default() -> None:
    spec = copy.deepcopy(SPEC)
    properties = spec["components"]["schemas"]["ChatRequest"]["properties"]
    properties["stream"] = {"type": "string"}
    assert body_defaults(spec, "chat_stream") == {}
    properties["streaming"] = {"type": "boolean"}
    assert body_defaults(spec, "chat_stream") == {}
    del properties["stream"]
    assert body_defaults(spec, "chat_stream") == {}


def test_a_required_stream_property_becomes_optional_with_its_default(
    tmp_path: Any,
) -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["ChatRequest"]["required"] = ["messages", "stream"]
    with generated_package(spec, "chat_required", "Chat", tmp_path) as package:
        from chat_required._generated import resources_chat  # type: ignore[import-not-found]

        twin = inspect.signature(resources_chat.Chat.chat_stream).parameters["stream"]
        sibling = inspect.signature(resources_chat.Chat.chat).parameters["stream"]
        assert twin.default is True
        assert sibling.default is UNSET  # required unless request= is given
        assert package.Chat.__name__ == "Chat"


# ---- a generated package over HTTP --------------------------------------------------------


class ChatServer(LocalAppServer):
    """``POST /chat``: NDJSON lines when the body asks to stream, else one JSON reply."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_post("/chat", self._chat)
        super().__init__(app)
        self.bodies: list[Any] = []

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        if body.get("stream"):
            lines = "".join(json.dumps({"text": part}) + "\n" for part in ("a", "b"))
            return web.Response(text=lines, content_type="text/plain")
        return web.json_response({"text": "whole"})


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("chat")
    with generated_package(copy.deepcopy(SPEC), "chat_twins", "Chat", out) as package:
        yield package


@pytest.fixture(scope="module")
def module_server() -> Iterator[ChatServer]:
    with ChatServer.in_thread() as chat_server:
        yield chat_server


@pytest.fixture
def server(module_server: ChatServer) -> ChatServer:
    """The chat server (on a thread of its own), with no request seen yet."""
    module_server.bodies.clear()
    return module_server


def test_signatures_show_the_default(chat: Any) -> None:
    from chat_twins._generated import (  # type: ignore[import-not-found]
        resources_chat,
        sync_resources_chat,
    )

    for resource in (resources_chat.Chat, sync_resources_chat.Chat):
        twin = inspect.signature(resource.chat_stream).parameters["stream"]
        sibling = inspect.signature(resource.chat).parameters["stream"]
        assert (twin.default, twin.annotation) == (True, "bool")
        assert sibling.default is UNSET
        assert "default ``True``" in " ".join(resource.chat_stream.__doc__.split())


# keyword arguments of chat_stream -> the JSON body sent, the texts streamed back
CALLS: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = [
    ({"messages": ["hi"]}, {"messages": ["hi"], "stream": True}, ["a", "b"]),
    ({"messages": ["hi"], "stream": False}, {"messages": ["hi"], "stream": False}, ["whole"]),
    ({"request": {"messages": ["hi"]}}, {"messages": ["hi"], "stream": True}, ["a", "b"]),
    (
        {"request": {"messages": ["hi"], "stream": False}},
        {"messages": ["hi"], "stream": False},
        ["whole"],
    ),
    (
        {"request": {"messages": ["hi"]}, "stream": True},  # the default, said out loud
        {"messages": ["hi"], "stream": True},
        ["a", "b"],
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("arguments", "sent", "texts"), CALLS)
async def test_async_twin_sends_stream_true_unless_told(
    chat: Any, server: ChatServer, arguments: dict[str, Any], sent: Any, texts: list[str]
) -> None:
    async with chat.Chat(server_url=server.url) as client:
        stream = await client.chat.chat_stream(**arguments)
        async with stream as replies:
            assert [reply.text async for reply in replies] == texts
        assert server.bodies == [sent]
        await client.chat.chat(messages=["hi"])
    assert server.bodies[-1] == {"messages": ["hi"]}  # the sibling adds nothing


@pytest.mark.parametrize(("arguments", "sent", "texts"), CALLS)
def test_sync_twin_sends_stream_true_unless_told(
    chat: Any, server: ChatServer, arguments: dict[str, Any], sent: Any, texts: list[str]
) -> None:
    with chat.sync.Chat(server_url=server.url) as client:
        with client.chat.chat_stream(**arguments) as replies:
            assert [reply.text for reply in replies] == texts
        assert server.bodies == [sent]


@pytest.mark.anyio
async def test_a_request_model_gets_the_default_and_is_not_changed(
    chat: Any, server: ChatServer
) -> None:
    model = chat.models.ChatRequest(messages=["hi"])
    async with chat.Chat(server_url=server.url) as client:
        stream = await client.chat.chat_stream(request=model)
        async with stream as replies:
            assert [reply.text async for reply in replies] == ["a", "b"]
    assert server.bodies == [{"messages": ["hi"], "stream": True}]
    assert model.stream is UNSET


def test_request_and_a_non_default_stream_argument_clash_before_sending(
    chat: Any, server: ChatServer
) -> None:
    with chat.sync.Chat(server_url=server.url) as client:
        with pytest.raises(InvalidInputError, match="stream") as caught:
            client.chat.chat_stream(request={"messages": ["hi"]}, stream=False)
        assert caught.value.field == "request"
        with pytest.raises(InvalidInputError, match="stream"):
            client.chat.chat_stream(messages=["hi"], stream="yes")
    assert server.bodies == []


@given(
    messages=st.lists(st.text(max_size=5), max_size=3),
    save_chat=st.none() | st.booleans(),
    stream=st.none() | st.booleans(),
    as_request=st.booleans(),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_body_sent_is_the_arguments_plus_the_default(
    chat: Any,
    server: ChatServer,
    messages: list[str],
    save_chat: bool | None,
    stream: bool | None,
    as_request: bool,
) -> None:
    fields: dict[str, Any] = {"messages": messages}
    if save_chat is not None:
        fields["save_chat"] = save_chat
    if stream is not None:
        fields["stream"] = stream
    arguments = {"request": fields} if as_request else fields
    server.bodies.clear()  # one fixture, many examples
    client = chat.sync.Chat(server_url=server.url)
    with client, client.chat.chat_stream(**arguments) as replies:
        list(replies)
    expected: dict[str, Any] = {"messages": messages, "stream": True if stream is None else stream}
    if save_chat is not None:
        expected["saveChat"] = save_chat
    assert server.bodies == [expected]


# ---- Glean ---------------------------------------------------------------------------------

ASK = [{"fragments": [{"text": "any holidays?"}]}]


def sent_stream_flags(fake: FakeGleanServer, before: int) -> list[Any]:
    bodies = [r.body for r in fake.requests[before:]]
    return [body.get("stream", "left out") for body in bodies]


@pytest.mark.anyio
async def test_glean_create_stream_asks_to_stream_async(
    glean_server: FakeGleanServer, glean_client: glean_async.Glean
) -> None:
    for extra in ({}, {"stream": False}, {"stream": True}):
        stream = await glean_client.client.chat.create_stream(messages=ASK, **extra)
        async with stream as responses:
            assert [r async for r in responses]
    await glean_client.client.chat.create(messages=ASK)
    assert sent_stream_flags(glean_server, 0) == [True, False, True, "left out"]


def test_glean_create_stream_asks_to_stream_sync(
    glean_server: FakeGleanServer, glean_sync_client: glean_async.sync.Glean
) -> None:
    for request in ({"messages": ASK}, {"messages": ASK, "stream": False}):
        with glean_sync_client.client.chat.create_stream(request=request) as responses:
            assert list(responses)
    with glean_sync_client.client.chat.create_stream(messages=ASK) as responses:
        assert list(responses)
    assert sent_stream_flags(glean_server, 0) == [True, False, True]
