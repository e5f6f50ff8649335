"""Spec -> intermediate description (:mod:`.ir`)."""

from __future__ import annotations

from typing import Any

from ..naming import assign_names, identifier, pascal, unique
from ..opnames import HTTP_METHODS, operation_names
from . import ir
from .error_fallbacks import add_error_fallbacks
from .loader import JSON, Resolver, SpecError, schema_name
from .security import api_auth, operation_auth, scheme_warnings

# keyword arguments every generated method has; spec names must not take them
RESERVED_ARGS = frozenset(
    {"self", "request", "retries", "timeout_ms", "server_url", "http_headers"}
)
# names the generated models module imports; schemas may not shadow them
RESERVED_TYPES = frozenset(
    {
        "Any",
        "Model",
        "NO_ADDITIONAL",
        "Literal",
        "Union",
        "UNSET",
        "Unset",
        "OpenEnum",
        "UnionInfo",
        "FileContent",
        "attrs",
        "datetime",
        "typing",
        "UNIONS",
    }
)


def build(spec: JSON) -> ir.API:
    """Build the whole description of a spec."""
    builder = SchemaBuilder(Resolver(spec))
    builder.declare_components(spec.get("components", {}).get("schemas", {}))
    operations = OperationBuilder(spec, builder).build_all()
    builder.warnings += scheme_warnings(spec)
    return ir.API(
        title=str(spec.get("info", {}).get("title", "")),
        servers=_servers(spec),
        decls=builder.decls,
        operations=operations,
        auth=api_auth(spec),
        warnings=builder.warnings,
    )


def _servers(spec: JSON) -> list[ir.Server]:
    servers = []
    for server in spec.get("servers") or []:
        variables = [
            ir.ServerVariable(
                name, str(var.get("default", "")), [str(v) for v in var.get("enum", [])]
            )
            for name, var in (server.get("variables") or {}).items()
        ]
        servers.append(ir.Server(str(server["url"]), variables))
    return servers


def _free_name(name: str, taken: set[str]) -> str:
    """``name``, with trailing underscores until no declared field uses it."""
    while name in taken:
        name += "_"
    return name


def _type_list(schema: JSON) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return [str(kind)] if kind else []


