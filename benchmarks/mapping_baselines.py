"""Benchmark: the product's mapping + validation + EXTF files against two baselines.

All three map the same generated demo rows (``mapping_stream.generate``: the December
2025 demo rows repeated with unique keys, every 64th row on an unmapped account) and
write the same EXTF booking lines; each measurement runs in its own child process so
its peak RSS (``ru_maxrss``) is its own. The booking lines of all three are compared
(SHA-256 over the data lines of every file in order): the figures only count when the
bytes are identical.

* ``product``: :class:`~ml_connector.mapping.stream.RunStream` as the engine's prepare
  step runs it (row traces on): map, validate, tie out against the control totals
  (Looker's answer, computed before the clock starts), write split EXTF files and the
  row records file;
* ``hand``: a hand-written loop that knows this one mapping: dict lookups, f-strings,
  no validation beyond what the mapping itself needs (the floor of pure Python);
* ``pandas``: what a user would write with pandas: read the rows into a DataFrame,
  map with dict lookups (``Series.map``), write the lines (skipped when pandas is not
  installed).

Usage: ``.venv/bin/python benchmarks/mapping_baselines.py [--rows 100000]
[--modes product hand pandas]``; prints one JSON object per mode.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any
from unicodedata import normalize

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mapping_stream

DEMO = Path(__file__).resolve().parents[1] / "src" / "ml_connector" / "examples" / "demo"
NOW = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
CENT = Decimal("0.01")
GROSS = {"domestic_19": Decimal("1.19"), "domestic_7": Decimal("1.07")}
TAX_KEYS = {"domestic_19": "3", "domestic_7": "2"}
SERVICE_LINES = {
    "Strategieberatung": "SB",
    "Prüfung & Steuern": "PS",
    "IT-Beratung": "IT",
    "Schulungen": "SC",
    "Zentrale Dienste": "ZD",
}
KONTO = 1590
# the 125-column line's fields between Buchungstext and KOST1 and after KOST2, all
# empty for this mapping except Festschreibung (0), as EXTF renders them
MIDDLE = ';;"";;;;"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";'
TAIL = (
    ';;"";;"";;;;;;"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";'
    '"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";"";;;;"";;;;"";"";;"";;;;"";"'
    '";;"";;"";;"";"";;"";;0;;;;;;"";"";;"";;'
)


def _csv_map(name: str, key: str, value: str) -> dict[str, str]:
    with (DEMO / name).open(encoding="utf-8") as handle:
        return {row[key]: row[value] for row in csv.DictReader(handle)}


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _data_digest(files: list[Path]) -> str:
    """SHA-256 over the booking lines (every line after the two header lines) of ``files``."""
    sha = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            handle.readline()
            handle.readline()
            for line in handle:
                sha.update(line)
    return sha.hexdigest()


def _header_bytes(out: Path) -> bytes:
    """The two header lines of the product's file for 64 rows (taken, not re-implemented)."""
    files = _product(64, out)
    with files[0].open("rb") as handle:
        return handle.readline() + handle.readline()


def _product(n: int, out: Path, control: list[dict[str, object]] | None = None) -> list[Path]:
    """What the engine's prepare step does with the rows: map, validate, tie out against
    the control totals (Looker's, computed before the clock starts), write the split
    EXTF files and the row records file from the traces."""
    from ml_connector.config import load_config
    from ml_connector.examples import demo_config_path
    from ml_connector.mapping.stream import RunStream
    from ml_connector.runs.records import FileSlice, record_lines, write_record_lines

    config = load_config(demo_config_path())
    control = mapping_stream.totals(n) if control is None else control
    with RunStream(config, "gl-monthly", "2025-12", out, now=NOW, trace_rows=True) as run:
        run.add_many(mapping_stream.generate(n))
        done = run.finish(control)
        assert done.ready, done.facts.blockers
        slices = [FileSlice(item.path.name, item.bookings) for item in done.files]
        records = write_record_lines(
            out / "records.jsonl", record_lines(run.trace_pieces(), slices)
        )
        assert records >= done.facts.rows_mapped
        return [item.path for item in done.files]


def _text(value: str) -> str:
    return '"' + normalize("NFC", value).replace('"', '""') + '"'


def _amount(value: Decimal) -> str:
    return str(abs(value)).replace(".", ",")


