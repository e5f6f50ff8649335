"""Generate a package from an inline spec with the generator's any-spec mode, import it."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.codegen.cli import main as codegen


@contextlib.contextmanager
def generated_package(spec: dict[str, Any], package: str, client: str, out: Path) -> Iterator[Any]:
    """``package`` generated from ``spec`` into ``out`` and imported; forgotten afterwards."""
    spec_path = out / f"{package}.json"
    spec_path.write_text(json.dumps(spec))
    args = ["--spec", str(spec_path), "--package", package, "--client", client, "--out", str(out)]
    with contextlib.redirect_stdout(None), contextlib.redirect_stderr(None):
        assert codegen(args) == 0
    sys.path.insert(0, str(out))
    try:
        module: ModuleType = importlib.import_module(package)
        yield module
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]
