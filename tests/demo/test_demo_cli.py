"""``ml-connector demo`` on the command line: the README's main job."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ml_connector.interfaces.cli import main


def test_demo_command_prints_one_json_summary_and_keeps_the_files(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--workdir", str(workdir), "--month", "2025-12", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["months"] == ["2025-12"]
    assert summary["rows_rejected"] == 1
    assert summary["bookings_posted"] == summary["datev"]["ledger_bookings"] == 63
    assert summary["audit"]["verified"] is True
    for item in summary["files"]:
        path = Path(item["path"])
        assert path.is_file()
        assert path.is_relative_to(workdir)
        assert path.name.startswith("EXTF_")
    # a second demo in the same place is refused with a clear message, nothing overwritten
    again = CliRunner().invoke(main, ["demo", "--workdir", str(workdir)])
    assert again.exit_code == 1
    assert "holds an earlier demo" in again.output


def test_demo_defaults_to_a_fresh_directory_under_the_data_dir(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--month", "2025-11", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert Path(summary["workdir"]).is_relative_to(data_dir / "demo")
    assert summary["rows_rejected"] == 0
