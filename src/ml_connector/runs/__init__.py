"""The sync: the real run steps (Looker -> mapping -> EXTF files -> DATEV) for the engine.

- :mod:`.steps`: :class:`LiveRunSteps`, the engine's ``RunSteps`` against Looker and DATEV;
- :mod:`.connect`: settings and the clients built from configuration and stores;
- :mod:`.records`: row records and posted state (pure);
- :mod:`.names`: deterministic ``Reference-Id`` per file (pure);
- :mod:`.ping`: the checks behind ``ml-connector ping``;
- :mod:`.launch`: the engine wired to :class:`LiveRunSteps` (``run``, ``worker``, ``replay``).
"""

from __future__ import annotations

from ml_connector.runs.connect import SyncSettings
from ml_connector.runs.steps import LiveRunSteps, RunBlockedError

__all__ = ["LiveRunSteps", "RunBlockedError", "SyncSettings"]
