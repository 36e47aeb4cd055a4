"""HTTP plumbing shared by the Looker and DATEV clients (retry policy, redaction)."""
