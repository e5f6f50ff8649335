"""``operations.py``, the async ``resources.py``/``client.py`` and the sync facade."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..naming import identifier, pascal
from . import ir
from .chunks import chunk_name
from .methods import OPTION_ARGS, Arg, MethodSpec, method_spec
from .types import or_unset, runtime_expr

# ---- the namespace tree ----------------------------------------------------------------


@dataclass
class Namespace:
    path: tuple[str, ...]
    methods: list[MethodSpec] = field(default_factory=list)
    children: dict[str, Namespace] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return pascal("_".join(self.path))

    def walk(self) -> list[Namespace]:
        """Children before parents, so each class is defined before it is used."""
        result: list[Namespace] = []
        for child in self.children.values():
            result += child.walk()
        return [*result, self]


def namespace_tree(api: ir.API) -> Namespace:
    root = Namespace(())
    for op in api.operations:
        node = root
        for depth, part in enumerate(op.group):
            node = node.children.setdefault(part, Namespace(op.group[: depth + 1]))
        node.methods.append(method_spec(op, api))
    for node in root.walk():
        clash = {m.op.name for m in node.methods} & set(node.children)
        if clash:
            raise ValueError(f"{node.path}: {sorted(clash)} is both a method and a namespace")
    return root


# ---- operations.py -----------------------------------------------------------------------


def emit_operations(api: ir.API, header: str) -> dict[str, str]:
    """One ``operations_<namespace>.py`` per top-level namespace."""
    files = {}
    for chunk, ops in _by_top_namespace(api).items():
        files[f"operations_{chunk}.py"] = _operations_module(api, ops, header)
    stars = [f"from .{name[:-3]} import *  # noqa: F403" for name in sorted(files)]
    doc = '"""Every operation descriptor, for tools and tests (the SDK loads them lazily)."""'
    files["operations.py"] = "\n".join([header, doc, "", *stars]) + "\n"
    return files


def _by_top_namespace(api: ir.API) -> dict[str, list[ir.Operation]]:
    grouped: dict[str, list[ir.Operation]] = {}
    for op in api.operations:
        grouped.setdefault(chunk_name(op.group[0]), []).append(op)
    return grouped


def _operations_module(api: ir.API, ops: list[ir.Operation], header: str) -> str:
    body = []
    for op in ops:
        body += ["", "", f"{method_spec(op, api).constant} = {_operation(op)}"]
    code = "\n".join(body)
    descriptors = ", ".join(
        n for n in ("Body", "Operation", "Param", "Response") if f"{n}(" in code
    )
    extra = {"Optional": "from typing import Optional", "Literal": "from typing import Literal"}
    imports = imports_for(code, extra=extra)
    imports.insert(-1, f"from shared.operation import {descriptors}")
    doc = '"""Static descriptions of operations (shared by the async and sync facades)."""'
    return "\n".join([header, doc, "", *imports]) + "\n" + code + "\n"


def _operation(op: ir.Operation) -> str:
    args = [f"name={op.dotted!r}", f"method={op.method!r}", f"path={op.path!r}"]
    if op.params:
        args.append(f"params=({''.join(_param(p) + ', ' for p in op.params)})")
    if op.body:
        args.append(f"body={_body(op.body)}")
    args.append(f"responses=({''.join(_response(r) + ', ' for r in op.responses)})")
    for flag in ("auth", "deprecated", "streaming"):
        if getattr(op, flag):
            args.append(f"{flag}=True")
    return f"Operation({', '.join(args)})"


def _param(param: ir.Param) -> str:
    args = [
        repr(param.name),
        repr(param.py_name),
        repr(param.location),
        runtime_expr(param.type, "models."),
    ]
    if param.required:
        args.append("required=True")
    args += [f"style={param.style!r}", f"explode={param.explode!r}"]
    return f"Param({', '.join(args)})"


def _body(body: ir.Body) -> str:
    args = [repr(body.kind), repr(body.content_type), runtime_expr(body.type, "models.")]
    if body.required:
        args.append("required=True")
    if body.file_fields:
        args.append(f"file_fields={body.file_fields!r}")
    if body.defaults:
        args.append(f"defaults={body.defaults!r}")
    return f"Body({', '.join(args)})"


def _response(response: ir.Response) -> str:
    args = [repr(response.status), repr(response.kind)]
    if response.content_type:
        args.append(f"content_type={response.content_type!r}")
    if response.type is not None:
        args.append(f"type={runtime_expr(response.type, 'models.')}")
    if response.sse_envelope:
        args.append("sse_envelope=True")
    if response.fallback:
        types = "".join(f"{runtime_expr(t, 'models.')}, " for t in response.fallback)
        args.append(f"fallback_types=({types})")
    return f"Response({', '.join(args)})"


# ---- method source -------------------------------------------------------------------------


@dataclass
class Flavour:
    """What differs between the async and the sync facade."""

    is_async: bool

    @property
    def prefix(self) -> str:
        return "async def" if self.is_async else "def"

    def stream_type(self, item: str) -> str:
        return f"EventStream[{item}]" if self.is_async else f"SyncEventStream[{item}]"

    def result(self, spec: MethodSpec) -> str:
        if spec.stream_item is None:
            return spec.result
        return spec.result.replace(
            f"EventStream[{spec.stream_item}]", self.stream_type(spec.stream_item)
        )

    def invoke(self, spec: MethodSpec, call_args: str) -> str:
        call = f"self._core.call(_operations.{spec.constant}, {call_args})"
        if self.is_async:
            return f"await {call}"
        runner = "_stream" if spec.stream_item else "_run"
        call = f"_client._core.call(_operations.{spec.constant}, {call_args})"
        return f"self._root.{runner}(lambda _client: {call})"


def emit_method(spec: MethodSpec, flavour: Flavour) -> list[str]:
    lines: list[str] = []
    if spec.overloaded:
        lines += _overloads(spec, flavour)
    args = _signature(spec, flat_required=not spec.overloaded, request_required=False)
    lines += [f"    {flavour.prefix} {spec.op.name}(self, *, {args}) -> {flavour.result(spec)}:"]
    lines.append(f"        {spec.docstring('        ')}")
    lines += [f"        {line}" for line in _body_lines(spec, flavour)]
    return lines


def _overloads(spec: MethodSpec, flavour: Flavour) -> list[str]:
    flat = _signature(spec, flat_required=True, request_required=None)
    whole = _signature(spec, flat_required=None, request_required=True)
    result = flavour.result(spec)
    return [
        "    @overload",
        f"    {flavour.prefix} {spec.op.name}(self, *, {flat}) -> {result}: ...",
        "",
        "    @overload",
        f"    {flavour.prefix} {spec.op.name}(self, *, {whole}) -> {result}: ...",
        "",
    ]


def _signature(spec: MethodSpec, flat_required: bool | None, request_required: bool | None) -> str:
    """Keyword arguments; ``None`` leaves that group out (used by the overloads)."""
    args = [_arg(a, a.required) for a in spec.params if a.required]
    if flat_required is not None:
        args += [_arg(a, a.required and flat_required) for a in spec.fields if a.required]
    args += [_arg(a, False) for a in spec.params if not a.required]
    if flat_required is not None:
        args += [_arg(a, False) for a in spec.fields if not a.required]
    if spec.request is not None and request_required is not None:
        args.append(_arg(spec.request, request_required or spec.request.required))
    args += [f"{name}: {kind} = {default}" for name, kind, default in OPTION_ARGS]
    return ", ".join(args)


def _arg(arg: Arg, required: bool) -> str:
    if required:
        return f"{arg.name}: {arg.annotation}"
    if arg.default is not None:
        return f"{arg.name}: {arg.annotation} = {arg.default}"
    return f"{arg.name}: {or_unset(arg.annotation)} = UNSET"


def _body_lines(spec: MethodSpec, flavour: Flavour) -> list[str]:
    """A method's body. Arguments are named after the spec, never with a leading ``_``:
    the body refers to everything else by such names, so no argument can shadow them."""
    lines = []
    if spec.op.deprecated:
        lines.append(
            f'_warnings.warn("{spec.op.dotted} is deprecated", DeprecationWarning, stacklevel=2)'
        )
    call_args = [f"params={{{', '.join(f'{a.name!r}: {a.name}' for a in spec.params)}}}"]
    body = spec.op.body
    if spec.request is not None and body is not None:
        fields = ", ".join(f"{a.name!r}: {a.name}" for a in spec.fields)
        defaults = f", defaults={body.defaults!r}" if body.defaults else ""
        lines.append(f"_body = _flat_body(request, {{{fields}}}{defaults})")
        call_args.append("body=_body")
    options = ", ".join(f"{name}={name}" for name, _, _ in OPTION_ARGS)
    call_args.append(f"options=CallOptions({options})")
    call = flavour.invoke(spec, ", ".join(call_args))
    result = flavour.result(spec)
    if result == "None":
        lines.append(call)
    else:
        lines.append(f"return _cast({result!r}, {call})")
    return lines


# ---- modules -------------------------------------------------------------------------------


def emit_resources(api: ir.API, header: str) -> dict[str, str]:
    """One ``resources_<namespace>.py`` of async classes per top-level namespace."""
    return _namespace_modules(api, header, Flavour(is_async=True), "resources")


def _namespace_modules(api: ir.API, header: str, flavour: Flavour, prefix: str) -> dict[str, str]:
    files = {}
    for name, top in namespace_tree(api).children.items():
        chunk = chunk_name(name)
        body: list[str] = []
        for node in top.walk():
            body += ["", "", *_namespace_class(node, flavour)]
        code = "\n".join(body)
        extra = {"_operations": f"from . import operations_{chunk} as _operations"}
        doc = f'"""{"Async" if flavour.is_async else "Blocking"} operations under ``{name}``."""'
        head = [header, doc, "", *imports_for(code, extra=extra)]
        files[f"{prefix}_{chunk}.py"] = "\n".join(head) + "\n" + code + "\n"
    return files


# name used in generated code -> (section, import line); sections keep isort's order
_IMPORTS = {
    "builtins": (0, "import builtins"),
    "functools": (0, "import functools"),
    "warnings": (0, "import warnings"),
    "datetime": (0, "import datetime"),
    "FileContent": (2, "from shared.files import FileContent"),
    "logging": (0, "import logging"),
    "Awaitable": (0, "from collections.abc import Awaitable, Callable"),
    "Mapping": (0, "from collections.abc import Mapping"),
    "TracebackType": (0, "from types import TracebackType"),
    "Any": (0, "from typing import Any"),
    "cast": (0, "from typing import cast"),
    "_cast": (0, "from typing import cast as _cast"),
    "_warnings": (0, "import warnings as _warnings"),
    "_flat_body": (2, "from shared.arguments import flat_body as _flat_body"),
    "overload": (0, "from typing import overload"),
    "TYPE_CHECKING": (0, "from typing import TYPE_CHECKING"),
    "aiohttp": (1, "import aiohttp"),
    "flat_body": (2, "from shared.arguments import flat_body"),
    "TokenSource": (2, "from shared.auth import TokenSource"),
    "debug_logger_from_env": (2, "from shared.debuglog import debug_logger_from_env"),
    "CallOptions": (2, "from shared.http import CallOptions"),
    "ClientConfig": (2, "from shared.http import ClientConfig, HTTPCore"),
    "HTTPCore": (2, "from shared.http import HTTPCore"),
    "RetryConfig": (2, "from shared.retries import RetryConfig"),
    "SyncClientBase": (2, "from shared.runtime import SyncClientBase"),
    "SyncEventStream": (2, "from shared.runtime import SyncEventStream"),
    "ServerTemplate": (2, "from shared.servers import ServerTemplate"),
    "ServerVariable": (2, "from shared.servers import ServerVariable"),
    "ServerSentEvent": (2, "from shared.sse import ServerSentEvent"),
    "EventStream": (2, "from shared.streams import EventStream"),
    "UNSET": (2, "from shared.unset import UNSET, Unset"),
    "ERROR_TYPES": (3, "from ..errors import ERROR_TYPES"),
    "models": (3, "from . import models"),
    "AsyncClient": (3, "from .client import AsyncClient"),
    "SERIALIZER": (3, "from .wire import SERIALIZER"),
}


def _uses(code: str, name: str) -> bool:
    return re.search(rf"(?<![.\w]){re.escape(name)}\b", code) is not None


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^(class |def )?{re.escape(name)}\b\s*[=(:]", code, re.M) is not None


def imports_for(code: str, first: list[str] = (), extra: dict[str, str] | None = None) -> list[str]:  # type: ignore[assignment]
    """The import block of a generated module: exactly the names its code uses."""
    table = dict(_IMPORTS)
    for name, line in (extra or {}).items():
        table[name] = (3, line)
    used = {name for name in table if _uses(code, name) and not _defines(code, name)}
    sections: dict[int, set[str]] = {}
    for name in used:
        section, line = table[name]
        sections.setdefault(section, set()).add(line)
    lines = ["from __future__ import annotations", ""]
    for section in sorted(sections):
        lines += [*sorted(sections[section]), ""]
    return lines


def _namespace_class(node: Namespace, flavour: Flavour) -> list[str]:
    owner = "core" if flavour.is_async else "root"
    owner_type = "HTTPCore" if flavour.is_async else "SyncClientBase[AsyncClient]"
    slots = ", ".join(repr(s) for s in sorted([f"_{owner}", *node.children]))
    lines = [
        f"class {node.class_name}:",
        f'    """Operations under ``{".".join(node.path)}``."""',
        "",
        f"    __slots__ = ({slots},)",
        "",
        f"    def __init__(self, {owner}: {owner_type}) -> None:",
        f"        self._{owner} = {owner}",
    ]
    lines += [
        f"        self.{name} = {child.class_name}({owner})"
        for name, child in node.children.items()
    ]
    for spec in node.methods:
        lines += ["", *emit_method(spec, flavour)]
    return lines


@dataclass
class ClientNames:
    """Names of one SDK's client classes and environment variables."""

    package: str
    client: str

    @property
    def env(self) -> str:
        return identifier(self.client).upper().rstrip("_")


