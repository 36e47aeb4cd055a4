"""DATEV emulator: identity provider plus the four accounting APIs."""
