"""HTTP plumbing shared by the Looker and DATEV clients (retry and poll policies, redaction)."""
