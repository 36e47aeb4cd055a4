"""Hostile configuration files: each is a ConfigFileError naming file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_config_loader import VALID, one, problems

from ml_connector.config import ConfigFileError, load_config, parse_config
from ml_connector.interfaces.cli import main


def _load_error(path: Path) -> ConfigFileError:
    with pytest.raises(ConfigFileError) as caught:
        load_config(path)
    return caught.value


def test_a_configuration_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "ml-connector.toml"
    path.write_bytes(VALID.encode("utf-8").replace(b"ACME GmbH", b"M\xfcller GmbH"))
    [problem] = _load_error(path).problems
    assert "not UTF-8" in problem.message
    assert problem.fix == "save the configuration as UTF-8"
    result = CliRunner().invoke(main, ["mapping", "check", "--config", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "not UTF-8" in result.output


def test_a_configuration_that_is_a_folder(tmp_path: Path) -> None:
    [problem] = _load_error(tmp_path).problems
    assert "cannot read the configuration file" in problem.message


@pytest.mark.parametrize("opening", ["a = {b = ", "a = ["])
def test_very_deep_nesting(opening: str, tmp_path: Path) -> None:
    closing = "}" if "{" in opening else "]"
    text = VALID + opening * 100_000 + "1" + closing * 100_000 + "\n"
    problem = one(text, tmp_path)
    assert problem.key == "(syntax)"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('tolerance = "0.01"', 'tolerance = "1e999999999"', "pipelines.revenue.tie_out.tolerance"),
        ('tolerance = "0.01"', 'tolerance = "NaN"', "pipelines.revenue.tie_out.tolerance"),
        ('tolerance = "0.01"', "tolerance = inf", "pipelines.revenue.tie_out.tolerance"),
        ('tolerance = "0.01"', "tolerance = nan", "pipelines.revenue.tie_out.tolerance"),
        ("client_number = 55003", "client_number = 1" + "0" * 30, "customers.acme.datev"),
    ],
)
def test_unbounded_numbers_are_refused(old: str, new: str, key: str, tmp_path: Path) -> None:
    assert old in VALID
    problem = one(VALID.replace(old, new), tmp_path)
    assert problem.key.startswith(key)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("[pipelines.revenue]", '[pipelines."rev enue"]', 'pipelines."rev enue"'),
        ("[customers.acme]", '[customers."ac/me"]', 'customers."ac/me"'),
        ("[customers.acme]", '[customers."äcme"]', 'customers."äcme"'),
    ],
)
def test_names_are_letters_digits_dash_underscore(
    old: str, new: str, key: str, tmp_path: Path
) -> None:
    text = VALID.replace(old, new).replace(old[1:-1] + ".", new[1:-1] + ".")
    [problem] = [p for p in problems(text, tmp_path) if "may hold only" in p.message]
    assert problem.key == key


def test_a_lookup_file_outside_the_configuration_folder(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text("password,hunter2\n", encoding="utf-8")
    text = VALID.replace('values = { "REV-100" = 40000 }', 'file = "../secret.csv"')
    problem = one(text, config_dir)
    assert problem.key == "lookups.accounts.file"
    assert "outside the configuration's folder" in problem.message
    # written as an absolute path it is read, but its content is never shown
    text = VALID.replace('values = { "REV-100" = 40000 }', f'file = "{secret}"')
    found = problems(text, config_dir)
    assert found
    assert all("hunter2" not in str(p) and "password" not in str(p) for p in found)


@pytest.mark.parametrize("content", [b"key,value\nA,\xff\n", b"\xfe\xff\x00k\n", b"k,v\nA,\x00B\n"])
def test_an_unreadable_lookup_file_is_a_problem_without_its_content(
    content: bytes, tmp_path: Path
) -> None:
    (tmp_path / "accounts.csv").write_bytes(content)
    text = VALID.replace('values = { "REV-100" = 40000 }', 'file = "accounts.csv"')
    found = problems(text, tmp_path)
    assert found
    assert all("\\x" not in str(p) and "\x00" not in str(p) for p in found)


def test_parse_config_still_accepts_the_valid_example(tmp_path: Path) -> None:
    assert parse_config(VALID, path=tmp_path / "ml-connector.toml").model.pipelines
