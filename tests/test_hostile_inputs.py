"""Property: whatever bytes or TOML a user hands over, only the project's own errors come out.

The configuration loader, the rows reader and ``extf validate`` (the function behind
the command) are fed random bytes, random TOML documents and the valid example with
random values in its keys.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_connector.config import load_config
from ml_connector.errors import MlConnectorError
from ml_connector.formats.extf.validate import validate_file
from ml_connector.mapping.rows import read_rows

_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_VALID_TOML = (Path(__file__).parent / "config" / "test_config_loader.py").read_text(
    encoding="utf-8"
)
VALID = _VALID_TOML.split('VALID = """', 1)[1].split('"""', 1)[0]

_keys = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
_scalars = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.booleans()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml_document(tables: dict[str, dict[str, object]]) -> str:
    parts = []
    for table, items in tables.items():
        parts.append(f"[{json.dumps(table)}]")
        parts.extend(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in items.items())
    return "\n".join(parts) + "\n"


def _load(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ml-connector.toml"
    path.write_bytes(content)
    with contextlib.suppress(MlConnectorError):
        load_config(path)


@_SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_as_configuration(tmp_path: Path, content: bytes) -> None:
    _load(tmp_path, content)


@_SETTINGS
@given(st.dictionaries(_keys, st.dictionaries(_keys, _values, max_size=4), max_size=4))
def test_random_toml_as_configuration(tmp_path: Path, tables: dict[str, dict[str, object]]) -> None:
    _load(tmp_path, _toml_document(tables).encode("utf-8", "surrogatepass"))


_VALID_LINES = VALID.strip().splitlines()
_SETTING_LINES = [i for i, line in enumerate(_VALID_LINES) if " = " in line]


@_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(_SETTING_LINES), _values), min_size=1, max_size=4))
def test_the_valid_example_with_random_values(
    tmp_path: Path, changes: list[tuple[int, object]]
) -> None:
    lines = list(_VALID_LINES)
    for index, value in changes:
        key = lines[index].split(" = ", 1)[0]
        lines[index] = f"{key} = {_toml_value(value)}"
    _load(tmp_path, "\n".join(lines).encode("utf-8", "surrogatepass"))


_json_rows = st.lists(
    st.dictionaries(_keys, _values, max_size=4).map(
        lambda row: json.dumps(row, allow_nan=True).encode("utf-8", "surrogatepass")
    ),
    max_size=4,
)


@_SETTINGS
@given(st.binary(max_size=400) | _json_rows.map(b"\n".join))
def test_random_rows_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    try:
        rows = read_rows(path)
    except MlConnectorError:
        return
    assert all(isinstance(row, dict) for row in rows)


_EXTF_LIKE = (
    b'"EXTF";700;21;"Buchungsstapel";13;20240402093000000;;"";"";"";29098;55003;20240101;'
    b'4;20240301;20240331;"";"";1;;0;"EUR";;"";;;"03";;;"";""\r\n'
)


@_SETTINGS
@given(st.binary(max_size=600) | st.binary(max_size=300).map(lambda tail: _EXTF_LIKE + tail))
def test_random_bytes_to_extf_validate(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "EXTF_Buchungsstapel.csv"
    path.write_bytes(content)
    try:
        report = validate_file(path)
    except MlConnectorError:
        return
    assert report.valid in (True, False)
