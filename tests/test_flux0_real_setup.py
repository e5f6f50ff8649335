"""How the real flux0 server's interpreter and venv are found, and when its tests skip."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.flux0_real import plugin, process, venv

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="shell-script interpreters")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("FLUX0_SERVER_PYTHON", "FLUX0_REAL_SERVER", "FLUX0_SERVER_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))


def script(path: Path, body: str) -> Path:
    """An executable shell script standing in for an interpreter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def this_python(path: Path) -> Path:
    """A stand-in that runs the tests' own interpreter (older than 3.13 or not)."""
    return script(path, f'exec "{sys.executable}" "$@"')


def test_an_interpreter_that_does_not_run_is_named_in_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUX0_SERVER_PYTHON", str(tmp_path / "missing" / "python"))
    with pytest.raises(venv.Unavailable, match=r"FLUX0_SERVER_PYTHON=.*does not run"):
        venv.find_interpreter()


@posix_only
@pytest.mark.skipif(sys.version_info >= (3, 13), reason="needs an interpreter older than 3.13")
def test_path_python_that_fails_is_passed_over_for_pyenv_and_the_version_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(tmp_path / "bin" / "python3.13", "exit 1")
    older = this_python(tmp_path / "pyenv" / "versions" / "3.13.7" / "bin" / "python3.13")
    this_python(tmp_path / "pyenv" / "versions" / "3.13.2" / "bin" / "python3.13")
    with pytest.raises(venv.Unavailable, match=r"3\.13\.7.* is Python 3\.\d+\.\d+; .* >= 3\.13"):
        venv.find_interpreter()
    monkeypatch.setenv("FLUX0_SERVER_PYTHON", str(older))  # the variable wins over the search
    with pytest.raises(venv.Unavailable, match="FLUX0_SERVER_PYTHON="):
        venv.find_interpreter()


def test_no_interpreter_at_all_says_how_to_get_one() -> None:
    with pytest.raises(venv.Unavailable, match="FLUX0_SERVER_PYTHON"):
        venv.find_interpreter()


@posix_only
def test_the_probe_reads_version_and_real_path(tmp_path: Path) -> None:
    found = venv.probe(str(this_python(tmp_path / "bin" / "python3.13")))
    assert found is not None
    assert found.version[:2] == sys.version_info[:2]
    assert Path(found.path).resolve() == Path(sys.executable).resolve()


def test_a_venv_is_reused_only_when_marked_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUX0_SERVER_CACHE", str(tmp_path / "cache"))
    interpreter = venv.Interpreter("/opt/python3.13", (3, 13, 1))
    builds: list[Path] = []

    def fake_build(_: venv.Interpreter, folder: Path) -> None:
        builds.append(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / venv.COMPLETE_MARK).write_text("done")

    monkeypatch.setattr(venv, "build", fake_build)
    folder = venv.venv_folder(interpreter)
    (folder / "bin").mkdir(parents=True)  # a half-built venv from an interrupted run
    python = venv.ensure_venv(interpreter)
    assert venv.ensure_venv(interpreter) == python == venv.venv_python(folder)
    assert builds == [folder]
    assert folder.parent == tmp_path / "cache" and "0.1.0b4-py3.13.1" in folder.name


def test_the_cache_defaults_to_the_user_cache_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert venv.cache_root() == Path("/somewhere/cache/glean-flux0-async")


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("", pytest.skip.Exception), ("required", pytest.fail.Exception)],
)
def test_an_unavailable_server_skips_unless_required(
    mode: str, outcome: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugin.MODE_VARIABLE, mode)
    with pytest.raises(outcome, match=r"real flux0 server unavailable: no 3\.13"):
        plugin.unavailable("no 3.13")


@posix_only
def test_a_server_that_exits_at_start_fails_with_its_output(tmp_path: Path) -> None:
    python = script(tmp_path / "python", 'echo "boom: cannot import flux0_server" >&2; exit 3')
    with pytest.raises(process.StartError, match=r"(?s)exited with code 3.*boom: cannot import"):
        process.RealFlux0Server.start(python, timeout=10)
