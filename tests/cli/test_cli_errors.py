"""Mistakes on the command line are one ``Error:`` line naming the input and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ml_connector.interfaces.cli import main


def one_line_error(result: Result, *needles: str) -> str:
    """The single ``Error:`` line of a command that exited 1 without a traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], result.output
    return lines[0]


@pytest.mark.parametrize("period", ["Oct-2026", "2026-13", "2026-1", ""])
@pytest.mark.parametrize("mode", [[], ["--queue"], ["--dry-run"]])
def test_run_refuses_a_malformed_period_before_anything_else(
    period: str, mode: list[str], data_dir: Path
) -> None:
    result = CliRunner().invoke(main, ["run", "gl", "--period", period, *mode])
    one_line_error(result, "--period", repr(period), "YYYY-MM")
    assert not list(data_dir.iterdir()), "nothing is opened for a malformed period"


def test_preview_refuses_a_malformed_period(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["mapping", "preview", "gl", "--period", "10/2026"])
    one_line_error(result, "--period", "'10/2026'", "YYYY-MM")


def test_audit_export_keeps_an_existing_file_unless_forced(data_dir: Path) -> None:
    out = data_dir / "trail.csv"
    out.write_text("the advisor's earlier export\n", encoding="utf-8")
    runner = CliRunner()
    for fmt in ("csv", "json"):
        result = runner.invoke(main, ["audit", "export", "--format", fmt, "--out", str(out)])
        one_line_error(result, str(out), "--force")
        assert out.read_text(encoding="utf-8") == "the advisor's earlier export\n"
    forced = runner.invoke(main, ["audit", "export", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert out.read_text(encoding="utf-8").startswith("run_id,")


def test_replay_help_states_what_a_replay_guarantees() -> None:
    text = " ".join(CliRunner().invoke(main, ["replay", "--help"]).output.split())
    assert "digest of client, period, part, pipeline and its booking lines" in text
    assert "No booking is posted twice" in text
    assert "Rows changed in Looker since are then posted as corrections" in text
    assert "--allow-empty" in text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a URL"),
        ("mysql://u@db.example/x", "'mysql' databases are not supported"),
        ("postgresql+psycopg2://u@127.0.0.1/x", "driver 'psycopg2' is not installed"),
        ("postgresql://u:pw@127.0.0.1:1/x", "cannot open the database postgresql://u:***@127.0"),
        ("sqlite:////nonexistent-dir/x.sqlite3", "cannot open the database sqlite:////nonex"),
    ],
)
def test_a_bad_store_url_is_one_line(url: str, message: str, data_dir: Path) -> None:
    for command in (["audit", "verify"], ["status"], ["credentials", "list", "acme"]):
        result = CliRunner().invoke(main, [*command, "--store-url", url])
        line = one_line_error(result, message, "fix:")
        assert ":pw@" not in line, "the password is never shown"


@pytest.mark.parametrize("queue", [[], ["--queue"]])
def test_a_bad_system_database_url_is_one_line(queue: list[str], data_dir: Path) -> None:
    from ml_connector.examples import demo_config_path

    config = ["--config", str(demo_config_path())]
    url = ["--system-db-url", "oracle://u:pw@db.example/x"]
    result = CliRunner().invoke(
        main, ["run", "gl-monthly", "--period", "2026-10", *config, *url, *queue]
    )
    one_line_error(result, "'oracle' databases are not supported", "fix:")


def test_an_unexpected_error_is_one_line_and_the_traceback_is_at_debug(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    import ml_connector.store.open as store_open

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(store_open, "open_store", broken)
    result = CliRunner().invoke(main, ["audit", "verify"])
    line = one_line_error(result, "unexpected KeyError", "--log-level DEBUG")
    assert "boom" in line
    debug = CliRunner().invoke(main, ["--log-level", "DEBUG", "audit", "verify"])
    assert debug.exit_code == 1
    assert "Traceback" in debug.output
