"""Start and stop the real flux0 server as a child process on 127.0.0.1.

``RealFlux0Server.start(python)`` runs ``serve.py`` with the server venv's ``python`` in
a temporary folder (so no ``flux0.toml`` or ``.env`` of the caller is read, and no
``FLUX0_*`` variable of the caller reaches it), waits until ``GET /api/agents``
answers, and gives the base URL. Its output goes to ``server.log`` in that folder,
shown when it fails to start. ``stop()`` ends it by its pid: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

SERVE_SCRIPT = Path(__file__).resolve().parent / "serve.py"
START_SECONDS = 60.0
STOP_SECONDS = 5.0
POLL_SECONDS = 0.05
LOG_TAIL_CHARS = 6000
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


class StartError(Exception):
    """The server did not come up; the message holds its log."""


def child_environment() -> dict[str, str]:
    """The caller's environment without ``FLUX0_*`` (flux0's settings read them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLUX0_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)
    return env


class RealFlux0Server:
    """A running real flux0 server: ``url``, ``pid``, ``log_path``; ``stop()`` ends it."""

    def __init__(self, process: subprocess.Popen[bytes], folder: Path, port: int) -> None:
        self.process = process
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def log(self) -> str:
        """The end of the server's output so far."""
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    @classmethod
    def start(cls, python: Path, *, timeout: float = START_SECONDS) -> RealFlux0Server:
        """Start the server and wait (at most ``timeout`` s) until it answers."""
        folder = Path(tempfile.mkdtemp(prefix="flux0-real-"))
        port_file = folder / "port"
        with (folder / "server.log").open("wb") as log:
            process = subprocess.Popen(
                [str(python), str(SERVE_SCRIPT), str(port_file)],
                cwd=folder,
                env=child_environment(),
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(process, folder, 0)
        try:
            server.url = f"http://127.0.0.1:{wait_for_port(process, port_file, timeout)}"
            wait_until_answering(process, server.url, timeout)
        except StartError as exc:
            log = server.log()
            server.stop()
            raise StartError(f"{exc}\n--- server log ---\n{log}") from None
        return server

    def stop(self) -> None:
        """End the process by its pid (SIGTERM, SIGKILL after a while), keep no files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_SECONDS)
        if self.process.stdin is not None:
            self.process.stdin.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_for_port(process: subprocess.Popen[bytes], port_file: Path, timeout: float) -> int:
    """The port the server wrote once listening."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"the flux0 server exited with code {process.returncode}")
        text = port_file.read_text() if port_file.is_file() else ""
        if text.strip().isdigit():
            return int(text)
        time.sleep(POLL_SECONDS)
    raise StartError(f"the flux0 server did not listen within {timeout:g} s")


def wait_until_answering(process: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    """Return once ``GET /api/agents`` answers 200."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"the flux0 server exited with code {process.returncode}")
        try:
            with DIRECT.open(f"{url}/api/agents", timeout=5) as response:
                if response.status == 200:
                    return
                last_error = f"status {response.status}"
        except (OSError, urllib.error.URLError) as exc:
            last_error = str(exc)
        time.sleep(POLL_SECONDS)
    raise StartError(f"the flux0 server did not answer within {timeout:g} s ({last_error})")
