"""``ml-connector demo``: the main job, end to end, on the embedded default.

Starts the Looker and DATEV emulators on loopback, logs in to DATEV through the
emulator's consent page (approved automatically in demo mode), runs the bundled
pipeline for several months through the durable engine on SQLite and prints what
happened. Needs no configuration and no network.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["demo"]


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps everything (default: a fresh directory under the data directory).",
)
@click.option(
    "--month",
    "months",
    multiple=True,
    metavar="YYYY-MM",
    help="A month to run (repeatable; default: three months of the bundled dataset).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--serve",
    is_flag=True,
    help="Afterwards keep the emulators running and serve the web app on the demo's data "
    "(prints its URL and the demo admin's password).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address for --serve")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def demo(
    workdir: Path | None,
    months: tuple[str, ...],
    as_json: bool,
    serve: bool,
    host: str,
    port: int,
) -> None:
    """Run the bundled pipeline end to end against the Looker and DATEV emulators."""
    from ml_connector.paths import default_data_dir
    from ml_connector_sandbox.demo import default_workdir, run_demo

    if serve:
        from ml_connector_sandbox.demo.serve import serve_demo

        if as_json:
            raise click.UsageError("--serve prints text; leave out --json")
        target = workdir or default_workdir(default_data_dir())
        serve_demo(target, list(months) or None, host=host, port=port)
        return

    summary = run_demo(
        workdir or default_workdir(default_data_dir()),
        months=list(months) or None,
        json_output=as_json,
    )
    if not summary.ok:
        raise SystemExit(1)
