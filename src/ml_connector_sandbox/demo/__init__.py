"""The end-to-end demo: both emulators, a fresh installation, several months through the engine.

Entry point: :func:`run_demo` (``ml-connector demo``). Building blocks, also used by
the tests: :mod:`.emulators` (both emulators for the demo configuration),
:mod:`.login` (the unattended DATEV login), :mod:`.setup` (data directory,
configuration, credentials), :mod:`.summary` (what the demo reports).
"""

from __future__ import annotations

from ml_connector_sandbox.demo.run import DEMO_MONTHS, default_workdir, run_demo
from ml_connector_sandbox.demo.summary import DemoSummary

__all__ = ["DEMO_MONTHS", "DemoSummary", "default_workdir", "run_demo"]
