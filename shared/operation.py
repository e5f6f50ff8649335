"""Static descriptions of API operations, emitted by the generator.

The generated resource methods pass one :class:`Operation` (a module constant) plus the
caller's values to :meth:`shared.http.HTTPCore.call`; everything the runtime needs to
build the request and read the response is here, so no operation needs code of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

ParamLocation = Literal["path", "query", "header", "cookie"]
ParamStyle = Literal[
    "simple", "label", "matrix", "form", "spaceDelimited", "pipeDelimited", "deepObject"
]
BodyKind = Literal["json", "multipart", "form", "text", "bytes"]
ResponseKind = Literal["json", "sse", "ndjson", "text", "bytes", "empty"]


@attrs.frozen
class Param:
    """A path, query, header or cookie parameter."""

    name: str  # name on the wire
    py_name: str  # keyword argument of the generated method
    location: ParamLocation
    type: Any  # Python type the value is checked and serialized against
    required: bool = False
    style: ParamStyle = "form"
    explode: bool = True
    allow_reserved: bool = False


@attrs.frozen
class Body:
    """The request body of an operation."""

    kind: BodyKind
    content_type: str  # e.g. "application/json", "multipart/form-data"
    type: Any  # Python type the body is structured into before it is serialized
    required: bool = False
    # multipart: py_name -> wire name of the parts that carry files
    file_fields: Mapping[str, str] = attrs.field(factory=dict)
    # json/form: py_name -> value a field of the body model takes when the caller leaves
    # it out (a streaming twin's ``stream: true``)
    defaults: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Response:
    """One declared response: a status pattern and how to read its body."""

    status: str  # "200", "2XX", "default"
    kind: ResponseKind
    content_type: str | None = None
    type: Any = None  # Python type the body (or each streamed item) is structured into
    # sse only: True when ``type`` describes the whole event ({event, id, data, ...})
    # rather than just the JSON carried in its ``data`` field
    sse_envelope: bool = False
    # error responses the spec gives no schema: models the same status has elsewhere,
    # tried in order; a body that fits one strictly raises that model's typed error
    fallback_types: tuple[Any, ...] = ()


@attrs.frozen
class Operation:
    """Everything about one operation that does not depend on the call."""

    name: str  # dotted method path, e.g. "sessions.create_event" (logs, errors)
    method: str  # upper case HTTP method
    path: str  # template relative to the server URL, fragment removed
    params: tuple[Param, ...] = ()
    body: Body | None = None
    responses: tuple[Response, ...] = ()
    auth: bool = False  # send the bearer token
    deprecated: bool = False
    streaming: bool = False  # the success response is read as a stream

    # status pattern (upper case) -> response, built once from ``responses``
    _by_status: Mapping[str, Response] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        by_status = {response.status.upper(): response for response in self.responses}
        object.__setattr__(self, "_by_status", by_status)

    def response_for(self, status: int) -> Response | None:
        """The declared response for a status code: exact, then ``NXX``, then default."""
        by_status = self._by_status
        code = str(status)
        exact = by_status.get(code) or by_status.get(f"{code[0]}XX")
        if exact is not None or status < 400:
            return exact
        return by_status.get("DEFAULT")