def emit_client(api: ir.API, header: str, names: ClientNames) -> str:
    tree = namespace_tree(api)
    body = ["", "", f"SERVERS = {_servers(api)}", "", "", *_async_client(api, tree, names)]
    body += ["", "", f"AsyncClient = {names.client}"]
    code = "\n".join(body)
    checking = _type_checking_import(tree, "resources")
    imports = [*imports_for(code + "\n".join(checking)), *checking]
    head = [header, f'"""The async ``{names.client}`` client."""', "", *imports]
    return "\n".join(head) + "\n" + code + "\n"


def _lazy_namespaces(tree: Namespace, module: str, owner: str) -> list[str]:
    """Top-level namespaces as cached properties: their module loads on first use."""
    lines = []
    for name, child in tree.children.items():
        lines += [
            "",
            "    @functools.cached_property",
            f"    def {name}(self) -> {child.class_name}:",
            f'        """``{name}`` operations (their code and models load on first use)."""',
            f"        from .{module}_{chunk_name(name)} import {child.class_name}",
            "",
            f"        return {child.class_name}({owner})",
        ]
    return lines


def _type_checking_import(tree: Namespace, module: str) -> list[str]:
    lines = ["if TYPE_CHECKING:"]
    for name, child in tree.children.items():
        lines.append(f"    from .{module}_{chunk_name(name)} import {child.class_name}")
    return [*lines, ""]


