"""Where the tests' data lives: the spec snapshots (``specs/``) and recorded fixtures."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"
FLUX0_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flux0"


@functools.cache
def _spec_text(name: str) -> str:
    return (SPECS / f"{name}.json").read_text(encoding="utf-8")


def load_spec(name: str) -> dict[str, Any]:
    """A fresh copy of the snapshot ``specs/<name>.json`` (``glean``, ``flux0``...)."""
    spec: dict[str, Any] = json.loads(_spec_text(name))
    return spec
