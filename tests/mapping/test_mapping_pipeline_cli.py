"""The streamed run on the demo data, and the commands mapping check / preview / run --dry-run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from mapping_support import stream_run, totals_of

from ml_connector.config import LoadedConfig, load_config
from ml_connector.examples import demo_config_path
from ml_connector.formats.extf.validate import validate_file
from ml_connector.interfaces.cli import main
from ml_connector.mapping.mapper import RejectReason
from ml_connector.mapping.rows import read_rows, write_rows
from ml_connector_sandbox.demo.setup import write_demo_config

DEMO = str(demo_config_path())


def test_december_holds_the_unmapped_account_and_still_ties_out(
    demo_config: LoadedConfig, demo_rows: list[dict[str, object]], tmp_path: Path
) -> None:
    run = stream_run(
        demo_config, "gl-monthly", "2025-12", demo_rows, totals=totals_of(demo_rows), out=tmp_path
    )
    assert run.facts.ready, run.facts.blockers
    (held,) = run.facts.rejection_examples
    assert held.reason is RejectReason.UNMAPPED_ACCOUNT
    assert held.row_key == "2025-12|ZD|OPS-399|CGN-BO"
    assert [r["_reason"] for r in read_rows(tmp_path / "held.jsonl")] == ["unmapped_account"]
    assert len(run.batch) == run.facts.rows_mapped == 63
    assert run.facts.header.datum_vom.isoformat() == "2025-12-01"
    assert run.facts.header.wj_beginn.isoformat() == "2025-01-01"
    report = run.facts.report()
    assert report["rows"] == {
        "extracted": 1549,
        "other_periods": 1485,
        "mapped": 63,
        "rejected": 1,
        "held": 1,
    }
    json.dumps(report)


def test_awkward_demo_rows_map(
    demo_config: LoadedConfig, demo_rows: list[dict[str, object]]
) -> None:
    march = stream_run(demo_config, "gl-monthly", "2026-03", demo_rows, totals=totals_of(demo_rows))
    assert march.lines_of("2026-03|ZD|OPS-310|-")[0].kost1 is None  # no cost center
    (nfd,) = [t.row_key for t in march.traces if "OPS-340" in t.row_key]
    text = march.lines_of(nfd)[0].buchungstext
    assert text is not None
    assert text.startswith("Bankgebühren")  # NFC
    june = stream_run(demo_config, "gl-monthly", "2025-06", demo_rows, totals=totals_of(demo_rows))
    (credit,) = june.lines_of("2025-06|IT|OPS-320|MUC-IT|GS")
    assert (credit.umsatz, credit.soll_haben, credit.gegenkonto) == (Decimal("1250.00"), "S", 4964)


def test_reject_batch_policy_blocks_the_whole_batch(
    demo_config: LoadedConfig, demo_rows: list[dict[str, object]]
) -> None:
    spec = demo_config.pipeline("gl-monthly")
    strict = demo_config.model.model_copy(
        update={
            "pipelines": {"gl-monthly": spec.model_copy(update={"reject_policy": "reject_batch"})}
        }
    )
    config = LoadedConfig(demo_config.path, strict, demo_config.lookups, demo_config.mappings)
    run = stream_run(config, "gl-monthly", "2025-12", demo_rows, totals=totals_of(demo_rows))
    assert not run.facts.ready
    assert run.batch == ()
    assert "reject_batch" in run.facts.blockers[0]


def test_missing_totals_block_a_pipeline_that_configures_them(
    demo_config: LoadedConfig, demo_rows: list[dict[str, object]]
) -> None:
    run = stream_run(demo_config, "gl-monthly", "2026-10", demo_rows)
    assert not run.facts.ready
    assert "tie_out.totals" in run.facts.blockers[0]


@pytest.fixture(scope="module")
def rows_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from mapping_support import load_demo_rows

    rows = load_demo_rows()
    directory = tmp_path_factory.mktemp("rows")
    with (directory / "rows.jsonl").open("w", encoding="utf-8") as handle:
        write_rows(rows, handle)
    with (directory / "totals.jsonl").open("w", encoding="utf-8") as handle:
        write_rows(totals_of(rows), handle)
    return directory / "rows.jsonl", directory / "totals.jsonl"


def test_rows_file_round_trips_exact_types(rows_files: tuple[Path, Path]) -> None:
    from mapping_support import load_demo_rows

    assert read_rows(rows_files[0]) == load_demo_rows()


def test_mapping_check_on_the_demo() -> None:
    result = CliRunner().invoke(main, ["mapping", "check", "--config", DEMO])
    assert result.exit_code == 0, result.output
    assert "every lookup target is plausible" in result.output


def test_mapping_check_flags_an_implausible_account(tmp_path: Path) -> None:
    source = demo_config_path().parent
    for name in ("cost_centers.csv", "ml-connector.toml"):
        (tmp_path / name).write_text((source / name).read_text(encoding="utf-8"), encoding="utf-8")
    accounts = (source / "accounts.csv").read_text(encoding="utf-8").replace("4120", "412000")
    (tmp_path / "accounts.csv").write_text(accounts, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["mapping", "check", "--config", str(tmp_path / "ml-connector.toml")]
    )
    assert result.exit_code == 1
    assert "412000" in result.output
    assert "PER-200" in result.output


def test_mapping_check_reports_config_errors_with_key_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "ml-connector.toml"
    bad.write_text(
        demo_config_path()
        .read_text(encoding="utf-8")
        .replace("look_id = 1", "look_id = 1\nlookid = 2"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["mapping", "check", "--config", str(bad)])
    assert result.exit_code == 1
    assert "pipelines.gl-monthly.source.lookid" in result.output
    assert "fix:" in result.output


def test_mapping_preview_highlights_rejects(rows_files: tuple[Path, Path]) -> None:
    args = [
        "mapping",
        "preview",
        "gl-monthly",
        "-n",
        "64",
        "--period",
        "2025-12",
        "--rows",
        str(rows_files[0]),
    ]
    result = CliRunner(env={"COLUMNS": "220"}).invoke(main, [*args, "--config", DEMO])
    assert result.exit_code == 0, result.output
    assert "REJECTED: unmapped_account" in result.output
    assert "63 mapped, 1 rejected" in result.output
    assert "Gegenkonto" in result.output


def test_run_dry_run_writes_a_valid_file_and_a_report(
    rows_files: tuple[Path, Path], tmp_path: Path
) -> None:
    rows, totals = rows_files
    out = tmp_path / "out"
    args = ["run", "gl-monthly", "--period", "2025-12", "--dry-run", "--config", DEMO]
    result = CliRunner().invoke(
        main, [*args, "--rows", str(rows), "--totals", str(totals), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    (extf,) = out.glob("EXTF_*.csv")
    assert validate_file(extf).valid
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["ready"] is True
    assert report["tie_out"]["ok"] is True
    assert report["files"][0]["bookings"] == 63
    assert "READY" in (out / "report.txt").read_text(encoding="utf-8")
    (held,) = read_rows(out / "held.jsonl")
    assert held["_reason"] == "unmapped_account"


def test_run_dry_run_stops_when_the_tie_out_fails(
    rows_files: tuple[Path, Path], tmp_path: Path
) -> None:
    rows, totals = rows_files
    changed = [dict(t) for t in read_rows(totals)]
    changed[0]["gl_monthly.total_amount_eur"] = (
        Decimal(str(changed[0]["gl_monthly.total_amount_eur"])) + 1
    )
    bad_totals = tmp_path / "totals.jsonl"
    with bad_totals.open("w", encoding="utf-8") as handle:
        write_rows(changed, handle)
    out = tmp_path / "out"
    period = str(changed[0]["gl_monthly.period_month"])
    args = [
        "run",
        "gl-monthly",
        "--period",
        period,
        "--dry-run",
        "--config",
        DEMO,
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, [*args, "--rows", str(rows), "--totals", str(bad_totals)])
    assert result.exit_code == 1
    assert "tie-out: FAILED" in result.output
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert f"gl-monthly {period} is blocked: the tie-out failed" in error
    assert str(out / "report.txt") in error
    assert not list(out.glob("EXTF_*.csv"))
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["ready"] is False


def test_a_broken_rows_file_is_one_clear_error(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"gl_monthly.line_id": "a"}\n{not json\n', encoding="utf-8")
    args = ["run", "gl-monthly", "--period", "2025-12", "--dry-run", "--config", DEMO]
    result = CliRunner().invoke(main, [*args, "--rows", str(rows), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{rows}, line 2" in result.output
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def looker_emulator() -> Iterator[str]:
    from ml_connector_sandbox.emulators._server import serve_in_thread
    from ml_connector_sandbox.emulators.looker import create_app

    handle = serve_in_thread(create_app())
    try:
        yield handle.url
    finally:
        handle.stop()


def test_run_dry_run_against_the_looker_emulator(looker_emulator: str, tmp_path: Path) -> None:
    from ml_connector_sandbox.emulators.looker import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    env = {
        "ML_CONNECTOR_LOOKER_CLIENT_ID": DEFAULT_CLIENT_ID,
        "ML_CONNECTOR_LOOKER_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }
    out = tmp_path / "out"
    args = ["run", "gl-monthly", "--period", "2024-12", "--dry-run", "--out", str(out)]
    override = ["--looker-url", looker_emulator]
    refused = CliRunner(env=env).invoke(main, [*args, "--config", DEMO, *override])
    assert refused.exit_code == 1  # the bundled customer is not an emulator customer
    assert "emulator = true under [customers.meridian]" in refused.output
    assert not out.exists()
    config = write_demo_config(
        tmp_path / "cfg", "https://meridian.cloud.looker.com", credential="env:ML_CONNECTOR_LOOKER"
    )
    result = CliRunner(env=env).invoke(main, [*args, "--config", str(config), *override])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["rows"]["extracted"] == 64  # Looker filtered the period
    assert report["tie_out"]["totals_checked"] is True
    assert report["rejections"][0]["row_key"] == "2024-12|ZD|OPS-399|CGN-BO"


def test_missing_looker_credentials_say_what_to_export(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ML_CONNECTOR_LOOKER_CLIENT_ID", "ML_CONNECTOR_LOOKER_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    args = ["mapping", "preview", "gl-monthly", "--period", "2025-12", "--config", DEMO]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "ML_CONNECTOR_LOOKER_CLIENT_ID" in result.output


def test_partitioned_extract_from_the_emulator(looker_emulator: str, tmp_path: Path) -> None:
    import asyncio

    from pydantic import SecretStr

    from ml_connector.config.models import Source
    from ml_connector.mapping.period import Period
    from ml_connector.runs.extract import LookerCredentials, fetch_source
    from ml_connector_sandbox.emulators.looker import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    config = load_config(demo_config_path())
    source = Source(
        look_id="1",
        period_field="gl_monthly.period_month",
        partition_by=["gl_monthly.gl_account_number"],
        count_measure="gl_monthly.row_count",
    )
    creds = LookerCredentials(DEFAULT_CLIENT_ID, SecretStr(DEFAULT_CLIENT_SECRET))
    connection = config.customer_of("gl-monthly").looker
    rows = asyncio.run(
        fetch_source(
            connection, source, Period(2025, 6), base_url=looker_emulator, credentials=creds
        )
    )
    assert len(rows) == 64
    assert len({r["gl_monthly.line_id"] for r in rows}) == 64
