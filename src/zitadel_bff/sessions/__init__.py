"""Server-side sessions: the record, its sealing, the manager and the stores.

No HTTP and no OIDC client here: refreshing reaches the provider through :class:`Refresher`.
"""

from .manager import SESSION_ID_BYTES, Refresher, SessionManager
from .record import SessionData, TokenUpdate
from .sealing import Keyring, SealError
from .stores import Entry, MemoryStore, SQLiteStore, Store, store_from_url

__all__ = [
    "SESSION_ID_BYTES",
    "Entry",
    "Keyring",
    "MemoryStore",
    "Refresher",
    "SQLiteStore",
    "SealError",
    "SessionData",
    "SessionManager",
    "Store",
    "TokenUpdate",
    "store_from_url",
]
