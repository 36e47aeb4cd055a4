"""``ml-connector audit``: Verify and export the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ml_connector.interfaces.cli._store import store_url_option

__all__ = ["audit"]


@click.group(name="audit")
def audit() -> None:
    """Verify and export the audit trail."""


@audit.command(name="anchor")
@store_url_option
@click.option("--chain", help="only this DATEV client's chain")
def anchor(store_url: str | None, chain: str | None) -> None:
    """Print every chain's head as JSON: keep it outside the database for `verify --anchor`."""
    from ml_connector.store.audit import anchor as take_anchor
    from ml_connector.store.open import open_store

    engine = open_store(store_url)
    try:
        click.echo(json.dumps(take_anchor(engine, chain=chain), indent=2))
    finally:
        engine.dispose()


@audit.command(name="verify")
@store_url_option
@click.option("--chain", help="verify only this DATEV client's chain")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="an anchor from `audit anchor` (or a run report): prove no event up to it was "
    "removed or changed",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def verify(
    store_url: str | None, chain: str | None, anchor_file: Path | None, as_json: bool
) -> None:
    """Recompute every hash chain; exit 1 and name the first broken link if any."""
    from ml_connector.errors import MlConnectorError
    from ml_connector.store.audit import read_anchor
    from ml_connector.store.audit import verify as verify_chains
    from ml_connector.store.open import open_store

    try:
        pins = None
        if anchor_file is not None:
            pins = read_anchor(anchor_file.read_text(encoding="utf-8"), source=str(anchor_file))
    except MlConnectorError as exc:
        raise click.ClickException(str(exc)) from None
    engine = open_store(store_url)
    try:
        reports = verify_chains(engine, chain=chain, anchor=pins)
    finally:
        engine.dispose()
    broken = [r for r in reports if not r.ok]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": not broken,
                    "chains": [
                        {
                            "chain": r.chain,
                            "events": r.events,
                            "head_seq": r.head_seq,
                            "head_hash": r.head_hash,
                            "ok": r.ok,
                            "broken_seq": r.broken_seq,
                            "broken_event_id": r.broken_event_id,
                            "reason": r.reason,
                        }
                        for r in reports
                    ],
                },
                indent=2,
            )
        )
    else:
        if not reports:
            click.echo("The audit trail is empty.")
        for r in reports:
            if r.ok:
                click.echo(f"chain {r.chain}: {r.events} events, head {r.head_hash}: OK")
            else:
                where = f"seq {r.broken_seq}"
                if r.broken_event_id is not None:
                    where += f" (event id {r.broken_event_id})"
                click.echo(f"chain {r.chain}: BROKEN at {where}: {r.reason}", err=True)
    if broken:
        raise SystemExit(1)


@audit.command(name="export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="CSV: one line per Looker row; JSON: rows plus every raw event with its hashes",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="file to write",
)
@click.option("--chain", help="only this DATEV client's trail")
@click.option("--run", "run_id", help="only this run")
@click.option("--force", is_flag=True, help="replace --out if it exists already")
@click.option(
    "--excel",
    is_flag=True,
    help="CSV for German Excel: ';', UTF-8 with BOM, decimal comma, one column per value",
)
@store_url_option
def export(
    fmt: str,
    out: Path,
    chain: str | None,
    run_id: str | None,
    force: bool,
    excel: bool,
    store_url: str | None,
) -> None:
    """Write the audit trail for the tax advisor (GoBD: original content determinable).

    An existing --out file is never replaced without --force.
    """
    from ml_connector.store.export import export_trail
    from ml_connector.store.open import open_store

    engine = open_store(store_url)
    try:
        rows = export_trail(
            engine,
            out,
            fmt="json" if fmt == "json" else "csv",
            chain=chain,
            run_id=run_id,
            overwrite=force,
            excel=excel,
        )
    finally:
        engine.dispose()
    click.echo(f"wrote {rows} rows to {out}")
