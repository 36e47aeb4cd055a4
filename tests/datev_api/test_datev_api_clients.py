"""Client lookup, services and document types against the emulator."""

from __future__ import annotations

import pytest
from datev_api_support import Setup, emulator_config

from ml_connector.datev.api.problems import DatevConfigurationError, DatevRejectedError
from ml_connector_sandbox.emulators.datev.config import EmulatedClient


async def test_filter_by_berater_and_mandant(setup: Setup) -> None:
    page = await setup.client.list_clients(consultant_number=455148, client_number=2)
    assert [c.id for c in page.items] == ["455148-2"]
    assert page.total == 1
    assert page.items[0].has_service("extf")
    assert not page.items[0].has_service("documents")


async def test_find_client_absent_returns_none(setup: Setup) -> None:
    assert await setup.client.find_client(455148, 99) is None
    found = await setup.client.find_client(29098, 55003)
    assert found is not None
    assert found.name == "Musterdatei"


@pytest.fixture
def config():  # type: ignore[no-untyped-def]
    many = tuple(
        EmulatedClient(consultant_number=1001, client_number=n, name=f"M{n}") for n in range(1, 151)
    )
    base = emulator_config()
    return emulator_config(clients=base.clients + many)


async def test_paging_walks_all_pages(setup: Setup) -> None:
    first = await setup.client.list_clients(consultant_number=1001, top=100)
    assert len(first.items) == 100
    assert first.total == 150
    seen = [c.client_number async for c in setup.client.iter_clients(consultant_number=1001)]
    assert seen == list(range(1, 151))
    assert setup.transport.count("GET", "/accounting-clients/platform/v2/clients") == 3


async def test_get_client_and_missing_client(setup: Setup) -> None:
    client = await setup.client.get_client("455148-1")
    assert client.consultant_number == 455148
    assert client.client_number == 1
    with pytest.raises(DatevRejectedError) as err:
        await setup.client.get_client("455148-77")
    assert err.value.status_code == 404


async def test_require_service_reports_missing_service(setup: Setup) -> None:
    assert (await setup.client.require_service("455148-2", "extf")).id == "455148-2"
    with pytest.raises(DatevConfigurationError, match="Buchungsdatenservice"):
        await setup.client.require_service("455148-3", "extf")


async def test_document_types_fetched_once_per_client(setup: Setup) -> None:
    types = await setup.client.document_types("455148-1")
    assert "Rechnungseingang" in {t.name for t in types}
    again = await setup.client.document_types("455148-1")
    assert again == types
    assert setup.transport.count("GET", "document-types") == 1
    await setup.client.document_types("455148-1", refresh=True)
    assert setup.transport.count("GET", "document-types") == 2


async def test_client_basics_has_fiscal_years(setup: Setup) -> None:
    basics = await setup.client.get_client_basics("455148-1")
    assert basics.basic_accounting_information
    assert basics.basic_accounting_information[0]["account_length"] == 4
