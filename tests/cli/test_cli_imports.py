"""A command imports only what it needs: ``run`` neither the web app nor the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from ml_connector.interfaces.cli import main

#: what ``run --help`` must not import: the web stack, the sandbox, the engine and the
#: database libraries (they load when the run starts), DXSO's XML schema machinery
_NOT_FOR_RUN_HELP = (
    "ml_connector.interfaces.web",
    "fastapi",
    "starlette",
    "uvicorn",
    "ml_connector_sandbox",
    "ml_connector.interfaces.cli.serve",
    "sqlalchemy",
    "dbos",
    "xmlschema",
)

_PROBE = """
import json, sys
from ml_connector.interfaces.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_run_help_imports_neither_the_web_app_nor_the_engine() -> None:
    loaded = _modules_after("run", "--help")
    assert "ml_connector.interfaces.cli.run" in loaded
    heavy = sorted(
        m
        for m in loaded
        for prefix in _NOT_FOR_RUN_HELP
        if m == prefix or m.startswith(prefix + ".")
    )
    assert heavy == []


def test_help_lists_every_command_and_the_sandbox_ones() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in ("run", "replay", "worker", "serve", "status", "audit", "datev", "demo", "sandbox"):
        assert f"\n  {name} " in result.output


def test_an_unknown_command_is_refused() -> None:
    result = CliRunner().invoke(main, ["runn"])
    assert result.exit_code == 2
    assert "No such command 'runn'" in result.output


#: what a run of an EXTF pipeline must not import: DXSO's XML schema machinery (loaded
#: when a DXSO document is checked against DATEV's XSDs), the web stack, the sandbox, the
#: login's JOSE library and the schedules' holiday calendars
_NOT_FOR_AN_EXTF_RUN = (
    "xmlschema",
    "elementpath",
    "ml_connector.interfaces.web",
    "fastapi",
    "starlette",
    "uvicorn",
    "ml_connector_sandbox",
    "joserfc",
    "holidays",
)

_RUN_PROBE = """
import json, sys
from ml_connector.interfaces.cli import main
from ml_connector.interfaces.cli import _engine
from ml_connector.runs import launch, steps
from ml_connector.engine import runtime
from ml_connector.formats.extf import render
print(json.dumps(sorted(sys.modules)))
"""


def test_an_extf_run_imports_no_xml_schema_web_app_or_sandbox() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _RUN_PROBE], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert {"dbos", "ml_connector.engine.runtime", "ml_connector.runs.steps"} <= loaded
    heavy = sorted(
        m
        for m in loaded
        for prefix in _NOT_FOR_AN_EXTF_RUN
        if m == prefix or m.startswith(prefix + ".")
    )
    assert heavy == []
