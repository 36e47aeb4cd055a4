"""The sync engine: durable runs, schedules, audit trail and replay."""
