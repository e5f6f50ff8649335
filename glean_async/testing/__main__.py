"""``python -m glean_async.testing``: serve the embedded Glean server until Ctrl-C.

    python -m glean_async.testing --port 8080 --seed 7 --error-rate 0.1 --latency 0,0.05

Prints the URL it serves on; the fault flags set :class:`~glean_async.testing.Faults`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import Sequence

import attrs

from .faults import Faults
from .server import FakeGleanServer

RATE_FLAGS = {
    "--error-rate": "answer --error-status (503) without touching the state",
    "--throttle-rate": "answer 429 with Retry-After: --retry-after",
    "--drop-rate": "close the connection without any response",
    "--truncate-rate": "stop streamed answers midway",
    "--error-after-store-rate": "apply the request, then answer --error-status",
}


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Faults]:
    """The command line options and the fault knobs they set (errors name the flag)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [flag[2:].replace("-", "_") for flag in RATE_FLAGS]
    knobs = {name: getattr(args, name) for name in names}
    try:
        faults = Faults(
            seed=args.seed,
            error_status=args.error_status,
            retry_after=args.retry_after,
            latency=args.latency,
            reject_ids=args.reject_id,
            operations=args.operation or None,
            **knobs,
        )
    except ValueError as error:
        parser.error(flag_message(error))
    return args, faults


def flag_message(error: Exception) -> str:
    """A Faults error naming the command line flag instead of the field."""
    singular = {"operations": "operation", "reject_ids": "reject_id"}

    def flag(match: re.Match[str]) -> str:
        return "--" + singular.get(match[1], match[1]).replace("_", "-")

    return re.sub(r"Faults\.(\w+)", flag, str(error))


def summary(faults: Faults) -> str:
    """The knobs that differ from their defaults, as ``name=value``."""
    default = Faults()
    changed = [
        f"{field.name}={getattr(faults, field.name)!r}"
        for field in attrs.fields(Faults)
        if getattr(faults, field.name) != getattr(default, field.name)
    ]
    return ", ".join(changed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m glean_async.testing",
        description="Run the embedded Glean server (in memory, validating every request "
        "against the Glean spec), with optional seeded faults.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind, 0 for any (8080)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault decisions (0)")
    for flag, text in RATE_FLAGS.items():
        parser.add_argument(flag, type=float, default=0.0, help=f"share of requests to {text}")
    parser.add_argument("--error-status", type=int, default=503, help="5xx status of errors")
    parser.add_argument(
        "--retry-after", type=int, default=0, help="Retry-After seconds of a 429 (0)"
    )
    parser.add_argument(
        "--latency",
        type=latency,
        default=0.0,
        help="seconds added before answering, or a MIN,MAX range (0)",
    )
    parser.add_argument(
        "--reject-id", action="append", default=[], help="an item id to refuse (repeatable)"
    )
    parser.add_argument(
        "--operation",
        action="append",
        default=[],
        help="an operation the rates apply to, e.g. indexing.documents.bulk_index "
        "(repeatable; default: all)",
    )
    parser.add_argument(
        "--no-validate", action="store_true", help="skip request validation (benchmarks)"
    )
    return parser


def latency(text: str) -> float | tuple[float, float]:
    """``0.05`` or ``0,0.05``."""
    try:
        parts = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not seconds or MIN,MAX seconds: {text!r}") from None
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError(f"not seconds or MIN,MAX seconds: {text!r}")


async def serve(args: argparse.Namespace, faults: Faults) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    server = FakeGleanServer(host=args.host, port=args.port, validate=not args.no_validate)
    server.faults = faults
    async with server:
        knobs = f" with faults: {summary(faults)}" if faults.active else ""
        print(f"Embedded Glean server running on {server.url}{knobs} (Ctrl-C to stop)", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the server, exit 0 on Ctrl-C."""
    args, faults = parse_args(argv)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args, faults))
    except ValueError as error:  # e.g. an --operation the spec does not have
        print(f"python -m glean_async.testing: error: {flag_message(error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
