"""Looker API 4.0 client: login, Looks, inline queries, async query tasks, chunked extracts."""
