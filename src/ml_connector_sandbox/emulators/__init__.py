"""Faithful emulators of the Looker and DATEV APIs (demo, tests, users' dry runs)."""
