"""DATEV: OAuth 2.0 PKCE login, token refresh, and the accounting API client."""
