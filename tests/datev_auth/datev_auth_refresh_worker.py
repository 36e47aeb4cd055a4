"""A separate process that asks for a DATEV access token (for the cross-process test).

Usage: python datev_auth_refresh_worker.py DB_URL KEY CONNECTION CLOCK_OFFSET
Prints READY, waits for a line on stdin, then prints the token's SHA-256 and how many
refresh requests this process sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time

import httpx

from ml_connector.credentials import CredentialStore, SecretCipher
from ml_connector.datev.oauth import ConnectionStore, TokenManager
from ml_connector.store.db import make_engine


async def main(db_url: str, key: str, name: str, offset: float) -> None:
    engine = make_engine(db_url)
    store = ConnectionStore(engine, CredentialStore(engine, SecretCipher([key])))
    async with httpx.AsyncClient() as http:
        manager = TokenManager(store, name, http=http, clock=lambda: time.time() + offset)
        print("READY", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        token = await manager.get_access_token()
    digest = hashlib.sha256(token.get_secret_value().encode()).hexdigest()
    print(digest, manager.refresh_count, flush=True)
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
