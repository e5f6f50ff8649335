"""The bulk benchmark's server: the embedded Glean server in a process of its own.

``python -m benchmarks.bulkserver`` serves :class:`glean_async.testing.FakeGleanServer`
with ``validate=False`` (no spec validation: the server's cost is its HTTP, JSON and
bookkeeping) on a free port of 127.0.0.1, on uvloop when it is installed. It prints
``{"url": ...}`` once it listens and, when sent SIGTERM, a last line with what it holds
(``{"documents": {datasource: count}, "uploads": n}``) before it exits.

:class:`BulkServer` runs it for one cell, pinned to a CPU, and keeps its pid so the cell
can read the server's CPU time around the measured upload.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.bulkdocs import DATASOURCE

ROOT = Path(__file__).resolve().parents[1]


def holdings(server: Any) -> dict[str, Any]:
    """What the server stores: documents per datasource (ours and the warm-up's), uploads."""
    counts = {}
    for datasource in (DATASOURCE, f"{DATASOURCE}warm"):
        counts[datasource] = len(server.documents(datasource))
    return {"documents": counts, "uploads": len(server.uploads)}


async def serve() -> None:
    from glean_async.testing import FakeGleanServer

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with FakeGleanServer(validate=False) as server:
        print(json.dumps({"url": server.url}), flush=True)
        await stop.wait()
        print(json.dumps(holdings(server)), flush=True)


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


class BulkServer:
    """``python -m benchmarks.bulkserver`` for the time of a ``with`` block, pinned to ``cpu``."""

    def __init__(self, cpu: int | None, env: dict[str, str]) -> None:
        self.cpu = cpu
        self.env = env
        self.url = ""
        self.pid = 0
        self.holdings: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> BulkServer:
        from benchmarks.server import pin_to

        cpu = self.cpu
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bulkserver"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: pin_to(cpu),
        )
        self._process = process
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=10)
            raise RuntimeError(f"the bulk server exited with {process.returncode}")
        self.url = json.loads(line)["url"]
        self.pid = process.pid
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            rest, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
        lines = [line for line in (rest or "").splitlines() if line.startswith("{")]
        if lines:
            self.holdings = json.loads(lines[-1])


if __name__ == "__main__":
    main()
