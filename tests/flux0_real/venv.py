"""A venv with the real flux0 server, built once per server version and interpreter.

The server needs Python >= 3.13. The interpreter is ``$FLUX0_SERVER_PYTHON`` when set,
else ``python3.13`` on PATH when it really runs, else the newest pyenv 3.13.
The venv lives in ``$FLUX0_SERVER_CACHE`` (default
``${XDG_CACHE_HOME:-~/.cache}/glean-flux0-async``), one folder per server version and
interpreter. It is built under a file lock and marked complete only after the server
package imports, so a half-built venv is rebuilt, never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_REQUIREMENT = "flux0-server==0.1.0b4"
MIN_VERSION = (3, 13)
PROBE_SECONDS = 30
BUILD_SECONDS = 600
COMPLETE_MARK = "flux0-venv-complete"


class Unavailable(Exception):
    """The real server cannot be had here; the message says why."""


@dataclass(frozen=True)
class Interpreter:
    """A Python found to run: its real path and version."""

    path: str
    version: tuple[int, int, int]


def probe(candidate: str) -> Interpreter | None:
    """Run ``candidate`` and read its version, or ``None`` when it does not run."""
    code = "import sys; print('%d %d %d' % sys.version_info[:3]); print(sys.executable)"
    try:
        result = subprocess.run(
            [candidate, "-c", code], capture_output=True, text=True, timeout=PROBE_SECONDS
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.split("\n")
    if result.returncode != 0 or len(lines) < 2:
        return None
    major, minor, micro = (int(part) for part in lines[0].split())
    return Interpreter(lines[1].strip() or candidate, (major, minor, micro))


def pyenv_candidates() -> list[str]:
    """pyenv's installed 3.13 interpreters, newest first."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = []
    for folder in (root / "versions").glob("3.13*"):
        match = re.fullmatch(r"3\.13\.(\d+)", folder.name)
        exe = folder / "bin" / "python3.13"
        if match and exe.is_file():
            found.append((int(match.group(1)), str(exe)))
    return [exe for _, exe in sorted(found, reverse=True)]


def find_interpreter() -> Interpreter:
    """The interpreter to build the server venv with; :class:`Unavailable` if none."""
    chosen = os.environ.get("FLUX0_SERVER_PYTHON")
    if chosen:
        return checked(probe(chosen), f"FLUX0_SERVER_PYTHON={chosen}")
    on_path = shutil.which("python3.13")
    candidates = ([on_path] if on_path else []) + pyenv_candidates()
    for candidate in candidates:
        interpreter = probe(candidate)
        if interpreter is not None:
            return checked(interpreter, candidate)
    raise Unavailable(
        "the real flux0 server needs Python >= 3.13: set FLUX0_SERVER_PYTHON, or put a "
        "working python3.13 on PATH, or install 3.13 with pyenv (none found)"
    )


def checked(interpreter: Interpreter | None, where: str) -> Interpreter:
    """``interpreter`` if it runs and is new enough, else :class:`Unavailable`."""
    if interpreter is None:
        raise Unavailable(f"{where} does not run")
    if interpreter.version[:2] < MIN_VERSION:
        version = ".".join(map(str, interpreter.version))
        raise Unavailable(f"{where} is Python {version}; the real flux0 server needs >= 3.13")
    return interpreter


def cache_root() -> Path:
    """Where server venvs are kept (outside the repository by default)."""
    override = os.environ.get("FLUX0_SERVER_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "glean-flux0-async"


def venv_folder(interpreter: Interpreter) -> Path:
    """The venv folder for this server version and interpreter."""
    version = ".".join(map(str, interpreter.version))
    digest = hashlib.sha256(interpreter.path.encode()).hexdigest()[:10]
    name = f"{SERVER_REQUIREMENT.replace('==', '-')}-py{version}-{digest}"
    return cache_root() / name


def venv_python(folder: Path) -> Path:
    """The interpreter inside a venv folder."""
    if sys.platform == "win32":
        return folder / "Scripts" / "python.exe"
    return folder / "bin" / "python"


def ensure_venv(interpreter: Interpreter) -> Path:
    """The server venv's Python, building the venv first if no complete one exists."""
    folder = venv_folder(interpreter)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder.with_name(folder.name + ".lock")):
        if not (folder / COMPLETE_MARK).is_file():
            build(interpreter, folder)
    return venv_python(folder)


def build(interpreter: Interpreter, folder: Path) -> None:
    """Create the venv afresh, install the server, check it imports, mark it complete."""
    shutil.rmtree(folder, ignore_errors=True)
    python = str(venv_python(folder))
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    steps = [
        [interpreter.path, "-m", "venv", str(folder)],
        [*pip, SERVER_REQUIREMENT],
        [python, "-c", "import flux0_server.main, uvicorn"],
    ]
    for step in steps:
        try:
            result = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_SECONDS)
        except (OSError, subprocess.SubprocessError) as exc:
            raise Unavailable(f"building the flux0 server venv failed: {exc}") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-4000:]
            raise Unavailable(f"building the flux0 server venv failed at {step}:\n{output}")
    (folder / COMPLETE_MARK).write_text(f"{SERVER_REQUIREMENT}\n{interpreter.path}\n")


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (an advisory ``flock`` where there is one)."""
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # no flock: the complete-mark still guards against reuse
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