class SchemaBuilder:
    """Declares models, enums, unions and aliases, hoisting inline schemas to names."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.decls: dict[str, ir.Decl] = {}
        self.warnings: list[str] = []
        self._names: dict[str, str] = {}  # component schema name -> declared Python name
        self._taken: set[str] = set(RESERVED_TYPES)
        self._pending: dict[str, JSON] = {}

    # -- components ------------------------------------------------------------------

    def declare_components(self, schemas: JSON) -> None:
        for name in schemas:
            self._names[name] = unique(self._class_name(name), self._taken)
        for name, schema in schemas.items():
            self._declare(self._names[name], schema, f"#/components/schemas/{name}")

    @staticmethod
    def _class_name(name: str) -> str:
        return name if name.isidentifier() and name[0].isupper() else pascal(name)

    def named(self, ref: str) -> ir.TypeRef:
        name = schema_name(ref)
        if name is None or name not in self._names:
            return self.type_of(self.resolver.deref({"$ref": ref}), "Inline")
        return ir.Named(self._names[name])

    def _declare(self, name: str, schema: JSON, source: str) -> None:
        if self._is_object(schema):
            self.decls[name] = self._model(name, schema, source)
        elif self._is_enum(schema):
            self.decls[name] = ir.Enum(name, [str(v) for v in schema["enum"]], source)
        elif self._union_options(schema) is not None and self._non_null_options(schema):
            self._declare_union(name, schema, source)
        else:  # arrays, maps, scalars and `allOf: [$ref]`: a name for another type
            self.decls[name] = ir.Alias(name, self.type_of(schema, name), source)

    def _declare_union(self, name: str, schema: JSON, source: str) -> None:
        options = self._non_null_options(schema)
        if len(options) == 1:
            target = self._option_type(options[0], name, 0)
            if self._has_null_option(schema) or schema.get("nullable"):
                target = ir.Nullable(target)
            self.decls[name] = ir.Alias(name, target, source)
            return
        union = ir.Union(name, [], source=source)
        self.decls[name] = union  # before the options: they may refer back to it
        union.options = [self._option_type(o, name, i) for i, o in enumerate(options)]
        self._discriminate(union, schema, options)
        if self._has_null_option(schema) or schema.get("nullable"):
            self.warnings.append(f"{name}: null branch of a named union ignored")

    # -- classification --------------------------------------------------------------

    def _is_object(self, schema: JSON) -> bool:
        if "properties" in schema:
            return True
        # `allOf: [$ref]` alone only attaches a description to the referenced schema
        parts = schema.get("allOf") or []
        if len(parts) == 1 and isinstance(parts[0], dict) and "$ref" in parts[0]:
            return False
        return any(self._is_object(self.resolver.deref(p)) for p in parts)

    @staticmethod
    def _is_enum(schema: JSON) -> bool:
        values = schema.get("enum") or []
        return bool(values) and all(isinstance(v, str) for v in values if v is not None)

    @staticmethod
    def _union_options(schema: JSON) -> list[JSON] | None:
        options = schema.get("oneOf", schema.get("anyOf"))
        return list(options) if isinstance(options, list) else None

    def _non_null_options(self, schema: JSON) -> list[JSON]:
        options = self._union_options(schema) or []
        return [o for o in options if not self._is_null(o)]

    def _has_null_option(self, schema: JSON) -> bool:
        return any(self._is_null(o) for o in self._union_options(schema) or [])

    def _is_null(self, schema: Any) -> bool:
        schema = self.resolver.deref(schema)
        return isinstance(schema, dict) and _type_list(schema) == ["null"]

    # -- types -----------------------------------------------------------------------

    def type_of(self, schema: Any, context: str) -> ir.TypeRef:
        """The type of a schema used somewhere; inline objects/enums/unions get names."""
        if not isinstance(schema, dict):
            return ir.Prim("any")
        if "$ref" in schema:
            return self._maybe_nullable(schema, self.named(schema["$ref"]))
        kinds = _type_list(schema)
        if "null" in kinds and len(kinds) > 1:
            inner = dict(schema, type=[k for k in kinds if k != "null"])
            return ir.Nullable(self.type_of(inner, context))
        if "const" in schema:
            return ir.Const(schema["const"])
        if self._union_options(schema) is not None:
            return self._maybe_nullable(schema, self._inline_union(schema, context))
        if self._is_object(schema) or self._is_enum(schema):
            name = unique(context, self._taken)
            self._declare(name, schema, "")
            return self._maybe_nullable(schema, ir.Named(name))
        if "allOf" in schema:
            return self._maybe_nullable(schema, self.type_of(schema["allOf"][0], context))
        return self._maybe_nullable(schema, self._type_of_plain(schema, context))

    def _maybe_nullable(self, schema: JSON, inner: ir.TypeRef) -> ir.TypeRef:
        if schema.get("nullable") and not isinstance(inner, ir.Nullable):
            return ir.Nullable(inner)
        return inner

    def _inline_union(self, schema: JSON, context: str) -> ir.TypeRef:
        options = self._non_null_options(schema)
        if not options:
            return ir.Prim("none")
        if len(options) == 1:
            inner = self._option_type(options[0], context, 0)
        else:
            name = unique(context, self._taken)
            self._declare_union(name, schema, "")
            inner = ir.Named(name)
        return ir.Nullable(inner) if self._has_null_option(schema) else inner

    def _option_type(self, option: JSON, context: str, index: int) -> ir.TypeRef:
        if isinstance(option, dict) and "$ref" in option:
            return self.named(option["$ref"])
        suffix = self._option_suffix(option, index)
        return self.type_of(option, f"{context}{suffix}")

    @staticmethod
    def _option_suffix(option: Any, index: int) -> str:
        if isinstance(option, dict) and isinstance(option.get("title"), str):
            return pascal(option["title"])
        return f"Option{index + 1}"

    def _type_of_plain(self, schema: JSON, context: str) -> ir.TypeRef:
        kinds = [k for k in _type_list(schema) if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else ""
        if kind == "array" or "items" in schema:
            return ir.ListOf(self.type_of(schema.get("items", {}), f"{context}Item"))
        if kind == "object" or "additionalProperties" in schema:
            extra = schema.get("additionalProperties")
            value = self.type_of(extra, f"{context}Value") if isinstance(extra, dict) else None
            return ir.MapOf(value or ir.Prim("any"))
        if schema.get("enum"):
            return ir.Prim(_scalar_of(schema["enum"][0]))
        return ir.Prim(_primitive(kind, schema.get("format")))

    # -- models ----------------------------------------------------------------------

    def _model(self, name: str, schema: JSON, source: str) -> ir.Model:
        model = ir.Model(
            name, [], str(schema.get("title", "")), bool(schema.get("deprecated")), source
        )
        self.decls[name] = model  # registered first so self-references resolve
        properties, required = self.merged_properties(schema, name)
        missing = sorted(set(required) - set(properties))
        if missing:
            self.warnings.append(f"{name}: required {missing} not declared in properties; ignored")
        py_names = assign_names(properties, identifier)
        for json_name, prop in properties.items():
            py_name = py_names[json_name]
            prop_type = self.type_of(prop, f"{name}{pascal(json_name)}")
            resolved = self.resolver.deref(prop) if isinstance(prop, dict) else {}
            model.fields.append(
                ir.Field(
                    py_name=py_name,
                    json_name=json_name,
                    type=prop_type,
                    required=json_name in required,
                    deprecated=bool(isinstance(resolved, dict) and resolved.get("deprecated")),
                    read_only=bool(isinstance(resolved, dict) and resolved.get("readOnly")),
                )
            )
        model.additional = self._additional_type(schema, name)
        model.additional_name = _free_name("additional_properties", set(py_names.values()))
        return model

    def _additional_type(self, schema: JSON, name: str) -> ir.TypeRef | None:
        """The value type of ``additionalProperties`` next to properties; None: any.

        ``false`` is read as any too: unknown fields a server sends are kept anyway.
        """
        for part in [schema, *(self.resolver.deref(p) for p in schema.get("allOf", []))]:
            extra = part.get("additionalProperties") if isinstance(part, dict) else None
            if isinstance(extra, dict) and extra:
                kind = self.type_of(extra, f"{name}Value")
                return None if kind == ir.Prim("any") else kind
        return None

    def merged_properties(
        self, schema: JSON, context: str, seen: frozenset[int] = frozenset()
    ) -> tuple[dict[str, Any], set[str]]:
        """Properties and required names of a schema with its ``allOf`` parts merged in."""
        if id(schema) in seen:
            raise SpecError(f"{context}: allOf includes itself")
        seen = seen | {id(schema)}
        properties: dict[str, Any] = {}
        required: set[str] = set()
        for part in schema.get("allOf", []):
            part_schema = self.resolver.deref(part)
            part_props, part_required = self.merged_properties(part_schema, context, seen)
            properties.update(part_props)
            required |= part_required
        properties.update(schema.get("properties") or {})
        required |= set(schema.get("required") or [])
        return properties, required

    # -- discriminators --------------------------------------------------------------

    def _discriminate(self, union: ir.Union, schema: JSON, options: list[JSON]) -> None:
        discriminator = schema.get("discriminator")
        if not isinstance(discriminator, dict) or "propertyName" not in discriminator:
            return
        prop = str(discriminator["propertyName"])
        mapping: dict[str, str] = {}
        for tag, ref in (discriminator.get("mapping") or {}).items():
            target = self.named(ref)
            if isinstance(target, ir.Named):
                mapping[str(tag)] = target.name
        if not mapping:
            mapping = self._implicit_mapping(prop, options, union.options)
        union.discriminator = prop
        union.mapping = mapping

    def _implicit_mapping(
        self, prop: str, options: list[JSON], types: list[ir.TypeRef]
    ) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for option, option_type in zip(options, types, strict=True):
            if not isinstance(option_type, ir.Named):
                continue
            resolved = self.resolver.deref(option)
            properties, _ = self.merged_properties(resolved, option_type.name)
            tag_schema = self.resolver.deref(properties.get(prop, {}))
            tag = tag_schema.get("const")
            if tag is None and len(tag_schema.get("enum") or []) == 1:
                tag = tag_schema["enum"][0]
            if tag is None and isinstance(option, dict) and "$ref" in option:
                tag = schema_name(option["$ref"])
            if tag is not None:
                mapping[str(tag)] = option_type.name
        return mapping


def _primitive(kind: str, fmt: Any) -> str:
    if kind == "string":
        return {"date-time": "datetime", "date": "date", "binary": "file"}.get(str(fmt), "str")
    return {"integer": "int", "number": "float", "boolean": "bool", "null": "none"}.get(kind, "any")


def _scalar_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str"}.get(type(value), "any")


class OperationBuilder:
    """Turns every path item operation into an :class:`ir.Operation`."""

    def __init__(self, spec: JSON, schemas: SchemaBuilder) -> None:
        self.spec = spec
        self.schemas = schemas
        self.resolver = schemas.resolver
        self.api_auth = api_auth(spec)
        paths = {p: self.resolver.deref(i) for p, i in (spec.get("paths") or {}).items()}
        self.names = operation_names(paths)

    def build_all(self) -> list[ir.Operation]:
        operations = []
        seen: set[str] = set()
        twins: dict[tuple[str, str], ir.Operation] = {}
        fragments: list[ir.Operation] = []
        for path, item in (self.spec.get("paths") or {}).items():
            item = self.resolver.deref(item)
            for method in HTTP_METHODS:
                if method in item:
                    op = self.build(path, method, item[method], item.get("parameters") or [])
                    if op.dotted in seen:
                        raise SpecError(f"two operations map to {op.dotted}")
                    seen.add(op.dotted)
                    operations.append(op)
                    if "#" in path:
                        fragments.append(op)
                    else:
                        twins[(op.method, op.path)] = op
        for op in fragments:
            twin = twins.get((op.method, op.path))
            self._adopt_twin_items(op, twin)
            if twin is not None:
                _ask_to_stream(op)
        add_error_fallbacks(operations, self.schemas.decls, self.schemas.warnings)
        return operations

    def _adopt_twin_items(self, op: ir.Operation, twin: ir.Operation | None) -> None:
        """``/chat#stream`` streams what ``/chat`` returns, whatever its own schema says.

        A path with a fragment is the streaming twin of the operation at the same path
        without it. When the stream's item type was guessed (a ``text/plain`` body read as
        NDJSON) and the twin returns JSON, the items take the twin's response type.
        """
        twin_types = [r.type for r in twin.success if r.kind == "json"] if twin else []
        for response in op.success:
            if response.kind == "ndjson" and response.inferred and twin_types:
                response.type = twin_types[0]
                self.schemas.warnings.append(
                    f"{op.dotted}: stream items typed as {op.method} {op.path}'s response"
                )

    def build(self, path: str, method: str, op: JSON, shared_params: list[Any]) -> ir.Operation:
        op_id = str(op.get("operationId") or "")
        named = self.names[(path, method)]
        group, name = named.group, named.name
        if named.from_path:
            self.schemas.warnings.append(f"{named.dotted}: no operationId; named from the path")
        auth, auth_warning = operation_auth(op, self.spec, self.api_auth)
        if auth_warning:
            self.schemas.warnings.append(f"{named.dotted}: {auth_warning}")
        context = pascal("_".join((*group, name)))
        body = self._body(op, context)
        params = self._params(shared_params, op.get("parameters") or [], body, context)
        return ir.Operation(
            group=group,
            name=name,
            method=method.upper(),
            path=path.split("#", 1)[0],
            summary=" ".join(str(op.get("summary") or "").split()),
            params=params,
            body=body,
            responses=self._responses(op, context),
            auth=auth,
            deprecated=bool(op.get("deprecated")),
            operation_id=op_id,
        )

    # -- parameters ------------------------------------------------------------------

    def _params(
        self, shared: list[Any], own: list[Any], body: ir.Body | None, context: str
    ) -> list[ir.Param]:
        merged: dict[tuple[str, str], JSON] = {}
        for raw in [*shared, *own]:
            param = self.resolver.deref(raw)
            merged[(param["name"], param["in"])] = param
        taken = (
            set(RESERVED_ARGS) | {f.py_name for f in body.fields} if body else set(RESERVED_ARGS)
        )
        return [self._param(p, taken, context) for p in merged.values()]

    def _param(self, param: JSON, taken: set[str], context: str) -> ir.Param:
        location = param["in"]
        py_name = identifier(param["name"])
        if py_name in taken:
            py_name = f"{py_name.rstrip('_')}_{location}"
        py_name = unique(py_name, taken)
        default_style = "form" if location in ("query", "cookie") else "simple"
        style = str(param.get("style", default_style))
        schema = param.get("schema")
        if schema is None and param.get("content"):
            schema = next(iter(param["content"].values())).get("schema", {})
        return ir.Param(
            name=param["name"],
            py_name=py_name,
            location=location,
            type=self.schemas.type_of(schema or {}, f"{context}{pascal(param['name'])}"),
            required=bool(param.get("required")) or location == "path",
            style=style,
            explode=bool(param.get("explode", style == "form")),
            deprecated=bool(param.get("deprecated")),
        )

    # -- request body ----------------------------------------------------------------

    def _body(self, op: JSON, context: str) -> ir.Body | None:
        raw = op.get("requestBody")
        if raw is None:
            return None
        body = self.resolver.deref(raw)
        content = body.get("content") or {}
        picked = _pick_request_media(content)
        if picked is None:
            return None
        media_type, kind = picked
        schema = content[media_type].get("schema") or {}
        body_type = self.schemas.type_of(schema, f"{context}Request")
        result = ir.Body(kind, media_type, body_type, bool(body.get("required")))
        model = self._model_of(body_type)
        if model is not None and kind in ("json", "multipart", "form"):
            result.fields = model.fields
            result.file_fields = {f.py_name: f.json_name for f in model.fields if _is_file(f.type)}
        return result

    def _model_of(self, type_ref: ir.TypeRef) -> ir.Model | None:
        if isinstance(type_ref, ir.Named):
            decl = self.schemas.decls.get(type_ref.name)
            if isinstance(decl, ir.Model) and decl.fields:
                return decl
        return None

    # -- responses -------------------------------------------------------------------

    def _responses(self, op: JSON, context: str) -> list[ir.Response]:
        responses = []
        for status, raw in (op.get("responses") or {}).items():
            response = self.resolver.deref(raw)
            suffix = "Response" if str(status).startswith("2") else f"Error{status}"
            responses.append(self._response(str(status), response, f"{context}{suffix}"))
        return responses

    def _response(self, status: str, response: JSON, context: str) -> ir.Response:
        content = response.get("content") or {}
        if not content:
            return ir.Response(status, "empty", None, None)
        media_type = _pick_response_media(content)
        schema = content[media_type].get("schema") or {}
        kind = _response_kind(media_type)
        resolved = self.resolver.deref(schema)
        inferred = kind == "text" and media_type.startswith("text/plain")
        if inferred and self._is_structured(resolved):
            kind = "ndjson"
            self.schemas.warnings.append(
                f"{context}: {media_type} declared with an object schema; read as NDJSON"
            )
        if kind == "sse":
            return self._sse_response(status, media_type, schema, context)
        if kind in ("text", "bytes", "empty"):
            return ir.Response(status, kind, media_type, None)
        item_type = self.schemas.type_of(schema, context)
        return ir.Response(status, kind, media_type, item_type, inferred=inferred)

    def _sse_response(self, status: str, media_type: str, schema: Any, context: str) -> ir.Response:
        resolved = self.resolver.deref(schema)
        if not self._is_structured(resolved):
            return ir.Response(status, "sse", media_type, None)
        item_type = self.schemas.type_of(schema, f"{context}Event")
        envelope = self._every_branch_has(resolved, "data")
        return ir.Response(status, "sse", media_type, item_type, sse_envelope=envelope)

    def _is_structured(self, schema: JSON) -> bool:
        kinds = _type_list(schema)
        return bool(
            "properties" in schema
            or "allOf" in schema
            or "oneOf" in schema
            or "anyOf" in schema
            or "object" in kinds
            or "array" in kinds
        )

    def _every_branch_has(self, schema: JSON, prop: str) -> bool:
        options = SchemaBuilder._union_options(schema)
        branches = [self.resolver.deref(o) for o in options] if options else [schema]
        for branch in branches:
            properties, _ = self.schemas.merged_properties(branch, "sse")
            if prop not in properties:
                return False
        return True


def _ask_to_stream(op: ir.Operation) -> None:
    """A streaming twin sends ``stream: true`` unless told otherwise.

    The twin's request is often the same model as its sibling's, whose boolean ``stream``
    property picks the streamed reply; the twin defaults it to true.
    """
    body = op.body
    if body is None:
        return
    for body_field in body.fields:
        if body_field.json_name == "stream" and body_field.type == ir.Prim("bool"):
            body.defaults[body_field.py_name] = True


_JSON_TYPES = ("application/json", "application/problem+json")


def _pick_request_media(content: JSON) -> tuple[str, Any] | None:
    for kind in ("json", "multipart", "form", "text", "bytes"):
        for media_type in content:
            if _request_kind(media_type) == kind:
                return media_type, kind
    return None


def _request_kind(media_type: str) -> str:
    base = media_type.split(";")[0].strip().lower()
    if base in _JSON_TYPES or base.endswith("+json"):
        return "json"
    if base == "multipart/form-data":
        return "multipart"
    if base == "application/x-www-form-urlencoded":
        return "form"
    return "text" if base.startswith("text/") else "bytes"


def _pick_response_media(content: JSON) -> str:
    for media_type in content:
        if _response_kind(media_type) == "json":
            return media_type
    return next(iter(content))


def _response_kind(media_type: str) -> Any:
    base = media_type.split(";")[0].strip().lower()
    if base in _JSON_TYPES or base.endswith("+json"):
        return "json"
    if base == "text/event-stream":
        return "sse"
    if base in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        return "ndjson"
    if base.startswith("text/"):
        return "text"
    return "bytes"


def _is_file(type_ref: ir.TypeRef) -> bool:
    if isinstance(type_ref, ir.ListOf):
        return _is_file(type_ref.item)
    return type_ref == ir.Prim("file")
