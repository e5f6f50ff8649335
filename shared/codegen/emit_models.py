"""``_generated/models.py``: attrs models, open enums, unions and aliases."""

from __future__ import annotations

from ..naming import constant, unique
from . import ir
from .chunks import module_of, partition, references
from .types import SHADOWABLE, annotation, names_in, or_unset, runtime_expr, uses_prim


def emit_models(api: ir.API, header: str) -> dict[str, str]:
    """``models.py`` (a lazy facade) and one ``_models_<chunk>.py`` per chunk."""
    chunks = partition(api)
    files = {}
    for chunk in sorted(set(chunks.values())):
        names = [name for name in api.decls if chunks[name] == chunk]
        files[f"{module_of(chunk)}.py"] = _chunk_module(api, names, chunks, header)
    files["models.py"] = _facade(api, chunks, header)
    return files


def _chunk_module(api: ir.API, names: list[str], chunks: dict[str, str], header: str) -> str:
    decls = {name: api.decls[name] for name in names}
    classes = [d for d in decls.values() if isinstance(d, (ir.Model, ir.Enum))]
    aliases = _ordered_aliases([d for d in decls.values() if isinstance(d, (ir.Union, ir.Alias))])
    parts = [
        header,
        '"""Models of the API (one module of them): attrs classes, open enums, unions."""',
        _imports(api, decls),
        *_cross_imports(decls, chunks),
        '__models_namespace__ = __name__.rpartition(".")[0] + ".models"',
    ]
    parts += [_enum(d) if isinstance(d, ir.Enum) else _model(d) for d in classes]
    parts += [_alias(d) for d in aliases]
    parts.append(_unions_table(decls))
    parts.append(_all(decls))
    return "\n\n".join(parts) + "\n"


def _cross_imports(decls: dict[str, ir.Decl], chunks: dict[str, str]) -> list[str]:
    """Names from other modules: values for aliases and union tables, else for typing."""
    at_runtime: set[str] = set()
    for decl in decls.values():
        if isinstance(decl, (ir.Union, ir.Alias)):
            at_runtime |= references(decl)
        if isinstance(decl, ir.Union):
            at_runtime |= set(decl.mapping.values())
    for_typing: set[str] = set()
    for decl in decls.values():
        for_typing |= references(decl)
    outside = {name for name in at_runtime | for_typing if name not in decls}
    lines = _import_lines(sorted(outside & at_runtime), chunks, "")
    checking = _import_lines(sorted(outside - at_runtime), chunks, "    ")
    if checking:
        lines.append("if TYPE_CHECKING:\n" + "\n".join(checking))
    return ["\n".join(lines)] if lines else []


def _import_lines(names: list[str], chunks: dict[str, str], indent: str) -> list[str]:
    by_module: dict[str, list[str]] = {}
    for name in names:
        by_module.setdefault(module_of(chunks[name]), []).append(name)
    return [
        f"{indent}from .{module} import {', '.join(members)}"
        for module, members in sorted(by_module.items())
    ]


def _facade(api: ir.API, chunks: dict[str, str], header: str) -> str:
    modules = sorted({module_of(chunk) for chunk in chunks.values()})
    tagged = [n for n, d in api.decls.items() if isinstance(d, ir.Union) and d.discriminator]
    with_unions = sorted({module_of(chunks[name]) for name in tagged})
    table = "\n".join(f"    {name!r}: {module_of(chunks[name])!r}," for name in sorted(chunks))
    star = "\n".join(f"    from .{module} import *  # noqa: F403" for module in modules)
    return FACADE.format(
        header=header,
        star=star,
        table=table,
        union_modules=repr(tuple(with_unions)),
        all=_all(api.decls),
    )


