"""Read the app's stored session records the way the app does (another SQLite connection)."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from zitadel_bff.sessions import Keyring, SessionData, SQLiteStore, Store
from zitadel_bff.sessions.manager import SESSION_NS


def session_key(secret: str, session_id: str) -> str:
    """The store key of the session whose cookie value is ``session_id``."""
    return Keyring(secret).lookup_key(SESSION_NS, session_id)


def read_session(db: Path, secret: str, session_id: str) -> SessionData | None:
    return read_session_in(SQLiteStore(db), secret, session_id)


def read_session_in(store: Store, secret: str, session_id: str) -> SessionData | None:
    """The record behind a cookie, read (and decrypted) from ``store`` as the app does it;
    the store is closed afterwards."""

    async def read() -> SessionData | None:
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


def stored_session(db: Path, secret: str, session_id: str) -> SessionData:
    """:func:`read_session` for a session that must be stored; the test fails when it is not."""
    record = read_session(db, secret, session_id)
    assert record is not None, "no such session record"
    return record


def expire_record(db: Path, secret: str, session_id: str) -> None:
    """Move the record's store expiry into the past, as if its time had run out."""
    with closing(sqlite3.connect(db)) as con, con:
        done = con.execute(
            "UPDATE records SET expires_at = 0 WHERE key = ?", (session_key(secret, session_id),)
        )
        assert done.rowcount == 1, "no such session record"
