"""Fixtures: the bundled demo configuration and the demo dataset's rows."""

from __future__ import annotations

import pytest
from mapping_support import load_demo_rows

from ml_connector.config import LoadedConfig, load_config
from ml_connector.examples import demo_config_path


@pytest.fixture(scope="package")
def demo_config() -> LoadedConfig:
    return load_config(demo_config_path())


@pytest.fixture(scope="package")
def demo_rows() -> list[dict[str, object]]:
    return load_demo_rows()