FACADE = '''{header}
"""Models of the API: attrs classes, open enums and unions.

They live in several modules, one per top-level namespace plus a common one, and each
module loads when one of its names is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shared.serialization import UnionInfo

if TYPE_CHECKING:
{star}

    UNIONS: tuple[UnionInfo, ...]

_MODULES = {{
{table}
}}
_UNION_MODULES: tuple[str, ...] = {union_modules}


def __getattr__(name: str) -> Any:
    if name == "UNIONS":
        value: Any = _unions()
    elif name in _MODULES:
        module = importlib.import_module(f"{{__package__}}.{{_MODULES[name]}}")
        value = getattr(module, name)
    else:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
    globals()[name] = value
    return value


def _unions() -> tuple[UnionInfo, ...]:
    """The discriminated unions, from the modules that declare any."""
    modules = [importlib.import_module(f"{{__package__}}.{{m}}") for m in _UNION_MODULES]
    return tuple(info for module in modules for info in module.UNIONS)


{all}
'''


def _imports(api: ir.API, decls: dict[str, ir.Decl]) -> str:
    types = [f.type for d in decls.values() if isinstance(d, ir.Model) for f in d.fields]
    types += [t for d in decls.values() if isinstance(d, ir.Union) for t in d.options]
    types += [d.target for d in decls.values() if isinstance(d, ir.Alias)]
    lines = ["from __future__ import annotations", ""]
    if any(uses_prim(t, {"datetime", "date"}) for t in types):
        lines.append("import datetime")
    # for classes whose fields shadow names (ruff drops the ones a module does not use)
    lines += ["import builtins", "import datetime as _datetime"]
    lines.append("from typing import TYPE_CHECKING, Any, Literal, TypeAlias")
    lines += ["", "import attrs", "import attrs as _attrs", ""]
    if any(uses_prim(t, {"file"}) for t in types):
        lines.append("from shared.files import FileContent")
    lines += [
        "from shared.enums import OpenEnum",
        "from shared.models import NO_ADDITIONAL, Model",
        "from shared.serialization import UnionInfo",
        "from shared.unset import UNSET, Unset",
    ]
    return "\n".join(lines)


def _enum(enum: ir.Enum) -> str:
    lines = [
        f"class {enum.name}(OpenEnum):",
        f'    """Values of ``{enum.name}``; unknown values are accepted."""',
        "",
    ]
    taken: set[str] = set()
    for value in enum.values:
        lines.append(f"    {unique(constant(value), taken)} = {value!r}")
    return "\n".join(lines)


MODEL_DECORATOR = "@attrs.define(slots=True, kw_only=True, init=False, repr=False, eq=False)"


def _model(model: ir.Model) -> str:
    """An attrs class with its ``__init__`` written out (attrs would compile one)."""
    lines = [MODEL_DECORATOR, f"class {model.name}(Model):"]
    lines.append(f'    """{_model_doc(model)}"""')
    lines.append("")
    for field in model.fields:
        lines.append(f"    {_field(field, _shadowed(model))}")
    lines.append(f"    {_additional_field(model)}")
    lines += ["", *_init(model)]
    return "\n".join(lines)


def _additional_field(model: ir.Model) -> str:
    """The mapping of undeclared fields: empty by default, marked for the serializer."""
    kind = _additional_annotation(model)
    marker = '{"additional_properties": True}'
    field = _attrs_field(_shadowed(model))
    return f"{model.additional_name}: {kind} = {field}(default=NO_ADDITIONAL, metadata={marker})"


def _additional_annotation(model: ir.Model) -> str:
    return annotation(ir.MapOf(model.additional or ir.Prim("any")), shadowed=_shadowed(model))


def _shadowed(model: ir.Model) -> frozenset[str]:
    """Field names that hide a name the class body uses (``str``, ``datetime``, ``attrs``)."""
    return frozenset(f.py_name for f in model.fields) & (SHADOWABLE | {"attrs"})


def _attrs_field(shadowed: frozenset[str]) -> str:
    return "_attrs.field" if "attrs" in shadowed else "attrs.field"


