"""The intermediate description: what an API is, independent of how it is written out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# ---- types -------------------------------------------------------------------------


@dataclass(frozen=True)
class Prim:
    """A scalar or free-form type: str, int, float, bool, any, datetime, date, file, none."""

    kind: str


@dataclass(frozen=True)
class ListOf:
    item: TypeRef


@dataclass(frozen=True)
class MapOf:
    value: TypeRef


@dataclass(frozen=True)
class Named:
    """A model, enum or union alias declared at module level."""

    name: str


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Nullable:
    inner: TypeRef


TypeRef = Prim | ListOf | MapOf | Named | Const | Nullable

# ---- declarations ------------------------------------------------------------------


@dataclass
class Field:
    py_name: str
    json_name: str
    type: TypeRef
    required: bool
    deprecated: bool = False
    read_only: bool = False


@dataclass
class Model:
    name: str
    fields: list[Field]
    title: str = ""
    deprecated: bool = False
    source: str = ""  # JSON pointer of the schema it came from
    # fields the schema does not declare (and `additionalProperties` keys) are kept in
    # the attribute `additional_name`; `additional` is their value type (None: any)
    additional: TypeRef | None = None
    additional_name: str = "additional_properties"


@dataclass
class Enum:
    name: str
    values: list[str]
    source: str = ""


@dataclass
class Union:
    name: str
    options: list[TypeRef]
    discriminator: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)  # tag -> model name
    source: str = ""


@dataclass
class Alias:
    """A named schema that is not a model: ``Tags = list[str]``."""

    name: str
    target: TypeRef
    source: str = ""


Decl = Model | Enum | Union | Alias

# ---- operations --------------------------------------------------------------------


@dataclass
class Param:
    name: str  # wire name
    py_name: str
    location: Literal["path", "query", "header", "cookie"]
    type: TypeRef
    required: bool
    style: str
    explode: bool
    deprecated: bool = False


@dataclass
class Body:
    kind: Literal["json", "multipart", "form", "text", "bytes"]
    content_type: str
    type: TypeRef
    required: bool
    # flattened keyword arguments: the fields of the body model (empty: `request=` only)
    fields: list[Field] = field(default_factory=list)
    file_fields: dict[str, str] = field(default_factory=dict)  # py_name -> wire name
    # py_name -> value sent when the caller leaves that field out (flattened or request=)
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass
class Response:
    status: str
    kind: Literal["json", "sse", "ndjson", "text", "bytes", "empty"]
    content_type: str | None
    type: TypeRef | None
    sse_envelope: bool = False
    inferred: bool = False  # the kind was guessed from a loosely declared media type
    # error responses without a schema: models other operations declare for this status,
    # tried in order against the body (it must fit strictly) to raise a typed error
    fallback: list[TypeRef] = field(default_factory=list)


@dataclass
class Operation:
    group: tuple[str, ...]  # namespace path, snake_case: ("client", "search")
    name: str  # method name, snake_case
    method: str
    path: str
    summary: str
    params: list[Param]
    body: Body | None
    responses: list[Response]
    auth: bool
    deprecated: bool
    operation_id: str

    @property
    def dotted(self) -> str:
        return ".".join((*self.group, self.name))

    @property
    def success(self) -> list[Response]:
        return [r for r in self.responses if r.status.startswith("2")]

    @property
    def streaming(self) -> bool:
        return any(r.kind in ("sse", "ndjson") for r in self.success)


@dataclass
class ServerVariable:
    name: str
    default: str
    enum: list[str] = field(default_factory=list)


@dataclass
class Server:
    url: str
    variables: list[ServerVariable] = field(default_factory=list)


@dataclass
class API:
    title: str
    servers: list[Server]
    decls: dict[str, Decl]
    operations: list[Operation]
    auth: bool  # the spec declares a bearer/api-key scheme
    warnings: list[str] = field(default_factory=list)
