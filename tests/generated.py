"""Generate an SDK package from a spec into a folder and import it, for tests."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.codegen import ir
from shared.codegen.build import build
from shared.codegen.cli import Target, generate
from shared.codegen.loader import load
from shared.codegen.scaffold import write_scaffold


@dataclass(frozen=True)
class GeneratedSDK:
    package: ModuleType
    api: ir.API  # what the generator built (its ``warnings`` included)


@contextlib.contextmanager
def generated_sdk(spec: Path, package: str, client: str, out: Path) -> Iterator[GeneratedSDK]:
    """Write ``out/<package>`` from ``spec`` as ``python -m shared.codegen`` does; import it.

    ``package`` must be unique in the process: it is imported from ``out`` and removed
    from ``sys.modules`` (and ``out`` from ``sys.path``) afterwards.
    """
    api = build(load(spec))
    generate(Target(spec, package, client, out), api, out / package / "_generated")
    write_scaffold(out / package, api, client)
    sys.path.insert(0, str(out))
    try:
        yield GeneratedSDK(importlib.import_module(package), api)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]


@contextlib.contextmanager
def generated_package(
    spec: dict[str, Any], package: str, client: str, out: Path
) -> Iterator[ModuleType]:
    """:func:`generated_sdk` for an inline spec (written to ``out/<package>.json``)."""
    spec_path = out / f"{package}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    with generated_sdk(spec_path, package, client, out) as sdk:
        yield sdk.package
