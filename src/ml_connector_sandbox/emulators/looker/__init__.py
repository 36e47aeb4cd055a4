"""Looker API 4.0 emulator: ``create_app(...)`` and the bundled demo dataset."""

from ml_connector_sandbox.emulators.looker.app import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    EmulatorState,
    create_app,
)
from ml_connector_sandbox.emulators.looker.dataset import (
    DatasetError,
    demo_dataset_dir,
    load_dataset,
)
from ml_connector_sandbox.emulators.looker.faults import EndpointFaults, Faults

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DatasetError",
    "EmulatorState",
    "EndpointFaults",
    "Faults",
    "create_app",
    "demo_dataset_dir",
    "load_dataset",
]
