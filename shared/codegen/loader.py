"""Reading a spec: JSON or YAML, local ``$ref`` resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

JSON = dict[str, Any]


class SpecError(ValueError):
    """The spec cannot be read or refers to something it does not have."""


def load(path: Path) -> JSON:
    """Parse a spec file (``.json``, ``.yaml`` or ``.yml``)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        import yaml  # dev dependency, only needed for YAML specs

        data = yaml.safe_load(text)
    if not isinstance(data, dict) or "openapi" not in data:
        raise SpecError(f"{path}: not an OpenAPI document")
    version = str(data["openapi"])
    if not version.startswith(("3.0", "3.1")):
        raise SpecError(f"{path}: OpenAPI {version} is not supported (3.0 and 3.1 are)")
    return data


class Resolver:
    """Follows local JSON pointers (``#/components/schemas/Foo``) inside one document."""

    def __init__(self, spec: JSON) -> None:
        self.spec = spec

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecError(f"only local $refs are supported, got {ref!r}")
        node: Any = self.spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SpecError(f"unresolvable $ref {ref!r}")
            node = node[part]
        return node

    def deref(self, node: Any) -> Any:
        """Follow ``$ref`` chains until a node without one (cycle-safe)."""
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"$ref cycle through {ref!r}")
            seen.add(ref)
            node = self.lookup(ref)
        return node


def schema_name(ref: str) -> str | None:
    """``#/components/schemas/Foo`` -> ``Foo``; other pointers -> None."""
    prefix = "#/components/schemas/"
    return ref[len(prefix) :] if ref.startswith(prefix) else None