def _init(model: ir.Model) -> list[str]:
    required = [f for f in model.fields if f.required]
    optional = [f for f in model.fields if not f.required]
    extra = model.additional_name
    shadowed = _shadowed(model)
    args = [f"{f.py_name}: {annotation(f.type, shadowed=shadowed)}" for f in required]
    args += [
        f"{f.py_name}: {or_unset(annotation(f.type, shadowed=shadowed))} = UNSET" for f in optional
    ]
    args.append(f"{extra}: {_additional_annotation(model)} = NO_ADDITIONAL")
    body = [f"        self.{f.py_name} = {f.py_name}" for f in model.fields]
    body.append(f"        self.{extra} = {extra}")
    return [f"    def __init__(self, *, {', '.join(args)}) -> None:", *body]


def _model_doc(model: ir.Model) -> str:
    title = model.title if model.title and model.title != model.name else ""
    text = f"{title} (``{model.name}``)." if title else f"The ``{model.name}`` object."
    required = [f.py_name for f in model.fields if f.required]
    if required:
        text += f"\n\n    Required: {', '.join(required)}."
    deprecated = [f.py_name for f in model.fields if f.deprecated]
    if deprecated:
        text += f"\n\n    Deprecated fields: {', '.join(deprecated)}."
    if model.deprecated:
        text = "Deprecated. " + text
    return text + "\n    "


def _field(field: ir.Field, shadowed: frozenset[str]) -> str:
    kind = annotation(field.type, shadowed=shadowed)
    args = []
    if not field.required:
        kind = or_unset(kind)
        args.append("default=UNSET")
    if field.json_name != field.py_name:
        args.append(f'metadata={{"json": {field.json_name!r}}}')
    if not args:
        return f"{field.py_name}: {kind}"
    return f"{field.py_name}: {kind} = {_attrs_field(shadowed)}({', '.join(args)})"


def _alias(decl: ir.Union | ir.Alias) -> str:
    if isinstance(decl, ir.Alias):
        return f"{decl.name}: TypeAlias = {runtime_expr(decl.target)}"
    options = " | ".join(runtime_expr(o) for o in decl.options)
    return f"{decl.name}: TypeAlias = {options}"


def _ordered_aliases(aliases: list[ir.Union | ir.Alias]) -> list[ir.Union | ir.Alias]:
    """Aliases are values evaluated at import: each must follow the aliases it uses."""
    by_name = {a.name: a for a in aliases}
    ordered: list[ir.Union | ir.Alias] = []
    state: dict[str, int] = {}

    def visit(alias: ir.Union | ir.Alias) -> None:
        if state.get(alias.name) == 2:
            return
        if state.get(alias.name) == 1:
            raise ValueError(f"alias {alias.name} refers to itself")
        state[alias.name] = 1
        targets = alias.options if isinstance(alias, ir.Union) else [alias.target]
        for name in sorted(set().union(*(names_in(t) for t in targets))):
            if name in by_name:
                visit(by_name[name])
        state[alias.name] = 2
        ordered.append(alias)

    for alias in aliases:
        visit(alias)
    return ordered


def _unions_table(decls: dict[str, ir.Decl]) -> str:
    rows = []
    for decl in decls.values():
        if isinstance(decl, ir.Union) and decl.discriminator:
            mapping = ", ".join(f"{tag!r}: {name}" for tag, name in decl.mapping.items())
            rows.append(f"    UnionInfo({decl.name}, {decl.discriminator!r}, {{{mapping}}}),")
    body = "\n".join(rows)
    return (
        f"UNIONS: tuple[UnionInfo, ...] = (\n{body}\n)"
        if rows
        else "UNIONS: tuple[UnionInfo, ...] = ()"
    )


def _all(decls: dict[str, ir.Decl]) -> str:
    names = "\n".join(f"    {name!r}," for name in sorted(decls))
    return f"__all__ = [\n{names}\n]"