def _servers(api: ir.API) -> str:
    servers = api.servers or [ir.Server("http://127.0.0.1:8080")]
    items = []
    for server in servers:
        variables = ", ".join(
            f"{v.name!r}: ServerVariable({v.default!r}, {tuple(v.enum)!r})"
            for v in server.variables
        )
        items.append(f"ServerTemplate({server.url!r}, {{{variables}}})")
    return f"({', '.join(items)},)"


def client_args(api: ir.API) -> list[tuple[str, str, str]]:
    """(name, annotation, default) of the client constructor's keyword arguments."""
    args = []
    for variable in api.servers[0].variables if api.servers else []:
        args.append((identifier(variable.name), "str | None", "None"))
    args += [
        ("server_url", "str | None", "None"),
        ("server_idx", "int | None", "None"),
        ("retry_config", "RetryConfig | None", "None"),
        ("timeout_ms", "int | None", "None"),
        ("session", "aiohttp.ClientSession | None", "None"),
        ("debug_logger", "logging.Logger | None", "None"),
    ]
    return args


TOKEN_ARG = "api_token: str | Callable[[], str] | Callable[[], Awaitable[str]] | None = None"


def constructor_signature(api: ir.API) -> str:
    args = ", ".join(f"{n}: {a} = {d}" for n, a, d in client_args(api))
    return f"self, {TOKEN_ARG}, *, {args}" if api.auth else f"self, *, {args}"


