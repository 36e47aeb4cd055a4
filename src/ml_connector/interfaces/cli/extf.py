"""``ml-connector extf``: validate and render DATEV EXTF booking batches."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ml_connector.formats.extf.models import BookingLine

__all__ = ["extf"]


@click.group()
def extf() -> None:
    """Validate and render DATEV EXTF Buchungsstapel files."""


def _accounts(text: str | None) -> frozenset[int] | None:
    """``SKR03``/``SKR04`` (the chart's standard list) plus numbers and ranges, comma-separated."""
    from ml_connector.formats.extf.automatic import parse_accounts, standard_automatic_accounts

    if not text:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    charts = [part.upper() for part in parts if part.upper() in ("SKR03", "SKR04")]
    try:
        accounts = parse_accounts(part for part in parts if part.upper() not in charts)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; give SKR03, SKR04, numbers or ranges") from None
    for chart in charts:
        accounts |= standard_automatic_accounts(chart)
    return accounts


@extf.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.option("--client-id", help="Expected DATEV client id BBBBB-MMMMM (header fields 11/12).")
@click.option(
    "--automatic-accounts",
    help="The client's automatic (AM) accounts: SKR03/SKR04 (standard list), numbers, "
    "ranges (8920-8925), comma-separated; enables the BU-on-AM rule.",
)
@click.option(
    "--max-problems", default=1000, show_default=True, help="Stop listing after this many."
)
@click.option(
    "--no-filename-check",
    is_flag=True,
    help="Do not check the file name against DATEV's EXTF_<...>.csv upload pattern.",
)
def validate_command(
    files: tuple[Path, ...],
    as_json: bool,
    client_id: str | None,
    automatic_accounts: str | None,
    max_problems: int,
    no_filename_check: bool,
) -> None:
    """Check EXTF files against every rule; exit 0 when all are valid, 1 otherwise."""
    from ml_connector.formats.extf.validate import validate_file

    accounts = _accounts(automatic_accounts)
    reports = [
        validate_file(
            path,
            expected_client_id=client_id,
            automatic_accounts=accounts,
            max_problems=max_problems,
            check_filename=not no_filename_check,
        )
        for path in files
    ]
    if as_json:
        click.echo(
            json.dumps(
                {"valid": all(r.valid for r in reports), "files": [r.to_dict() for r in reports]},
                indent=2,
            )
        )
    else:
        for report in reports:
            click.echo(report.format_text())
    sys.exit(0 if all(r.valid for r in reports) else 1)


def _read_rows(path: Path, fmt: str) -> Iterator[dict[str, object]]:
    """Rows of a JSON Lines or CSV file, one at a time (a bad file is a DataError)."""
    import csv

    from ml_connector.errors import DataError
    from ml_connector.mapping.rows import iter_rows

    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    if fmt == "jsonl":
        yield from iter_rows(path, raw=True)
        return
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            yield from csv.DictReader(handle, delimiter=delimiter)
    except UnicodeDecodeError:
        raise DataError(
            "not UTF-8 text", location=str(path), hint="save the rows file as UTF-8"
        ) from None
    except csv.Error as exc:
        raise DataError(f"not a readable CSV file ({exc})", location=str(path)) from None


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


@extf.command("render")
@click.argument("rows_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "csv"]),
    default="auto",
    show_default=True,
)
@click.option("--client-id", required=True, help="DATEV client id BBBBB-MMMMM (Berater-Mandant).")
@click.option("--from", "date_from", help="Datum vom (YYYY-MM-DD); default: earliest Belegdatum.")
@click.option("--to", "date_to", help="Datum bis (YYYY-MM-DD); default: latest Belegdatum.")
@click.option(
    "--wj-beginn", help="Start of the fiscal year (YYYY-MM-DD); default: 1 January of --from."
)
@click.option(
    "--skl",
    "sachkontenlaenge",
    type=click.IntRange(4, 8),
    default=4,
    show_default=True,
    help="Sachkontenlänge.",
)
@click.option("--skr", default="03", show_default=True, help="Sachkontenrahmen (03, 04, ...).")
@click.option(
    "--festschreibung/--no-festschreibung",
    default=False,
    show_default=True,
    help="Lock the batch after import.",
)
@click.option("--bezeichnung", default="", help="Batch label (max 30).")
@click.option("--diktatkuerzel", default="", help="Upper-case initials.")
@click.option("--herkunft", default="", help="2-character origin code.")
@click.option("--exportiert-von", default="", help="User name (max 25).")
@click.option(
    "--pipeline", default="extf-render", show_default=True, help="Pipeline name used in file names."
)
@click.option(
    "--encoding", type=click.Choice(["utf-8-sig", "cp1252"]), default="utf-8-sig", show_default=True
)
@click.option("--created-at", help="Creation timestamp (ISO); default: now.")
@click.option("--automatic-accounts", help="Comma-separated automatic (AM) accounts of the client.")
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
def render_command(
    rows_file: Path,
    out_dir: Path,
    fmt: str,
    client_id: str,
    date_from: str | None,
    date_to: str | None,
    wj_beginn: str | None,
    sachkontenlaenge: int,
    skr: str,
    festschreibung: bool,
    bezeichnung: str,
    diktatkuerzel: str,
    herkunft: str,
    exportiert_von: str,
    pipeline: str,
    encoding: str,
    created_at: str | None,
    automatic_accounts: str | None,
    as_json: bool,
) -> None:
    """Turn rows (JSON Lines or CSV keyed by the spec's column names) into EXTF file(s)."""
    import re

    from ml_connector.errors import DataError
    from ml_connector.formats.extf.models import BatchHeader
    from ml_connector.formats.extf.rows import line_from_row
    from ml_connector.formats.extf.split import write_split

    match = re.fullmatch(r"(\d{4,7})-(\d{1,5})", client_id)
    if not match:
        raise click.BadParameter("expected BBBBB-MMMMM", param_hint="--client-id")
    try:
        vom, bis, wj = _date(date_from), _date(date_to), _date(wj_beginn)
        created = datetime.fromisoformat(created_at) if created_at else datetime.now()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        if vom is None or bis is None:
            # first pass: the period from the rows' Belegdatum (the file is read twice, never held)
            days = [
                line_from_row(row, row_number=n).belegdatum
                for n, row in enumerate(_read_rows(rows_file, fmt), 1)
            ]
            if not days:
                raise click.ClickException(f"{rows_file}: no rows")
            vom = vom or min(days)
            bis = bis or max(days)
        header = BatchHeader(
            beraternummer=int(match.group(1)),
            mandantennummer=int(match.group(2)),
            wj_beginn=wj or date(vom.year, 1, 1),
            sachkontenlaenge=sachkontenlaenge,
            datum_vom=vom,
            datum_bis=bis,
            festschreibung=festschreibung,
            skr=skr,
            erzeugt_am=created,
            bezeichnung=bezeichnung,
            diktatkuerzel=diktatkuerzel,
            herkunft=herkunft,
            exportiert_von=exportiert_von,
        )

        def lines() -> Iterator[BookingLine]:
            for number, row in enumerate(_read_rows(rows_file, fmt), 1):
                yield line_from_row(row, row_number=number, header=header)

        written = write_split(
            header,
            lines(),
            out_dir,
            pipeline=pipeline,
            encoding=encoding,  # type: ignore[arg-type]
            automatic_accounts=_accounts(automatic_accounts),
        )
    except DataError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"path": str(w.path), "bookings": w.bookings, "bytes": w.size, "part": w.part}
                    for w in written
                ],
                indent=2,
            )
        )
    else:
        for w in written:
            click.echo(str(w.path))
