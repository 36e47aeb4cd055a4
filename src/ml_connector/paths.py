"""Where ml-connector keeps its data (database, written files, logs) by default."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_HOME", "default_data_dir"]

#: environment variable that overrides the data directory
ENV_HOME = "ML_CONNECTOR_HOME"


def default_data_dir() -> Path:
    """``$ML_CONNECTOR_HOME``, else ``~/.ml-connector``."""
    configured = os.environ.get(ENV_HOME)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".ml-connector"
