"""The data directory is private, refused when others can write it, and one worker's."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_connector.errors import ConfigurationError
from ml_connector.interfaces.cli import main
from ml_connector.paths import ensure_data_dir, lock_data_dir


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The process starts with the common umask 022 (files 0644 by default)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_cli_writes_a_private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(home))
    out = tmp_path / "exports" / "trail.csv"
    result = CliRunner().invoke(main, ["audit", "export", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _mode(home) == 0o700
    written = [p for p in home.rglob("*") if p.is_file()] + [out]
    assert any(p.suffix == ".sqlite3" for p in written)
    assert {str(p): _mode(p) for p in written} == {str(p): 0o600 for p in written}


def test_an_open_data_dir_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    ensure_data_dir(path)
    assert _mode(path) == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_data_dir_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "data"
    path.mkdir()
    path.chmod(mode)
    with pytest.raises(ConfigurationError, match=r"written by other users.*chmod 700"):
        ensure_data_dir(path)


def test_cli_refuses_a_shared_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o777)
    monkeypatch.setenv("ML_CONNECTOR_HOME", str(home))
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: ")
    assert "chmod 700" in line
    assert "Traceback" not in result.output


def test_a_second_worker_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from ml_connector.paths import lock_data_dir;"
            "held = lock_data_dir(pathlib.Path(sys.argv[1])); print('locked', flush=True);"
            "sys.stdin.read()",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigurationError, match=rf"pid {holder.pid}\) is running"):
            lock_data_dir(tmp_path)
    finally:
        holder.communicate("")
    lock_data_dir(tmp_path).release()  # free again once the other worker ended
