"""Benchmark: a row's audit payload and posted booking cut out of stored text, against
decoding and encoding them again (what the engine did before).

Writes ``--rows`` row records (a booking line of 20 columns, a Looker row of 10 fields)
with :func:`ml_connector.engine.ports.write_records`, then times, best of ``--repeat``:

* record rows: :func:`~ml_connector.engine.ports.iter_row_events` against
  ``iter_records`` + ``row_event_json`` (decode the record, encode the payload);
* record outcome: :func:`ml_connector.store.audit.booking_text` against ``json.loads``
  of the payload + ``canonical_json`` of its booking.

Both sides must give the same texts. Usage: ``.venv/bin/python
benchmarks/row_event_text.py [--rows 20000] [--repeat 5]``; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ml_connector.canonical import canonical_json
from ml_connector.engine.ports import (
    RowRecord,
    iter_records,
    iter_row_events,
    row_event_json,
    write_records,
)
from ml_connector.store.audit import booking_text


def _records(rows: int) -> list[RowRecord]:
    line = {f"col{i}": f"value {i}" for i in range(18)} | {"Umsatz": "1250.00", "Konto": "8400"}
    booking = {"content_digest": "ab" * 32, "lines": [line], "reversal": []}
    return [
        RowRecord(
            f"k{i}",
            {f"gl.field_{j}": f"text {i} {j}" for j in range(10)},
            booking,
            None,
            "f.csv",
            i + 1,
        )
        for i in range(rows)
    ]


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "records.jsonl"
    write_records(path, _records(args.rows))

    def decoded() -> list[str]:
        return [row_event_json(r) for r in iter_records(path)]

    def cut() -> list[str]:
        return [e.payload_json for e in iter_row_events(path)]

    payloads = cut()
    if decoded() != payloads:
        raise SystemExit("the cut payloads differ from the encoded ones")

    def booking_decoded() -> list[str]:
        return [canonical_json(json.loads(p)["booking"]) for p in payloads]

    def booking_cut() -> list[str]:
        return [booking_text(p)[0] for p in payloads]

    if booking_decoded() != booking_cut():
        raise SystemExit("the cut bookings differ from the encoded ones")
    per_row = 1e6 / args.rows
    result = {
        "rows": args.rows,
        "payload_chars": len(payloads[0]),
        "record_rows_us": {
            "decode_encode": round(_best(decoded, args.repeat) * per_row, 1),
            "cut": round(_best(cut, args.repeat) * per_row, 1),
        },
        "record_outcome_us": {
            "decode_encode": round(_best(booking_decoded, args.repeat) * per_row, 1),
            "cut": round(_best(booking_cut, args.repeat) * per_row, 1),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
