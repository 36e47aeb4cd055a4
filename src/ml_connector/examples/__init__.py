"""Bundled example configurations (the demo dataset's pipeline and its lookup files)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["demo_config_path"]


def demo_config_path() -> Path:
    """Path of the bundled demo configuration ``examples/demo/ml-connector.toml``."""
    return Path(__file__).parent / "demo" / "ml-connector.toml"
