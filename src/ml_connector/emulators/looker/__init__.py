"""Looker API 4.0 emulator."""
