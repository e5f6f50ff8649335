"""Exit without closing anything: the runtime must clean up without warnings.

Usage: python -W default never_closed.py BASE_URL
"""

from __future__ import annotations

import atexit
import sys
import threading


def report_closed() -> None:
    # Registered before shared.runtime is imported, so it runs after the runtime's hook.
    print("closed at exit:", async_client.closed, flush=True)


atexit.register(report_closed)

from toyclient import ToySyncClient  # noqa: E402

client = ToySyncClient(sys.argv[1])  # never closed
print("global", client.get("/hello"), flush=True)
async_client = client.async_client()


def dropped_client() -> str:
    local = ToySyncClient(sys.argv[1])  # garbage collected right after use
    return local.get("/hello")


print("local", dropped_client(), flush=True)

worker = threading.Thread(target=lambda: print("thread", client.get("/hello"), flush=True))
worker.start()
worker.join()

stream = client.stream("/lines?n=3")  # left half read
events = iter(stream)
print("event", next(events), flush=True)
print("done", flush=True)
