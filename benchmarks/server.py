"""The benchmark's servers: nginx (or the uvloop stand-in) for throughput, uvloop for latency.

:class:`Servers` writes the canned bodies to a temporary folder and starts, pinned to
``cpu`` where the OS allows it:

* ``url``: nginx (``worker_processes 1``, no access log, unlimited keep-alive) when the
  ``nginx`` binary is found, else :mod:`benchmarks.pyserver`;
* ``slow_url``: :mod:`benchmarks.pyserver` with a delay between a stream's first
  event and the rest, for the time-to-first-event workload.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from benchmarks import payloads

FIRST_EVENT_DELAY_MS = 100

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    sendfile on;
    tcp_nodelay on;
    server_tokens off;
    types {{ application/json json; text/plain ndjson; text/event-stream sse; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /api/index/v1/indexdocuments {{
            default_type application/json;
            return 200 '{{}}';
        }}
        location = /rest/api/v1/search {{ error_page 405 =200 /files/search.json; return 405; }}
        location = /rest/api/v1/chat {{ error_page 405 =200 /files/chat.ndjson; return 405; }}
        location = /rest/api/v1/agents/runs/stream {{
            error_page 405 =200 /files/agent.sse;
            return 405;
        }}
        location /files/ {{ internal; alias {dir}/files/; }}
    }}
}}
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pin_to(cpu: int | None) -> None:
    """Pin the calling process to ``cpu`` (no-op where unsupported or ``None``)."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def write_files(folder: Path) -> None:
    """Write the canned response bodies into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "search.json").write_bytes(payloads.search_body())
    (folder / "chat.ndjson").write_bytes(payloads.chat_ndjson())
    (folder / "agent.sse").write_bytes(payloads.agent_sse())


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Wait until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on port {port}")


def nginx_version(binary: str) -> str:
    """``nginx/1.22.1`` (nginx prints its version on stderr)."""
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().rpartition(" ")[2]


class Servers:
    """The throughput server at :attr:`url` and the delayed-stream server at :attr:`slow_url`."""

    def __init__(self, cpu: int | None, use_nginx: bool = True) -> None:
        self.cpu = cpu
        self.nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
        )
        if not use_nginx:
            self.nginx = None
        self.processes: list[subprocess.Popen[bytes]] = []
        self.url = ""
        self.slow_url = ""
        self.kind = ""
        self._dir = Path(tempfile.mkdtemp(prefix="glean-bench-"))

    def __enter__(self) -> Servers:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Write the bodies and start both servers."""
        files = self._dir / "files"
        write_files(files)
        if self.nginx:
            port = self._start_nginx()
            self.kind = nginx_version(self.nginx) + " (1 worker)"
        else:
            port = self._start_pyserver(0)
            self.kind = "benchmarks.pyserver on uvloop (nginx not found)"
        self.url = f"http://127.0.0.1:{port}"
        self.slow_url = f"http://127.0.0.1:{self._start_pyserver(FIRST_EVENT_DELAY_MS)}"

    def _spawn(self, argv: list[str], port: int) -> None:
        cpu = self.cpu
        with open(self._dir / "server.err", "ab") as errors:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                preexec_fn=(lambda: pin_to(cpu)),
            )
        self.processes.append(process)
        wait_for_port(port, process)

    def _start_nginx(self) -> int:
        assert self.nginx is not None
        port = free_port()
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self._dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        conf = self._dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self._dir, port=port))
        argv = [self.nginx, "-p", str(self._dir), "-c", str(conf), "-e", str(self._dir / "e.log")]
        self._spawn(argv, port)
        return port

    def _start_pyserver(self, delay_ms: int) -> int:
        port = free_port()
        argv = [sys.executable, "-m", "benchmarks.pyserver", "--port", str(port)]
        argv += ["--files", str(self._dir / "files"), "--delay-ms", str(delay_ms)]
        self._spawn(argv, port)
        return port

    def stop(self) -> None:
        """Stop the servers this object started and remove the temporary folder."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        shutil.rmtree(self._dir, ignore_errors=True)
