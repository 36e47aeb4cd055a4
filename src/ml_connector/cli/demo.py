"""``ml-connector demo``: the main job on the embedded default.

For now it renders the bundled sample bookings into EXTF file(s) and validates them
again from disk; it grows into the end-to-end demo later.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

__all__ = ["demo"]


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the output (default: a fresh directory under the data directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def demo(workdir: Path | None, as_json: bool) -> None:
    """Run the bundled demo on the embedded default: render and validate a sample batch."""
    from ml_connector.extf.samples import SAMPLE_AUTOMATIC_ACCOUNTS, sample_header, sample_lines
    from ml_connector.extf.split import write_split
    from ml_connector.extf.validate import validate_file
    from ml_connector.paths import default_data_dir

    if workdir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        workdir = default_data_dir() / "demo" / stamp
    out_dir = workdir / "extf"
    header = sample_header()
    lines = sample_lines()
    written = write_split(
        header, lines, out_dir, pipeline="demo", automatic_accounts=SAMPLE_AUTOMATIC_ACCOUNTS
    )
    reports = [
        validate_file(
            w.path,
            expected_client_id=header.client_id,
            automatic_accounts=SAMPLE_AUTOMATIC_ACCOUNTS,
        )
        for w in written
    ]
    valid = all(r.valid for r in reports)
    summary = {
        "workdir": str(workdir),
        "client_id": header.client_id,
        "period": f"{header.datum_vom.isoformat()}..{header.datum_bis.isoformat()}",
        "bookings": sum(w.bookings for w in written),
        "files": [
            {"path": str(w.path), "bookings": w.bookings, "bytes": w.size, "valid": r.valid}
            for w, r in zip(written, reports, strict=True)
        ],
        "valid": valid,
        "problems": [p.to_dict() for r in reports for p in r.problems],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        click.echo(f"ml-connector demo: DATEV EXTF Buchungsstapel for client {header.client_id}")
        click.echo(f"  period    {summary['period']}")
        click.echo(f"  bookings  {summary['bookings']}")
        for w, r in zip(written, reports, strict=True):
            click.echo(f"  file      {w.path} ({w.bookings} bookings, {w.size} bytes)")
            click.echo(f"  check     {'valid' if r.valid else 'INVALID'}")
            for p in r.problems:
                click.echo(f"            {p}")
        click.echo("  result    " + ("all files valid" if valid else "validation FAILED"))
    if not valid:
        raise SystemExit(1)