def constructor_call_args(api: ir.API) -> str:
    names = (["api_token"] if api.auth else []) + [n for n, _, _ in client_args(api)]
    return ", ".join(f"{n}={n}" for n in names)


def _async_client(api: ir.API, tree: Namespace, names: ClientNames) -> list[str]:
    variables = [v.name for v in api.servers[0].variables] if api.servers else []
    config = [
        f"sdk_name={names.package!r}",
        "servers=SERVERS",
        "serializer=SERIALIZER",
        "errors=ERROR_TYPES",
    ]
    if api.auth:
        config.append(f'token=TokenSource.from_arg(api_token, env_var="{names.env}_API_TOKEN")')
    config.append(f"server_variables={{{', '.join(f'{v!r}: {identifier(v)}' for v in variables)}}}")
    config += [
        f"{n}={n}" for n in ("server_url", "server_idx", "retry_config", "timeout_ms", "session")
    ]
    from_env = f'debug_logger_from_env("{names.env}_DEBUG", {names.package!r})'
    config.append(f"debug_logger=debug_logger or {from_env}")
    lines = [
        f"class {names.client}:",
        f'    """Async client of {api.title or "the API"}.',
        "",
        f"    Use it as ``async with {names.client}(...) as client:`` or call :meth:`aclose`.",
        "    Without ``session=`` it owns one aiohttp session, created on first use.",
        '    """',
        "",
        f"    def __init__({constructor_signature(api)}) -> None:",
        f"        self._core = HTTPCore(ClientConfig({', '.join(config)}))",
    ]
    lines += _lazy_namespaces(tree, "resources", "self._core")
    lines += [
        "",
        "    async def aclose(self) -> None:",
        '        """Close the owned aiohttp session (a session passed in stays open)."""',
        "        await self._core.aclose()",
        "",
        f"    async def __aenter__(self) -> {names.client}:",
        "        return self",
        "",
        "    async def __aexit__(",
        "        self,",
        "        exc_type: type[BaseException] | None,",
        "        exc: BaseException | None,",
        "        tb: TracebackType | None,",
        "    ) -> None:",
        "        await self.aclose()",
        "",
        "    def __repr__(self) -> str:",
        '        return f"{type(self).__name__}({self._core!r})"',
    ]
    return lines


