"""``ml-connector extf validate|render`` and the interim ``ml-connector demo``."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from extf_helpers import MUSTER, valid_file

from ml_connector.formats.extf.reader import read_file
from ml_connector.formats.extf.samples import sample_header, sample_lines, sample_rows
from ml_connector.formats.extf.writer import render_bytes
from ml_connector.interfaces.cli import main


def test_validate_exit_codes_and_report(tmp_path: Path) -> None:
    good = tmp_path / "EXTF_good.csv"
    good.write_bytes(valid_file())
    runner = CliRunner()
    ok = runner.invoke(main, ["extf", "validate", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "valid (21 bookings)" in ok.output
    bad = runner.invoke(main, ["extf", "validate", str(good), str(MUSTER)])
    assert bad.exit_code == 1
    assert "line 5, column 1 'Umsatz (ohne Soll/Haben-Kz)'" in bad.output
    assert "fix:" in bad.output


def test_validate_json_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["extf", "validate", "--json", "--no-filename-check", str(MUSTER)]
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    problems = report["files"][0]["problems"]
    assert {"rule": "row.value", "line": 5, "column": 1} in [
        {k: p[k] for k in ("rule", "line", "column")} for p in problems
    ]


def test_validate_checks_expected_client_id(tmp_path: Path) -> None:
    good = tmp_path / "EXTF_good.csv"
    good.write_bytes(valid_file())
    result = CliRunner().invoke(main, ["extf", "validate", "--client-id", "29098-1", str(good)])
    assert result.exit_code == 1
    assert "column 12 'Mandantennummer'" in result.output


def test_render_from_jsonl(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample_rows()), "utf-8"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "extf",
            "render",
            str(rows),
            "--out",
            str(out),
            "--client-id",
            "29098-55003",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--created-at",
            "2024-04-02T09:30:00",
        ],
    )
    assert result.exit_code == 0, result.output
    paths = [Path(p) for p in result.output.split()]
    assert len(paths) == 1
    assert paths[0].parent == out
    assert read_file(paths[0]).lines == sample_lines()


def test_render_from_csv_with_derived_period(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    headings = sorted({key for row in sample_rows() for key in row})
    with rows.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=headings, delimiter=";")
        writer.writeheader()
        writer.writerows(sample_rows())
    result = CliRunner().invoke(
        main,
        [
            "extf",
            "render",
            str(rows),
            "--out",
            str(tmp_path / "o"),
            "--client-id",
            "29098-55003",
            "--encoding",
            "cp1252",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    parsed = read_file(written[0]["path"])
    assert parsed.header.datum_vom.isoformat() == "2024-03-01"
    assert parsed.header.datum_bis.isoformat() == "2024-03-29"
    assert parsed.encoding == "cp1252"
    assert parsed.lines == sample_lines()


def test_render_reports_bad_row_with_location(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    bad = dict(sample_rows()[0], **{"Belegfeld 1": "RE 1"})
    rows.write_text(json.dumps(sample_rows()[1]) + "\n" + json.dumps(bad) + "\n", "utf-8")
    result = CliRunner().invoke(
        main,
        ["extf", "render", str(rows), "--out", str(tmp_path / "o"), "--client-id", "29098-55003"],
    )
    assert result.exit_code == 1
    assert "column 11 'Belegfeld 1'" in result.output
    assert not any((tmp_path / "o").glob("EXTF_*"))


def test_render_refuses_a_rows_file_that_is_not_utf8(tmp_path: Path) -> None:
    good = json.dumps(sample_rows()[0], ensure_ascii=False).encode("utf-8")
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_bytes(good + b"\n" + good.replace(b'"', b'"\xe4', 1) + b"\n")
    csv_file = tmp_path / "rows.csv"
    csv_file.write_bytes(b"Umsatz;Konto\n" + b"1,00;\xe4\n")
    for rows, where in ((jsonl, "line 2: not UTF-8"), (csv_file, "rows.csv: not UTF-8")):
        result = CliRunner().invoke(
            main,
            ["extf", "render", str(rows), "--out", str(tmp_path / "o"), "--client-id", "1001-1"],
        )
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        [line] = [x for x in result.output.splitlines() if x.startswith("Error: ")]
        assert where in line
        assert "save the rows file as UTF-8" in line
        assert not any((tmp_path / "o").glob("EXTF_*"))


def test_validate_takes_the_standard_automatic_accounts_of_a_chart(tmp_path: Path) -> None:
    lines = [replace(sample_lines()[0], gegenkonto=8921, bu_schluessel="9")]
    path = tmp_path / "EXTF_am.csv"
    path.write_bytes(render_bytes(sample_header(), lines))
    runner = CliRunner()
    assert runner.invoke(main, ["extf", "validate", str(path)]).exit_code == 0
    result = runner.invoke(main, ["extf", "validate", "--automatic-accounts", "SKR03", str(path)])
    assert result.exit_code == 1
    assert "tax key on automatic account 8921" in result.output
    bad = runner.invoke(main, ["extf", "validate", "--automatic-accounts", "84xx", str(path)])
    assert bad.exit_code != 0
    assert "not an account number" in bad.output
