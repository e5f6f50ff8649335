"""Which module each declaration goes to, so a namespace loads only the models it uses.

Every top-level namespace (``client``, ``indexing``...) gets the declarations reachable
only from its operations; declarations reachable from several namespaces, or from none
of them but from each other, go to ``common``. A namespace module may refer to
``common``, never the reverse, and namespaces never refer to each other: whatever a
declaration refers to is reachable from every namespace it is reachable from.
"""

from __future__ import annotations

from ..naming import identifier
from . import ir
from .types import names_in

COMMON = "common"
UNUSED = "unused"  # group of the declarations no operation reaches


def references(decl: ir.Decl) -> set[str]:
    """Names a declaration refers to."""
    if isinstance(decl, ir.Model):
        types = [f.type for f in decl.fields]
    elif isinstance(decl, ir.Union):
        types = list(decl.options)
    elif isinstance(decl, ir.Alias):
        types = [decl.target]
    else:
        types = []
    found: set[str] = set()
    for type_ref in types:
        found |= names_in(type_ref)
    return found


def operation_types(op: ir.Operation) -> list[ir.TypeRef]:
    types = [p.type for p in op.params]
    types += [op.body.type] if op.body else []
    types += [r.type for r in op.responses if r.type is not None]
    return types


def _closure(api: ir.API, roots: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = sorted(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in api.decls:
            continue
        seen.add(name)
        stack += sorted(references(api.decls[name]))
    return seen


def chunk_name(group: str) -> str:
    return identifier(group).rstrip("_")


def partition(api: ir.API) -> dict[str, str]:
    """Declaration name -> chunk (a top-level namespace's name, or ``common``)."""
    roots: dict[str, set[str]] = {}
    for op in api.operations:
        group = chunk_name(op.group[0])
        for type_ref in operation_types(op):
            roots.setdefault(group, set()).update(names_in(type_ref))
    reached = {group: _closure(api, names) for group, names in roots.items()}
    everything = set().union(*reached.values()) if reached else set()
    reached[UNUSED] = _closure(api, set(api.decls) - everything)
    chunks = {}
    for name in api.decls:
        groups = [group for group, names in reached.items() if name in names]
        single = len(groups) == 1 and groups[0] != UNUSED
        chunks[name] = groups[0] if single else COMMON
    return chunks


def module_of(chunk: str) -> str:
    """The module a chunk of models is written to (without ``.py``)."""
    return f"_models_{chunk}"