def emit_sync_resources(api: ir.API, header: str) -> dict[str, str]:
    """One ``sync_resources_<namespace>.py`` of blocking classes per top-level namespace."""
    return _namespace_modules(api, header, Flavour(is_async=False), "sync_resources")


def emit_sync(api: ir.API, header: str, names: ClientNames) -> str:
    tree = namespace_tree(api)
    code = "\n".join(["", "", *_sync_client(api, tree, names)])
    checking = _type_checking_import(tree, "sync_resources")
    imports = [*imports_for(code + "\n".join(checking)), *checking]
    doc = f'"""The blocking ``{names.client}`` facade, run on a background event loop."""'
    return "\n".join([header, doc, "", *imports]) + "\n" + code + "\n"


def _sync_client(api: ir.API, tree: Namespace, names: ClientNames) -> list[str]:
    lines = [
        f"class {names.client}(SyncClientBase[AsyncClient]):",
        f'    """Blocking client of {api.title or "the API"}: the async methods, each blocking.',
        "",
        "    Every call runs on one background event-loop thread shared by all sync clients;",
        f"    use ``with {names.client}(...) as client:`` or call :meth:`close`.",
        '    """',
        "",
        f"    def __init__({constructor_signature(api)}) -> None:",
        f"        super().__init__(lambda: AsyncClient({constructor_call_args(api)}))",
    ]
    return lines + _lazy_namespaces(tree, "sync_resources", "self")
