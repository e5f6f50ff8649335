"""``python -m flux0_async.testing``: serve the fake flux0 server until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Sequence

from .agents import AGENT_TYPES
from .server import FakeFlux0Server


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(
        prog="python -m flux0_async.testing",
        description="Run an in-memory fake flux0 server (agent types: "
        + ", ".join(AGENT_TYPES)
        + ").",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind, 0 for any (8080)")
    parser.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between stream frames (0)"
    )
    return parser.parse_args(argv)


async def serve(host: str, port: int, chunk_delay: float) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with FakeFlux0Server(host=host, port=port, chunk_delay=chunk_delay) as server:
        print(f"Fake flux0 server running on {server.url} (Ctrl-C to stop)", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the server, exit 0 on Ctrl-C."""
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.chunk_delay))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
