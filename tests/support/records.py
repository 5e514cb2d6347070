"""Read the app's stored session records the way the app does (another SQLite connection)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from zitadel_bff.sessions import Keyring, SessionData, SQLiteStore
from zitadel_bff.sessions.session import SESSION_NS


def read_session(db: Path, secret: str, session_id: str) -> SessionData | None:
    async def read() -> SessionData | None:
        store = SQLiteStore(db)
        keyring = Keyring(secret)
        key = keyring.lookup_key(SESSION_NS, session_id)
        try:
            entry = await store.get(key)
        finally:
            await store.close()
        if entry is None:
            return None
        return SessionData.from_json(keyring.open(entry.value, aad=key.encode()), entry.expires_at)

    return asyncio.run(read())
