"""The TOML configuration: customers, connections, pipelines and mappings."""
