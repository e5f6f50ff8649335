"""Calling every operation of a generated SDK against the spec-driven fake, and checking it.

Arguments come from the operation descriptors and the spec: every declared parameter
with a valid value, and the body from the spec's request example when it is valid, else
synthesized from the schema's required fields, structured into the body model and
passed as ``request=``. A call passes when the fake validated the request (path, query,
body and token as the spec prescribes) and the result holds what the fake sent.

Round trips: ``converter.unstructure(result)`` must equal the JSON the fake sent. Until
every model keeps the fields its schema does not declare, a result that equals the sent
JSON without those fields is accepted too and its operation is listed in ``lossy``.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from shared.operation import Operation, Response
from shared.sse import ServerSentEvent
from shared.testing.openapi import FakeOpenAPIServer, RecordedRequest, mime

UPLOAD = ("notes.txt", b"meeting notes", "text/plain")


def descriptors(operations: ModuleType) -> dict[str, Operation]:
    """The operation descriptors of a generated ``operations`` module, by dotted name."""
    return {op.name: op for op in vars(operations).values() if isinstance(op, Operation)}


def method(client: Any, name: str) -> Any:
    """``client.users.list`` from ``"users.list"``."""
    for part in name.split("."):
        client = getattr(client, part)
    return client


def wire_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


@dataclass
class OperationCalls:
    """Builds the call of an operation and checks what the fake saw and answered."""

    fake: FakeOpenAPIServer
    converter: Any  # the SDK's cattrs converter (its wire format)
    token: str
    lossy: set[str] = field(default_factory=set)  # operations whose results drop fields

    # -- building a call ------------------------------------------------------------

    def param_value(self, schema: Any) -> Any:
        """A valid parameter value; arrays get two items so their serialization shows."""
        resolved = self.fake.spec.resolve(schema)
        if resolved.get("type") == "array":
            item = self.fake.spec.synthesize(resolved.get("items") or {})
            return [item, item]
        return self.fake.spec.synthesize(resolved)

    def arguments(self, op: Operation) -> dict[str, Any]:
        """Every declared parameter with a valid value, and the body as ``request=``."""
        py_names = {(p.name, p.location): p.py_name for p in op.params}
        arguments: dict[str, Any] = {}
        for param in self.fake.parameters(self.fake.operation(op.name)):
            py_name = py_names.get((param["name"], param["in"]))
            assert py_name, f"{op.name}: no argument for {param['in']} parameter {param['name']}"
            arguments[py_name] = self.param_value(param["schema"])
        if op.body is not None:
            arguments["request"] = self.request_body(op)
        return arguments

    def request_body(self, op: Operation) -> Any:
        """The body model: from the spec's example, else synthesized; files for multipart."""
        assert op.body is not None
        if op.body.kind == "multipart":
            return op.body.type(**{py_name: [UPLOAD] for py_name in op.body.file_fields})
        wire = self.fake.request_example(op.name)
        if wire is None:
            wire = self.fake.spec.synthesize(self.fake.request_schema(op.name))
        return self.converter.structure(wire, op.body.type)

    # -- what the request should look like ------------------------------------------

    def spec_params(self, op: Operation, arguments: dict[str, Any]) -> list[Any]:
        """``(parameter object, value given)`` for each spec parameter of the call."""
        py_names = {(p.name, p.location): p.py_name for p in op.params}
        return [
            (param, arguments[py_names[(param["name"], param["in"])]])
            for param in self.fake.parameters(self.fake.operation(op.name))
        ]

    def expected_query(self, op: Operation, arguments: dict[str, Any]) -> list[Any]:
        """The query pairs the spec prescribes (style ``form``; ``explode`` true by default)."""
        pairs: list[tuple[str, str]] = []
        for param, value in self.spec_params(op, arguments):
            if param["in"] != "query":
                continue
            assert param.get("style", "form") == "form"
            if isinstance(value, list) and param.get("explode", True):
                pairs += [(param["name"], wire_text(item)) for item in value]
            elif isinstance(value, list):
                pairs.append((param["name"], ",".join(wire_text(item) for item in value)))
            else:
                pairs.append((param["name"], wire_text(value)))
        return sorted(pairs)

    def expected_path(self, op: Operation, arguments: dict[str, Any]) -> str:
        params = self.spec_params(op, arguments)
        values = {p["name"]: v for p, v in params if p["in"] == "path"}
        return self.fake.operation(op.name).route.format(**values)

    # -- checking a call ------------------------------------------------------------

    def success_response(self, op: Operation) -> Response:
        response = op.response_for(self.fake.operation(op.name).status)
        assert response is not None, f"{op.name}: no declared response for the fake's status"
        return response

    def the_request(self, before: int, op: Operation) -> RecordedRequest:
        """The one request a call made: it reached the fake, passed validation, and
        carried the token exactly when the operation sends it."""
        new = self.fake.requests[before:]
        assert [r.name for r in new] == [op.name]
        request = new[0]
        assert request.valid, "\n".join(request.errors)
        assert request.bearer_token == (self.token if op.auth else None)
        return request

    def check_request(self, before: int, op: Operation, arguments: dict[str, Any]) -> None:
        request = self.the_request(before, op)
        assert request.path == self.expected_path(op, arguments)
        assert sorted(request.query) == self.expected_query(op, arguments)
        if op.body is not None and op.body.kind == "multipart":
            assert request.body == {wire: [UPLOAD[1]] for wire in op.body.file_fields.values()}
        elif op.body is not None:
            assert request.body in self.expected_bodies(op, arguments["request"])

    def expected_bodies(self, op: Operation, body: Any) -> list[Any]:
        """The wire body of ``body``; for a streaming twin whose model has a ``stream``
        flag the caller left unset, also that body with ``stream: true`` (generators that
        make twins ask to stream send it)."""
        wire = self.converter.unstructure(body)
        fields = getattr(type(body), "__attrs_attrs__", ())
        asks = any(f.metadata.get("json", f.name) == "stream" for f in fields)
        if op.streaming and asks and isinstance(wire, dict) and "stream" not in wire:
            return [wire, {**wire, "stream": True}]
        return [wire]

    def check_round_trip(self, op: Operation, result: Any, sent: Any) -> None:
        """``result`` unstructures to ``sent`` (or to ``sent`` minus undeclared fields)."""
        wire = self.converter.unstructure(result)
        if wire == sent:
            return
        assert wire == self.fake.spec.declared_only(sent, self.fake.response_schema(op.name))
        self.lossy.add(op.name)

    def check_result(self, op: Operation, result: Any) -> None:
        """The result has the success type and holds what the fake sent."""
        content_type = mime(self.fake.operation(op.name).content_type)
        sent = self.fake.success_body(op.name)
        if not content_type:
            assert result is None
        elif content_type.startswith("text/"):
            assert isinstance(result, str) and result == sent
        else:
            response = self.success_response(op)
            assert response.kind == "json"
            assert isinstance(response.type, type), f"success type {response.type!r} is no model"
            assert isinstance(result, response.type)
            self.check_round_trip(op, result, sent)

    def check_stream_items(self, op: Operation, items: list[Any]) -> None:
        response = self.success_response(op)
        sent = self.fake.success_body(op.name)
        if response.kind == "ndjson":
            assert len(items) == len(sent) > 0
            for item, line in zip(items, sent, strict=True):
                assert isinstance(item, response.type)
                self.check_round_trip(op, item, line)
        else:
            assert response.kind == "sse"
            assert all(isinstance(event, ServerSentEvent) for event in items)
            assert [(e.id, e.event, json.loads(e.data)) for e in items] == [
                (str(index), "message", data) for index, data in enumerate(sent, start=1)
            ]

    @contextlib.contextmanager
    def deprecation_checked(self, op: Operation) -> Iterator[None]:
        """Deprecated operations warn with their name; the others do not warn."""
        assert op.deprecated == self.fake.operation(op.name).deprecated
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        ours = [w for w in caught if issubclass(w.category, DeprecationWarning)]
        assert [op.name in str(w.message) for w in ours] == ([True] if op.deprecated else [])

    # -- a whole call ---------------------------------------------------------------

    async def call_async(self, client: Any, op: Operation) -> None:
        """Call ``op`` on an async client and check the request and the result."""
        arguments = self.arguments(op)
        before = len(self.fake.requests)
        with self.deprecation_checked(op):
            result = await method(client, op.name)(**arguments)
            if op.streaming:
                async with result as stream:
                    items = [item async for item in stream]
        self.check_request(before, op, arguments)
        if op.streaming:
            self.check_stream_items(op, items)
        else:
            self.check_result(op, result)

    def call_sync(self, client: Any, op: Operation) -> None:
        """Call ``op`` on a sync facade and check the request and the result."""
        arguments = self.arguments(op)
        before = len(self.fake.requests)
        with self.deprecation_checked(op):
            result = method(client, op.name)(**arguments)
            if op.streaming:
                with result as stream:
                    items = list(stream)
        self.check_request(before, op, arguments)
        if op.streaming:
            self.check_stream_items(op, items)
        else:
            self.check_result(op, result)
