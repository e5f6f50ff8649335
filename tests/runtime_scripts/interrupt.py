"""Ctrl-C script: the test sends SIGINT while a request, then a stream read, is waiting.

Usage: python interrupt.py BASE_URL. Prints one marker line per step.
"""

from __future__ import annotations

import signal
import sys

from toyclient import ToySyncClient

# A background job of a non-interactive shell inherits SIGINT ignored: restore Ctrl-C.
signal.signal(signal.SIGINT, signal.default_int_handler)


def say(*words: object) -> None:
    print(*words, flush=True)


def main(base_url: str) -> None:
    client = ToySyncClient(base_url)
    say("ready", client.get("/hello"))
    try:
        client.get("/slow")
        say("slow-finished")
    except KeyboardInterrupt:
        say("interrupted-request")
    stream = client.stream("/lines-slow")
    underlying = stream._stream
    try:
        with stream as events:
            for event in events:
                say("event", event)
    except KeyboardInterrupt:
        say("interrupted-stream")
    say("stream-closed", getattr(underlying, "aclose_calls", -1))
    say("after", client.get("/hello"))
    client.close()


if __name__ == "__main__":
    main(sys.argv[1])
