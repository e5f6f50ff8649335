"""Run the real flux0 server on 127.0.0.1 (run by the server venv's Python >= 3.13).

    <venv>/bin/python serve.py PORT_FILE

It builds the app the way ``flux0_server.main`` does (``setup_app``: in-memory nanodb
storage, the modules of the settings) with the agents of ``server_agents`` loaded as a
flux0 module, but binds a socket of its own on 127.0.0.1 (any free port) where
``serve_app`` would bind every interface on a fixed port. The port is written to
PORT_FILE once the server accepts connections. The server stops on SIGTERM/SIGINT, and
when its standard input closes (the test process that started it has gone away).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
from pathlib import Path

AGENTS_MODULE = "server_agents"
LOOPBACK = "127.0.0.1"


def bind_loopback() -> socket.socket:
    """A TCP socket bound to a free port of 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.set_inheritable(True)
    return sock


def stop_when_stdin_closes() -> None:
    """Send ourselves SIGTERM once standard input reaches end of file."""

    def watch() -> None:
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


async def serve(port_file: Path) -> None:
    import uvicorn
    from flux0_server import main
    from flux0_server.settings import Settings

    settings = Settings(db_uri="nanodb://memory", modules=[AGENTS_MODULE])
    sock = bind_loopback()
    async with main.setup_app(settings) as app:
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        if server.started:
            port_file.write_text(str(sock.getsockname()[1]), encoding="utf-8")
        await serving
        await main.BACKGROUND_TASK_SERVICE.cancel_all(reason="Server shutting down")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    stop_when_stdin_closes()
    asyncio.run(serve(Path(sys.argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
