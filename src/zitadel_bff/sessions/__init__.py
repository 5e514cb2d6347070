"""Server-side sessions: encrypted records in a store, addressed by an opaque cookie."""

from .crypto import Keyring, SealError
from .session import SESSION_ID_BYTES, SessionData, SessionManager
from .stores import MemoryStore, SQLiteStore, Store, store_from_url

__all__ = [
    "SESSION_ID_BYTES",
    "Keyring",
    "MemoryStore",
    "SQLiteStore",
    "SealError",
    "SessionData",
    "SessionManager",
    "Store",
    "store_from_url",
]
