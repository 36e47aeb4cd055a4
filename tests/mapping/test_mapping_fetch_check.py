"""Looker credential resolution and the plausibility checks behind ``mapping check``."""

from __future__ import annotations

from pathlib import Path

import pytest
from mapping_support import make_config

from ml_connector.config.models import LookerConnection
from ml_connector.errors import ConfigurationError
from ml_connector.mapping.check import account_problem, check_targets
from ml_connector.runs.extract import resolve_looker_credentials

CONNECTION = LookerConnection(base_url="https://x.looker.com", credential="env:ACME")


def test_env_reference_reads_prefixed_variables() -> None:
    creds = resolve_looker_credentials(
        CONNECTION, {"ACME_CLIENT_ID": "id", "ACME_CLIENT_SECRET": "s3cr3t-value"}
    )
    assert creds.client_id == "id"
    assert creds.client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(creds)


def test_no_variable_overrides_a_customers_own_reference() -> None:
    env = {
        "ML_CONNECTOR_LOOKER_CLIENT_ID": "demo",
        "ML_CONNECTOR_LOOKER_CLIENT_SECRET": "s",
        "ACME_CLIENT_ID": "id",
        "ACME_CLIENT_SECRET": "secret",
    }
    creds = resolve_looker_credentials(CONNECTION, env)
    assert (creds.client_id, creds.client_secret.get_secret_value()) == ("id", "secret")


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="ACME_CLIENT_SECRET"):
        resolve_looker_credentials(CONNECTION, {"ACME_CLIENT_ID": "id"})
    store = LookerConnection(base_url="https://x.looker.com", credential="store:acme")
    with pytest.raises(ConfigurationError, match="credential store"):
        resolve_looker_credentials(store, {"ML_CONNECTOR_LOOKER_CLIENT_ID": "x"})


@pytest.mark.parametrize(
    ("value", "length", "ok"),
    [("4120", 4, True), ("10000", 4, True), ("412000", 4, False), ("0000", 4, False),
     ("41a0", 4, False), ("412000", 5, True), ("１２３", 4, False)],
)  # fmt: skip
def test_account_plausibility(value: str, length: int, ok: bool) -> None:
    assert (account_problem(value, length) is None) is ok


def test_check_targets_flags_each_kind(tmp_path: Path) -> None:
    text_config = make_config(tmp_path)
    assert [str(f) for f in check_targets(text_config)] == [
        "lookups.accounts [BIG-1]: '123456' has 6 digits; Sachkontenlänge 4 allows up to 4 "
        "(general ledger) or 5 (personal accounts)"
    ]
    config = make_config(
        tmp_path,
        extra_fields='kost2 = { lookup = "tax_keys", key = "v.x" }',
    )
    tables = dict(config.lookups.tables)
    from ml_connector.mapping.lookups import LookupKind, LookupSet, LookupTable

    tables["tax_keys"] = LookupTable("tax_keys", LookupKind.TAX_KEY, {"a": "12345"})
    tables["cost_centers"] = LookupTable("cost_centers", LookupKind.COST_CENTER, {"b": "MUC-BER"})
    broken = type(config)(config.path, config.model, LookupSet(tables), config.mappings)
    messages = {f.where: f.message for f in check_targets(broken)}
    assert "BU-Schlüssel" in messages["lookups.tax_keys [a]"]
    assert "cost center" in messages["lookups.cost_centers [b]"]


def test_only_a_value_a_month_filter_selects_counts_as_a_period() -> None:
    from datetime import date

    from ml_connector.runs.extract import readable_period

    assert readable_period("2026-10")
    assert readable_period(date(2026, 10, 31))
    for value in (None, "", " 2026-10", "2026-13", "Okt 2026", "2026/10", "2026-10-31", 202610):
        assert not readable_period(value), value


def test_check_flags_a_constant_tax_key_on_a_constant_automatic_account(tmp_path: Path) -> None:
    from string import Template

    from mapping_support import BASE_TOML, DEFAULTS

    from ml_connector.config import parse_config

    text = Template(BASE_TOML).substitute(DEFAULTS)
    constant_key = text.replace(
        'bu_schluessel = { lookup = "tax_keys", key = "coalesce(v.revenue_type, \'none\')" }',
        "bu_schluessel = 3",
    ).replace("konto = 1590", "konto = 8400")
    assert constant_key != text
    config = parse_config(constant_key, path=tmp_path / "ml-connector.toml")
    [finding] = [f for f in check_targets(config) if "automatic" in f.message]
    assert finding.where == "pipelines.p.mapping.fields.bu_schluessel"
    assert "automatic account 8400 (SKR03)" in finding.message
    stripped = constant_key.replace(
        "account_length = 4", 'account_length = 4\nautomatic_accounts_tax_key = "strip"'
    )
    config = parse_config(stripped, path=tmp_path / "ml-connector.toml")
    assert not [f for f in check_targets(config) if "automatic" in f.message]
