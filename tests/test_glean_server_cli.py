"""``python -m glean_async.testing``: serves the embedded Glean server over real HTTP until
interrupted, with the fault knobs as flags."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

import glean_async.sync
from glean_async import errors
from glean_async.testing import Faults
from glean_async.testing.__main__ import parse_args
from glean_async.utils import RetryConfig


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(*flags: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The server in a subprocess; its first line of output; stopped with SIGINT."""
    process = subprocess.Popen(
        [sys.executable, "-m", "glean_async.testing", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline(), process
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.mark.slow
def test_serves_on_the_port_until_interrupted() -> None:
    port = free_port()
    with serving("--port", str(port)) as (line, process):
        url = f"http://127.0.0.1:{port}"
        assert line == f"Embedded Glean server running on {url} (Ctrl-C to stop)\n"
        with glean_async.sync.Glean(api_token="t", server_url=url) as glean:
            glean.indexing.documents.index(
                datasource="wiki", documents=[{"datasource": "wiki", "id": "a", "title": "Hi"}]
            )
            (result,) = glean.client.search.query(query="hi").results
            assert result.document.id == "a"
    assert process.returncode == 0
    assert "Traceback" not in process.stderr.read()  # type: ignore[union-attr]


@pytest.mark.slow
def test_fault_flags_inject_faults() -> None:
    port = free_port()
    flags = ["--port", str(port), "--seed", "4", "--error-rate", "1", "--error-status", "502"]
    with serving(*flags, "--operation", "client.search.query") as (line, _):
        assert "with faults: seed=4, error_rate=1.0, error_status=502, operations=" in line
        url = f"http://127.0.0.1:{port}"
        with glean_async.sync.Glean(api_token="t", server_url=url) as glean:
            glean.indexing.documents.index(datasource="wiki", documents=[])  # not faulted
            with pytest.raises(errors.GleanError) as caught:
                glean.client.search.query(query="x", retries=RetryConfig("none"))
    assert caught.value.status_code == 502


def test_flags_become_faults() -> None:
    argv = ["--seed", "7", "--throttle-rate", "0.5", "--retry-after", "2", "--latency", "0,0.5"]
    args, faults = parse_args([*argv, "--reject-id", "a", "--reject-id", "b", "--port", "0"])
    assert faults == Faults(
        seed=7, throttle_rate=0.5, retry_after=2, latency=(0.0, 0.5), reject_ids=["a", "b"]
    )
    assert (args.port, args.host) == (0, "127.0.0.1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--error-rate", "1.5"], "--error-rate must be a number from 0 to 1"),
        (["--error-status", "404"], "--error-status must be a 5xx status"),
        (["--latency", "soon"], "not seconds or MIN,MAX seconds: 'soon'"),
        (["--latency", "0.5,0.1"], "--latency must be seconds >= 0"),
    ],
)
def test_bad_flags_are_named(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_an_unknown_operation_is_named() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "glean_async.testing", "--port", "0", "--operation", "x.y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "--operation names no operation of the spec: ['x.y']" in result.stderr
