"""docs/onboarding.md works as written: its shell blocks, run in order, post a batch.

The blocks run in one bash process in an empty directory, with this interpreter's
``ml-connector`` on the PATH (the install block is skipped) and the emulators on free
ports instead of the documented 19999 and 8766, so parallel runs do not collide.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "onboarding.md"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _script(looker_port: int, datev_port: int) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", PAGE.read_text("utf-8"), re.S)
    steps = [block for block in blocks if "pip install" not in block]
    text = "\n".join(steps)
    text = text.replace(":19999", f":{looker_port}").replace(":8766", f":{datev_port}")
    text = text.replace("sandbox looker ", f"sandbox looker --port {looker_port} ")
    text = text.replace("sandbox datev ", f"sandbox datev --port {datev_port} ")
    # stop the emulators however the script ends
    return "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n" + text


def test_the_onboarding_page_posts_a_batch_as_written(tmp_path: Path) -> None:
    looker_port, datev_port = _free_port(), _free_port()
    script = _script(looker_port, datev_port)
    assert "ml-connector run sales --period 2026-11\n" in script
    bin_dir = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ML_CONNECTOR_") and k not in {"BROWSER", "DISPLAY"}
    }
    env |= {"PATH": bin_dir + os.pathsep + env.get("PATH", ""), "COLUMNS": "200"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "all checks passed" in output
    assert "run run:sales:2026-11: succeeded" in output
    ledger = json.loads(
        next(line for line in done.stdout.splitlines() if line.startswith('{"transfers"'))
    )
    assert ledger["total_bookings"] == 5
    assert {b["contra_account"] for b in ledger["bookings"]} == {"8400", "8338"}
    assert ": OK" in output  # audit verify


def test_the_readme_walk_through_is_the_pages() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Your own data, on the emulators", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```sh\n(.*?)```", section, re.S)
    assert commands is not None
    page_lines = set(PAGE.read_text("utf-8").splitlines())
    for line in commands.group(1).splitlines():
        if not line.startswith("#"):
            assert line in page_lines, line
