"""Fork after using a sync client; the child uses it and exits normally (atexit runs).

Usage: python -W default fork_exit.py BASE_URL
"""

from __future__ import annotations

import os
import sys

from toyclient import ToySyncClient

client = ToySyncClient(sys.argv[1])
print("parent-before", client.get("/hello"), flush=True)
pid = os.fork()
if pid == 0:
    print("child", client.get("/hello"), flush=True)
    sys.exit(0)
_, status = os.waitpid(pid, 0)
print("child-status", os.waitstatus_to_exitcode(status), flush=True)
print("parent-after", client.get("/hello"), flush=True)
