"""Where the Glean spec snapshot the embedded server validates against lives.

A wheel carries it inside this package (``glean.json``, copied from the repository's
``specs/glean.json`` at build time); a source checkout reads the snapshot itself.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def spec_path(name: str = "glean.json") -> Path:
    """The spec snapshot ``name``: packaged beside this module, else the checkout's."""
    for candidate in (_HERE / name, _HERE.parents[1] / "specs" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"the Glean spec snapshot {name!r} is neither packaged in {_HERE} nor in a "
        "source checkout's specs/ folder"
    )
