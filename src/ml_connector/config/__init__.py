"""The TOML configuration: customers, connections, pipelines and mappings.

``load_config(path)`` returns a checked :class:`LoadedConfig`; problems raise
:class:`ConfigFileError` naming the file, the key and the fix.
"""

from ml_connector.config.loader import (
    CONFIG_FILENAME,
    ENV_CONFIG,
    ConfigFileError,
    ConfigProblem,
    LoadedConfig,
    find_config,
    load_config,
    parse_config,
)
from ml_connector.config.models import (
    ConfigModel,
    CredentialRef,
    Customer,
    DatevClient,
    LookerConnection,
    Pipeline,
    Source,
    TieOut,
)

__all__ = [
    "CONFIG_FILENAME",
    "ENV_CONFIG",
    "ConfigFileError",
    "ConfigModel",
    "ConfigProblem",
    "CredentialRef",
    "Customer",
    "DatevClient",
    "LoadedConfig",
    "LookerConnection",
    "Pipeline",
    "Source",
    "TieOut",
    "find_config",
    "load_config",
    "parse_config",
]
