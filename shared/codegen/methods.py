"""The parts of a generated method that the async and sync facades share.

Both facades are written from the same :class:`MethodSpec`, so their names, signatures
and docstrings cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from ..naming import constant
from . import ir
from .types import annotation, describe

T = TypeVar("T")

OPTION_ARGS = (
    ("retries", "RetryConfig | None", "None"),
    ("timeout_ms", "int | None", "None"),
    ("server_url", "str | None", "None"),
    ("http_headers", "Mapping[str, str] | None", "None"),
)


@dataclass
class Arg:
    name: str
    annotation: str  # as written when the argument is given
    required: bool
    doc: str
    default: str | None = None  # source of the value used when the argument is left out


@dataclass
class MethodSpec:
    op: ir.Operation
    constant: str  # name of the Operation descriptor in operations.py
    params: list[Arg]
    fields: list[Arg]  # flattened body properties
    request: Arg | None
    result: str  # return annotation (async flavour)
    stream_item: str | None  # item type when the result is a stream

    @property
    def overloaded(self) -> bool:
        """Required body fields cannot be required in a signature that also takes request=."""
        return self.request is not None and any(f.required for f in self.fields)

    def docstring(self, indent: str) -> str:
        return _docstring(self, indent)


def operation_constant(op: ir.Operation) -> str:
    return constant("_".join((*op.group, op.name)))


def loose_names(api: ir.API) -> dict[str, str]:
    """What an argument may give instead of a type: strings for enums and dates, dicts
    (keyed by attribute or wire names) for models."""
    loose = {"datetime": "str", "date": "str"}
    for name, decl in api.decls.items():
        if isinstance(decl, ir.Enum):
            loose[name] = "str"
        elif isinstance(decl, ir.Model):
            loose[name] = "Mapping[str, Any]"
    return loose


def method_spec(op: ir.Operation, api: ir.API) -> MethodSpec:
    loose = loose_names(api)
    params = [_param_arg(p, loose) for p in _ordered(op.params)]
    body = op.body
    fields = [_field_arg(f, body, loose) for f in _ordered(body.fields)] if body else []
    return MethodSpec(
        op=op,
        constant=operation_constant(op),
        params=params,
        fields=fields,
        request=_request_arg(op.body, loose) if op.body else None,
        result=_result(op, api),
        stream_item=_stream_item(op, api),
    )


def _ordered(items: list[T]) -> list[T]:
    """Required arguments first, each group in spec order."""
    return sorted(items, key=lambda item: not getattr(item, "required", False))


def _param_arg(param: ir.Param, loose: dict[str, str]) -> Arg:
    where = f"{param.location} parameter ``{param.name}``"
    doc = f"{describe(param.type)}; {where}"
    if param.deprecated:
        doc += " (deprecated)"
    return Arg(param.py_name, annotation(param.type, "models.", loose), param.required, doc)


def _field_arg(field: ir.Field, body: ir.Body, loose: dict[str, str]) -> Arg:
    doc = f"{describe(field.type)}; body field ``{field.json_name}``"
    if field.deprecated:
        doc += " (deprecated)"
    kind = annotation(field.type, "models.", loose)
    if field.py_name in body.defaults:
        return Arg(field.py_name, kind, False, doc, repr(body.defaults[field.py_name]))
    return Arg(field.py_name, kind, field.required, doc)


def _request_arg(body: ir.Body, loose: dict[str, str]) -> Arg:
    kind = annotation(body.type, "models.", loose)
    if isinstance(body.type, ir.Named) and body.fields:
        doc = (
            f"the whole body as {describe(body.type)} or a dict keyed by its attribute"
            " or wire names, instead of the keyword arguments"
        )
    else:
        doc = f"the request body: {describe(body.type)}"
    return Arg("request", kind, body.required and not body.fields, doc)


def _result(op: ir.Operation, api: ir.API) -> str:
    results: list[str] = []
    for response in op.success or [ir.Response("200", "empty", None, None)]:
        text = _response_annotation(response, api)
        if text not in results:
            results.append(text)
    if "None" in results and len(results) > 1:
        results.remove("None")
        results.append("None")
    return " | ".join(results)


def _response_annotation(response: ir.Response, api: ir.API) -> str:
    if response.kind in ("sse", "ndjson"):
        return f"EventStream[{_item(response, api)}]"
    if response.kind == "json" and response.type is not None:
        return annotation(response.type, "models.")
    return {"text": "str", "bytes": "bytes", "json": "Any"}.get(response.kind, "None")


def _item(response: ir.Response, api: ir.API) -> str:
    """Stream item type; an SSE union keyed by event type may also yield raw events."""
    if response.type is None:
        return "ServerSentEvent" if response.kind == "sse" else "Any"
    text = annotation(response.type, "models.")
    if response.kind == "sse" and _is_tagged_union(response.type, api):
        text += " | ServerSentEvent"
    return text


def _is_tagged_union(type_ref: ir.TypeRef, api: ir.API) -> bool:
    decl = api.decls.get(type_ref.name) if isinstance(type_ref, ir.Named) else None
    return isinstance(decl, ir.Union) and decl.discriminator is not None


def _stream_item(op: ir.Operation, api: ir.API) -> str | None:
    for response in op.success:
        if response.kind in ("sse", "ndjson"):
            return _item(response, api)
    return None


# ---- docstrings ----------------------------------------------------------------------


def _docstring(spec: MethodSpec, indent: str) -> str:
    op = spec.op
    title = op.summary.rstrip(".") or op.name.replace("_", " ").capitalize()
    lines = [f"{title}.", "", f"``{op.method} {op.path}``" + _stream_note(spec)]
    if op.deprecated:
        lines += [
            "",
            ".. deprecated:: the API marks this operation deprecated; it warns when called.",
        ]
    args = [*spec.params, *spec.fields] + ([spec.request] if spec.request else [])
    lines += ["", "Args:"]
    lines += [f"    {a.name}: {a.doc}{_arg_note(a)}." for a in args]
    lines += ["    retries, timeout_ms, server_url, http_headers: per-call overrides."]
    lines += ["", "Returns:", f"    {_returns_doc(spec)}"]
    errors = _errors_doc(op)
    if errors:
        lines += ["", "Raises:", *[f"    {e}" for e in errors]]
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines)
    return f'"""{body.lstrip()}\n{indent}"""'


def _arg_note(arg: Arg) -> str:
    if arg.default is not None:
        return f" (default ``{arg.default}``, also when ``request`` leaves it out)"
    return "" if arg.required else " (optional)"


def _stream_note(spec: MethodSpec) -> str:
    kinds = {r.kind for r in spec.op.success}
    if "sse" in kinds:
        return " (Server-Sent Events, read as they arrive)"
    if "ndjson" in kinds:
        return " (newline-delimited JSON, parsed per line as it arrives)"
    return ""


def _returns_doc(spec: MethodSpec) -> str:
    if spec.stream_item:
        return f"a stream of ``{spec.stream_item}``: iterate it, ideally inside ``with``."
    if spec.result == "None":
        return "None (the response has no body)."
    return f"``{spec.result}``."


def _errors_doc(op: ir.Operation) -> list[str]:
    lines = []
    for response in op.responses:
        if response.status.startswith("2"):
            continue
        if response.kind == "json" and isinstance(response.type, ir.Named):
            lines.append(
                f"HTTP {response.status}: an error whose ``data`` is :class:`{response.type.name}`."
            )
        fallback = [f":class:`{t.name}`" for t in response.fallback if isinstance(t, ir.Named)]
        if fallback:
            lines.append(
                f"HTTP {response.status} (no schema in the spec): an error whose ``data`` is"
                f" {' or '.join(fallback)} when the body fits it."
            )
    if lines or op.responses:
        lines.append("Any other failure: the SDK's base error (status, raw body and headers).")
    return lines