def _hand(n: int, out: Path, header: bytes) -> list[Path]:
    """The floor: one loop, dict lookups, f-strings; one file (n < 99,999 per file here)."""
    accounts = {
        k: int(v) for k, v in _csv_map("accounts.csv", "gl_account_number", "datev_account").items()
    }
    costs = _csv_map("cost_centers.csv", "department", "kost1")
    files: list[Path] = []
    handle = None
    written = 0
    dates: dict[date, str] = {}
    for row in mapping_stream.generate(n):
        account = accounts.get(row["gl_monthly.gl_account_number"])  # type: ignore[call-overload]
        if account is None:
            continue  # held: unmapped account
        if handle is None or written == 99_999:
            if handle is not None:
                handle.close()
            files.append(out / f"hand_{len(files) + 1:03d}.csv")
            handle = files[-1].open("wb")
            handle.write(header)
            written = 0
        revenue = row["gl_monthly.revenue_type"]
        amount = row["gl_monthly.amount_eur"]
        assert isinstance(amount, Decimal)
        value = (amount * GROSS.get(revenue, 1)).quantize(CENT, ROUND_HALF_UP)  # type: ignore[arg-type]
        day = row["gl_monthly.booking_date"]
        assert isinstance(day, date)
        if (stamp := dates.get(day)) is None:
            stamp = dates[day] = day.strftime("%d%m")
        department = row["gl_monthly.department"]
        kost1 = "" if department is None else costs[department]  # type: ignore[index]
        side = '"H"' if value >= 0 else '"S"'
        tax = TAX_KEYS.get(revenue, "")  # type: ignore[arg-type]
        key = _text(str(row["gl_monthly.line_id"]).replace("|", "/"))
        kost2 = SERVICE_LINES[row["gl_monthly.service_line"]]  # type: ignore[index]
        handle.write(
            (
                f'{_amount(value)};{side};"";;;"";{KONTO};{account};"{tax}";{stamp};{key};"";;'
                + _text(str(row["gl_monthly.description"]))
                + MIDDLE
                + f'"{kost1}";"{kost2}"'
                + TAIL
                + "\r\n"
            ).encode()
        )
        written += 1
    if handle is not None:
        handle.close()
    return files


def _pandas(n: int, out: Path, header: bytes) -> list[Path]:
    """A pandas script: DataFrame of the rows, ``Series.map`` lookups, one write."""
    import pandas as pd

    accounts = {
        k: int(v) for k, v in _csv_map("accounts.csv", "gl_account_number", "datev_account").items()
    }
    costs = _csv_map("cost_centers.csv", "department", "kost1")
    df = pd.DataFrame.from_records(mapping_stream.generate(n))
    df["konto2"] = df["gl_monthly.gl_account_number"].map(accounts)
    df = df[df["konto2"].notna()]
    factor = df["gl_monthly.revenue_type"].map(GROSS).fillna(Decimal(1))
    value = (df["gl_monthly.amount_eur"] * factor).map(lambda v: v.quantize(CENT, ROUND_HALF_UP))
    text = df["gl_monthly.description"].map(partial(normalize, "NFC")).str.replace('"', '""')
    lines = (
        value.map(_amount)
        + ";"
        + value.map(lambda v: '"H"' if v >= 0 else '"S"')
        + f';"";;;"";{KONTO};'
        + df["konto2"].astype(int).astype(str)
        + ';"'
        + df["gl_monthly.revenue_type"].map(TAX_KEYS).fillna("")
        + '";'
        + df["gl_monthly.booking_date"].map(lambda d: d.strftime("%d%m"))
        + ';"'
        + df["gl_monthly.line_id"].str.replace("|", "/").str.replace('"', '""')
        + '";"";;"'
        + text
        + '"'
        + MIDDLE
        + '"'
        + df["gl_monthly.department"].map(costs).fillna("")
        + '";"'
        + df["gl_monthly.service_line"].map(SERVICE_LINES)
        + '"'
        + TAIL
        + "\r\n"
    )
    files = []
    for part, start in enumerate(range(0, len(lines), 99_999), start=1):
        path = out / f"pandas_{part:03d}.csv"
        with path.open("wb") as handle:
            handle.write(header)
            handle.write("".join(lines.iloc[start : start + 99_999]).encode())
        files.append(path)
    return files


def child(mode: str, n: int) -> dict[str, Any]:
    """One measurement in this process: seconds, peak RSS, digest of the booking lines."""
    with tempfile.TemporaryDirectory(prefix="bench-baselines-") as tmp:
        work = Path(tmp)
        header = b"" if mode == "product" else _header_bytes(work / "header")
        control = mapping_stream.totals(n) if mode == "product" else None
        base = _rss_mb()
        start, cpu = time.perf_counter(), time.process_time()
        if mode == "product":
            files = _product(n, work / "out", control)
        else:
            (work / "out").mkdir()
            files = (_hand if mode == "hand" else _pandas)(n, work / "out", header)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        digest = _data_digest(files)
    return {
        "mode": mode,
        "rows": n,
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_rss_mb": _rss_mb(),
        "base_rss_mb": base,
        "lines_sha256": digest,
    }


def pandas_available() -> bool:
    """Whether pandas can be imported by this interpreter."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def measure(mode: str, n: int) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return its result."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def generate_rows(n: int) -> Iterator[dict[str, object]]:
    """The benchmark's rows (re-exported for callers)."""
    return mapping_stream.generate(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--modes", nargs="+", default=["product", "hand", "pandas"])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    for mode in args.modes:
        if mode == "pandas" and not pandas_available():
            print(json.dumps({"mode": mode, "skipped": "pandas is not installed"}))
            continue
        print(json.dumps(measure(mode, args.rows)), flush=True)


if __name__ == "__main__":
    main()
