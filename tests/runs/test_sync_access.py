"""One customer's credentials and tokens never reach a host another setting named."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ml_connector.config.access import check_issuer, looker_base_url
from ml_connector.config.models import Customer
from ml_connector.errors import ConfigurationError
from ml_connector.examples import demo_config_path
from ml_connector.interfaces.cli import main
from ml_connector.runs.connect import datev_api_url, datev_endpoints, looker_credentials

EMULATOR = "http://127.0.0.1:8766"


def _customer(
    prefix: str, *, emulator: bool = False, environment: str = "production", **datev: str
) -> Customer:
    return Customer.model_validate(
        {
            "name": prefix,
            "emulator": emulator,
            "looker": {"base_url": f"https://{prefix}.looker.com", "credential": f"env:{prefix}"},
            "datev": {
                "consultant_number": 29098,
                "client_number": 55003,
                "chart_of_accounts": "SKR03",
                "environment": environment,
                **datev,
            },
        }
    )


def test_a_configured_emulator_is_used_without_any_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ML_CONNECTOR_DATEV_API_URL", raising=False)
    customer = _customer("D", emulator=True, environment="emulator", api_url=EMULATOR + "/")
    assert datev_endpoints("demo", customer).extf.startswith(EMULATOR + "/")
    assert customer.datev.emulator_issuer == f"{EMULATOR}/openid"
    check_issuer("demo", customer, f"{EMULATOR}/openid", datev_api_url("demo", customer))
    # the option still overrides it, for emulator customers
    moved = datev_endpoints("demo", customer, "http://127.0.0.1:9000")
    assert moved.extf.startswith("http://127.0.0.1:9000/")
    named = _customer(
        "D",
        emulator=True,
        environment="emulator",
        api_url=EMULATOR,
        issuer="http://127.0.0.1:1/idp",
    )
    assert named.datev.emulator_issuer == "http://127.0.0.1:1/idp"


@pytest.mark.parametrize(
    ("emulator", "datev", "message"),
    [
        (False, {"environment": "emulator", "api_url": EMULATOR}, "emulator = true"),
        (True, {"environment": "emulator"}, "needs api_url"),
        (True, {"environment": "sandbox", "api_url": EMULATOR}, 'environment = "emulator"'),
        (True, {"environment": "emulator", "api_url": "127.0.0.1:8766"}, "full URL"),
    ],
)
def test_an_emulator_environment_is_refused_unless_complete_and_marked(
    emulator: bool, datev: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _customer("C", emulator=emulator, **datev)


def test_each_customer_gets_its_own_looker_key_whatever_else_is_exported() -> None:
    env = {
        "ML_CONNECTOR_LOOKER_CLIENT_ID": "someone",
        "ML_CONNECTOR_LOOKER_CLIENT_SECRET": "someone-secret",
        "ACME_CLIENT_ID": "acme-id",
        "ACME_CLIENT_SECRET": "acme-secret",
        "BETA_CLIENT_ID": "beta-id",
        "BETA_CLIENT_SECRET": "beta-secret",
    }
    keys = {
        name: looker_credentials(_customer(name).looker, None, env) for name in ("ACME", "BETA")
    }
    assert {n: k.client_secret.get_secret_value() for n, k in keys.items()} == {
        "ACME": "acme-secret",
        "BETA": "beta-secret",
    }


def test_a_looker_url_override_applies_to_emulator_customers_only() -> None:
    assert looker_base_url("acme", _customer("ACME"), None) == "https://ACME.looker.com"
    assert looker_base_url("demo", _customer("D", emulator=True), EMULATOR) == EMULATOR
    with pytest.raises(ConfigurationError, match=r"not marked as one.*emulator = true"):
        looker_base_url("acme", _customer("ACME"), EMULATOR)


def test_the_datev_url_variable_never_redirects_a_real_customer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ML_CONNECTOR_DATEV_API_URL", EMULATOR)
    with pytest.raises(ConfigurationError, match="the DATEV API URL"):
        datev_endpoints("acme", _customer("ACME"))
    emulated = datev_endpoints("demo", _customer("D", emulator=True))
    assert emulated.extf.startswith(EMULATOR)
    monkeypatch.delenv("ML_CONNECTOR_DATEV_API_URL")
    assert datev_endpoints("acme", _customer("ACME")).extf.startswith("https://")
    assert ".api.datev.de/" in datev_endpoints("acme", _customer("ACME")).extf


@pytest.mark.parametrize(
    ("emulator", "environment", "issuer", "api_url", "ok"),
    [
        (False, "production", "https://login.datev.de/openid", None, True),
        (False, "sandbox", "https://login.datev.de/openidsandbox", None, True),
        (False, "production", "https://login.datev.de/openidsandbox", None, False),
        (False, "production", f"{EMULATOR}/openid", None, False),
        (True, "sandbox", f"{EMULATOR}/openid", EMULATOR, True),
        (True, "sandbox", "https://login.datev.de/openid", EMULATOR, False),
        (True, "sandbox", "http://127.0.0.1:9999/openid", EMULATOR, False),
    ],
)
def test_tokens_go_only_to_their_issuers_apis(
    emulator: bool, environment: str, issuer: str, api_url: str | None, ok: bool
) -> None:
    customer = _customer("C", emulator=emulator, environment=environment)
    if ok:
        check_issuer("c", customer, issuer, api_url)
    else:
        with pytest.raises(ConfigurationError, match="datev login --customer c"):
            check_issuer("c", customer, issuer, api_url)


def test_datev_login_at_another_identity_provider_is_refused_for_a_real_customer() -> None:
    result = CliRunner().invoke(
        main,
        [
            "datev",
            "login",
            "--customer",
            "meridian",
            "--config",
            str(demo_config_path()),
            "--environment",
            f"{EMULATOR}/openid",
            "--timeout",
            "1",
        ],
    )
    assert result.exit_code == 1
    assert "the identity provider" in result.output
    assert "emulator = true" in result.output
