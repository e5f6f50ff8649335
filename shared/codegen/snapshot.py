"""Spec snapshots: the upstream specs as deterministic JSON with their prose removed.

``python -m shared.codegen snapshot [--check]`` reads every spec in the upstream folder
beside the repository and writes ``specs/<name>.json``. The generator, the fakes, the
tests, the demo and the benchmarks read those snapshots, never the upstream folder.

Prose is the OpenAPI ``description`` keyword (of an operation, a parameter, a response,
a schema, a tag, the info object...). A ``description`` that is a *name* -- a property
called ``description``, a path, a response code, a component -- is structure and stays,
as do ``summary``, examples, enums, defaults and vendor extensions, copied verbatim.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .loader import load

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = REPO.parent / "shared" / "specs"
SNAPSHOTS = REPO / "specs"

# keys whose value is a map from names (not keywords) to nodes
_NAME_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
        "paths",
        "webhooks",
        "responses",
        "schemas",
        "parameters",
        "headers",
        "content",
        "encoding",
        "securitySchemes",
        "requestBodies",
        "callbacks",
        "links",
        "pathItems",
        "variables",
        "mapping",
        "scopes",
    }
)
# keys whose value is data, not spec structure: copied as they are
_VERBATIM = frozenset({"example", "examples", "enum", "default", "const"})


def strip_prose(node: Any) -> Any:
    """A copy of a spec node without ``description`` keywords."""
    if isinstance(node, list):
        return [strip_prose(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key in _VERBATIM or key.startswith("x-"):
            result[key] = value
        elif key in _NAME_MAPS and isinstance(value, dict):
            result[key] = {name: strip_prose(item) for name, item in value.items()}
        else:
            result[key] = strip_prose(value)
    return result


def render(spec: Any) -> str:
    """The snapshot text: sorted keys, two-space indent, a final newline."""
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def snapshot_name(upstream: Path) -> str:
    return f"{upstream.stem}.json"


def run(check: bool, upstream: Path = UPSTREAM, out: Path = SNAPSHOTS) -> int:
    """Write (or, with ``check``, compare) one snapshot per upstream spec."""
    sources = sorted(p for p in upstream.glob("*") if p.suffix in (".json", ".yaml", ".yml"))
    if not sources:
        print(f"no specs in {upstream}", file=sys.stderr)
        return 1
    stale = []
    for source in sources:
        text = render(strip_prose(load(source)))
        target = out / snapshot_name(source)
        if check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                stale.append(target.name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(REPO)}")
    if stale:
        print(f"spec snapshots out of date ({', '.join(stale)}): run snapshot", file=sys.stderr)
        return 1
    return 0
