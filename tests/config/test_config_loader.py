"""Loading the configuration: the demo loads; every problem names file, key and fix."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from ml_connector.config import ConfigFileError, ConfigProblem, load_config, parse_config
from ml_connector.config.models import CredentialRef, DatevOAuth
from ml_connector.errors import ConfigurationError
from ml_connector.examples import demo_config_path

VALID = """
version = 1
[customers.acme]
name = "ACME GmbH"
[customers.acme.looker]
base_url = "https://acme.cloud.looker.com/"
credential = "env:ACME_LOOKER"
[customers.acme.datev]
consultant_number = 29098
client_number = 55003
chart_of_accounts = "SKR04"
account_length = 5
fiscal_year_start_month = 7
[lookups.accounts]
kind = "account"
values = { "REV-100" = 40000 }
[pipelines.revenue]
customer = "acme"
schedule = "0 6 3 * *"
[pipelines.revenue.source.query]
model = "finance"
view = "gl"
fields = ["gl.account", "gl.date", "gl.amount", "gl.period"]
filters = { "gl.period" = "{period}" }
[pipelines.revenue.mapping]
amount = "gl.amount"
[pipelines.revenue.mapping.fields]
konto = 1200
gegenkonto = { lookup = "accounts", key = "gl.account" }
belegdatum = "gl.date"
[pipelines.revenue.tie_out]
balanced = true
tolerance = "0.01"
"""


def problems(text: str, tmp_path: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigFileError) as info:
        parse_config(text, path=tmp_path / "ml-connector.toml")
    assert isinstance(info.value, ConfigurationError)
    for problem in info.value.problems:
        assert problem.file.endswith(".toml") or problem.file.endswith(".csv")
        assert problem.fix
        assert problem.fix in str(info.value)
    return list(info.value.problems)


def one(text: str, tmp_path: Path) -> ConfigProblem:
    found = problems(text, tmp_path)
    assert len(found) == 1, found
    return found[0]


def test_the_bundled_demo_configuration_loads() -> None:
    config = load_config(demo_config_path())
    pipeline = config.pipeline("gl-monthly")
    assert pipeline.source.look_id == "1"
    assert pipeline.reject_policy == "hold_rejected"
    assert config.customer_of("gl-monthly").datev.skr == "03"
    assert len(config.lookups.tables["accounts"]) == 13
    assert "gl_monthly.amount_eur" in config.mapping("gl-monthly").columns


def test_a_valid_configuration_is_typed(tmp_path: Path) -> None:
    config = parse_config(VALID, path=tmp_path / "c.toml")
    pipeline = config.pipeline("revenue")
    assert pipeline.tie_out.tolerance == Decimal("0.01")
    assert pipeline.schedule == "0 6 3 * *"
    customer = config.customer_of("revenue")
    assert customer.looker.base_url == "https://acme.cloud.looker.com"
    assert customer.looker.credential_ref == CredentialRef("env", "ACME_LOOKER")
    assert customer.datev.client_id == "29098-55003"
    query = pipeline.source.query_for_period("2026-10")
    assert query is not None
    assert query.filters == {"gl.period": "2026-10"}


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="does not exist") as info:
        load_config(tmp_path / "nope.toml")
    assert "--config" in info.value.problems[0].fix


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    problem = one("[customers\nname = 1", tmp_path)
    assert problem.key == "(syntax)"
    assert "line 1" in problem.message


def test_unknown_key_suggests_the_spelling(tmp_path: Path) -> None:
    found = problems(VALID.replace("chart_of_accounts", "chart_of_acounts"), tmp_path)
    by_key = {p.key: p for p in found}
    assert by_key["customers.acme.datev.chart_of_accounts"].message == "is required"
    typo = by_key["customers.acme.datev.chart_of_acounts"]
    assert typo.message == "is not a known setting"
    assert "did you mean 'chart_of_accounts'" in typo.fix


def test_a_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    text = VALID.replace(
        'credential = "env:ACME_LOOKER"', 'credential = "env:ACME_LOOKER"\nclient_secret = "s3cr3t"'
    )
    problem = one(text, tmp_path)
    assert problem.key == "customers.acme.looker.client_secret"
    assert "secrets never belong" in problem.message
    assert "s3cr3t" not in str(problem)


def test_a_bad_credential_reference_explains_the_forms(tmp_path: Path) -> None:
    problem = one(VALID.replace('"env:ACME_LOOKER"', '"hunter2"'), tmp_path)
    assert problem.key == "customers.acme.looker.credential"
    assert "env:PREFIX" in problem.fix
    # a value that is not a reference is most likely a pasted secret: never echo it
    assert "hunter2" not in problem.message


def test_missing_required_key(tmp_path: Path) -> None:
    problem = one(VALID.replace("client_number = 55003\n", ""), tmp_path)
    assert problem.key == "customers.acme.datev.client_number"
    assert problem.message == "is required"
    assert "add client_number" in problem.fix


def test_out_of_range_and_literal_values(tmp_path: Path) -> None:
    text = VALID.replace("account_length = 5", "account_length = 9").replace('"SKR04"', '"SKR05"')
    keys = {p.key for p in problems(text, tmp_path)}
    assert keys == {"customers.acme.datev.account_length", "customers.acme.datev.chart_of_accounts"}


def test_unknown_customer(tmp_path: Path) -> None:
    problem = one(VALID.replace('customer = "acme"', 'customer = "acm"'), tmp_path)
    assert problem.key == "pipelines.revenue.customer"
    assert "acme" in problem.fix


def test_unknown_lookup_table(tmp_path: Path) -> None:
    problem = one(VALID.replace('lookup = "accounts"', 'lookup = "acounts"'), tmp_path)
    assert problem.key == "pipelines.revenue.mapping.fields.gegenkonto.lookup"
    assert "[lookups.acounts]" in problem.fix


def test_expression_syntax_error_points_at_the_field(tmp_path: Path) -> None:
    problem = one(VALID.replace('belegdatum = "gl.date"', 'belegdatum = "gl.date +"'), tmp_path)
    assert problem.key == "pipelines.revenue.mapping.fields.belegdatum.expr"
    assert "template" in problem.fix


def test_forbidden_construct_in_an_expression(tmp_path: Path) -> None:
    text = VALID.replace('belegdatum = "gl.date"', "belegdatum = \"__import__('os')\"")
    assert "unknown function" in one(text, tmp_path).message


def test_field_that_is_not_an_extf_column(tmp_path: Path) -> None:
    problem = one(VALID.replace("konto = 1200", "kontoo = 1200\nkonto = 1200"), tmp_path)
    assert problem.key == "pipelines.revenue.mapping.fields.kontoo"
    assert "konto" in problem.fix


def test_derived_and_required_fields(tmp_path: Path) -> None:
    problem = one(VALID.replace("konto = 1200", 'konto = 1200\numsatz = "gl.amount"'), tmp_path)
    assert "set by ml-connector" in problem.message
    problem = one(VALID.replace('belegdatum = "gl.date"\n', ""), tmp_path)
    assert problem.key == "pipelines.revenue.mapping.fields.belegdatum"


def test_column_not_in_the_query_fields(tmp_path: Path) -> None:
    problem = one(VALID.replace('key = "gl.account"', 'key = "gl.acount"'), tmp_path)
    assert "gl.acount" in problem.message
    assert "did you mean 'gl.account'" in problem.fix


def test_source_needs_exactly_one_kind(tmp_path: Path) -> None:
    text = VALID.replace(
        "[pipelines.revenue.source.query]",
        "[pipelines.revenue.source]\nlook_id = 3\n[pipelines.revenue.source.query]",
    )
    problem = one(text, tmp_path)
    assert problem.key == "pipelines.revenue.source"
    assert "exactly one of look_id or [query]" in problem.message


def test_field_spec_needs_exactly_one_kind(tmp_path: Path) -> None:
    text = VALID.replace(
        'gegenkonto = { lookup = "accounts", key = "gl.account" }',
        'gegenkonto = { column = "gl.account", constant = 1 }',
    )
    assert "exactly one of column" in one(text, tmp_path).message


def test_lookup_csv_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("gl,datev\nREV-100,40000\n", encoding="utf-8")
    text = VALID.replace(
        'values = { "REV-100" = 40000 }',
        'file = "accounts.csv"\nkey_column = "gl"\nvalue_column = "datev"',
    )
    config = parse_config(text, path=tmp_path / "c.toml")
    assert config.lookups.resolve("accounts", "REV-100") == "40000"


def test_missing_and_conflicting_lookup_csv(tmp_path: Path) -> None:
    text = VALID.replace('values = { "REV-100" = 40000 }', 'file = "accounts.csv"')
    problem = one(text, tmp_path)
    assert problem.key == "lookups.accounts.file"
    (tmp_path / "accounts.csv").write_text("key,value\nA,1\nA,2\n,3\n", encoding="utf-8")
    found = problems(text, tmp_path)
    assert {p.key for p in found} == {"lookups.accounts"}
    assert any("line 3: the key of line 2 again" in p.message for p in found)
    assert any("line 4: empty key" in p.message for p in found)


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = VALID.replace('customer = "acme"', 'customer = "x"').replace(
        'lookup = "accounts"', 'lookup = "y"'
    )
    assert len(problems(text, tmp_path)) == 2


def test_unknown_pipeline_lists_the_known_ones(tmp_path: Path) -> None:
    config = parse_config(VALID, path=tmp_path / "c.toml")
    with pytest.raises(ConfigurationError, match="revenue"):
        config.pipeline("nope")


def test_validation_error_text_never_shows_a_value() -> None:
    with pytest.raises(ValidationError) as info:
        DatevOAuth(client_id="app", client_secret="hunter2-the-real-secret")
    assert "hunter2" not in str(info.value)


def test_the_dxso_channel_needs_its_ledger_table(tmp_path: Path) -> None:
    text = VALID.replace("[pipelines.revenue]\n", '[pipelines.revenue]\nchannel = "dxso"\n')
    assert text != VALID
    problem = one(text, tmp_path)
    assert "[pipelines.<name>.dxso]" in problem.message
    assert "ledger" in problem.message
