"""The embedded default: one SQLite file (WAL mode), shared by the workers on one machine.

Queries run directly on the event loop: an indexed lookup in WAL mode takes tens of
microseconds, less than handing it to a thread pool would. Purges delete in small batches and
yield between them, so concurrent requests never wait long. :meth:`SQLiteStore.lock` is a row
in the file, so that ``serve --workers N`` refreshes a session's tokens once across processes.

Reads of a record this connection already read skip the query while nothing has changed in
the file, and this connection's own writes update or drop what it remembers; the file stays the
source of truth. "Nothing has changed" is the WAL-index header at the start of the ``-shm``
file, read through a read-only memory map: SQLite rewrites it on every commit of any
connection (its ``iChange`` counter, the frame count and the checksums; the file format is
documented at https://sqlite.org/walformat.html), and a commit becomes visible to SQLite's
own readers only when that header is written. Comparing 48 mapped bytes costs a fraction of a
microsecond where ``PRAGMA data_version`` (the fallback, when there is no ``-shm`` file to map)
costs as much as the lookup it saves. Whatever the header shows that is not an exact match
(a commit, a checkpoint, a torn read during a write) only makes the next read query the file.
"""

from __future__ import annotations

import asyncio
import logging
import mmap
import os
import secrets
import sqlite3
import struct
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from ...errors import StoreUnavailable
from .base import Entry, Store

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

# Each deleted record dirties about one page: 100 per batch keeps a batch to a few ms; the
# longest pauses left are the WAL checkpoints batches trigger (docs/PERFORMANCE.md).
PURGE_BATCH = 100
# records is a rowid table on purpose: its ~2 KB rows would make a WITHOUT ROWID b-tree deep
# and sparse (SQLite advises WITHOUT ROWID only for rows under ~1/20 of a page).
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_expires_at ON records (expires_at);
CREATE TABLE IF NOT EXISTS tags (
    tag TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (tag, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_key ON tags (key);
CREATE TABLE IF NOT EXISTS locks (
    key TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
"""
#: The first copy of the WAL-index header (WalIndexHdr): what every commit rewrites.
WAL_INDEX_HEADER = 48
#: Its iVersion field, for the format this reading relies on.
WAL_INDEX_VERSION = 3007000
#: Records remembered from reads, while the file is unchanged by others (see the docstring).
READ_CACHE_SIZE = 1024
#: How often a lock held by another process is asked for again (seconds).
LOCK_POLL = 0.02
#: Take a lock that is free, or whose holder let it expire (a crashed process).
ACQUIRE_LOCK = """
INSERT INTO locks (key, token, expires_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
WHERE locks.expires_at <= ?
"""


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileExistsError):
        return "a file of that name exists"
    return (exc.strerror or str(exc)).lower()


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = exc.filename or path.parent
        raise StoreUnavailable(f"cannot create directory {where}: {_reason(exc)}") from exc


def _os_reason(path: Path) -> str | None:
    """The operating system's reason SQLite could not open ``path``, when it has one.

    SQLite says only "unable to open database file". Opening the file itself, and a scratch
    file beside it (WAL mode creates ``-wal`` and ``-shm`` files there), names the cause.
    """
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        return _reason(exc)
    return None


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
    except sqlite3.Error:
        db.close()
        raise
    return db


def _map_wal_index(path: str) -> mmap.mmap | None:
    """A read-only map of the database's WAL index (``<path>-shm``), or None when there is none
    in the documented format (then reads ask ``PRAGMA data_version`` instead). The file exists
    for as long as this store's connection is open: SQLite removes it only when the last
    connection closes."""
    try:
        with open(path + "-shm", "rb") as file:
            shm = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    if len(shm) < WAL_INDEX_HEADER or struct.unpack_from("=I", shm)[0] != WAL_INDEX_VERSION:
        shm.close()
        return None
    return shm


class SQLiteStore(Store):
    """Raises StoreUnavailable, naming the path and the reason, when the file is unusable."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        in_memory = self.path == ":memory:"
        if not in_memory:
            _make_parent(Path(self.path))
        try:
            self._db = _connect(self.path)
        except sqlite3.Error as exc:
            reason = None if in_memory else _os_reason(Path(self.path))
            raise StoreUnavailable(
                f"cannot open SQLite database {self.path}: {reason or exc}"
            ) from exc
        # key -> the live Entry last read or written here, valid while data_version holds.
        self._read: dict[str, Entry] = {}
        self._version: object = None
        wal = self._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        self._shm = _map_wal_index(self.path) if wal and not in_memory else None

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``."""
        path = url.removeprefix("sqlite:///")
        if path == url or not path:
            raise ValueError(
                "SQLite URLs are sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        return cls(path)

    @staticmethod
    def _unavailable(exc: sqlite3.Error) -> StoreUnavailable:
        logger.error("SQLite store error: %s", exc)
        return StoreUnavailable(f"SQLite store error: {exc}")

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _unchanged(self, db: sqlite3.Connection) -> bool:
        """True while nothing was committed since the last call (and then the records
        remembered in ``_read`` are what the file holds); else forgets them."""
        shm = self._shm
        version: object
        if shm is not None:
            version = shm[:WAL_INDEX_HEADER]
        else:
            version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return True
        self._version = version
        self._read.clear()
        return False

    def _remember(self, key: str, entry: Entry) -> None:
        if len(self._read) >= READ_CACHE_SIZE:
            self._read.clear()
        self._read[key] = entry

    def _select(self, db: sqlite3.Connection, key: str, now: float) -> Entry | None:
        if self._unchanged(db):
            entry = self._read.get(key)
            if entry is not None:
                return entry if entry.expires_at > now else None
        row = db.execute(
            "SELECT value, expires_at FROM records WHERE key = ? AND expires_at > ?", (key, now)
        ).fetchone()
        if row is None:
            return None
        entry = Entry(bytes(row[0]), float(row[1]))
        self._remember(key, entry)
        return entry

    async def get(self, key: str) -> Entry | None:
        try:
            return self._select(self._db, key, time.time())
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc

    def peek(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        # The session hot path: a remembered live record in an unchanged file, whose expiry
        # is not due to move, costs a 48-byte comparison and a dictionary lookup.
        shm = self._shm
        if shm is None or shm[:WAL_INDEX_HEADER] != self._version:
            return None
        entry = self._read.get(key)
        if (
            entry is not None
            and entry.expires_at > time.time()
            and abs(expires_at - entry.expires_at) < min_step
        ):
            return entry
        return None

    async def get_and_touch(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        # The query unless the file is unchanged, the write only when the expiry is due.
        try:
            entry = self._select(self._db, key, time.time())
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        if entry is None or abs(expires_at - entry.expires_at) < min_step:
            return entry
        if not await self.touch(key, expires_at):
            return None
        return Entry(entry.value, expires_at)

    async def set(
        self, key: str, value: bytes, expires_at: float, tags: Sequence[str] = ()
    ) -> None:
        self._read.pop(key, None)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO records (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, expires_at),
            )
            db.execute("DELETE FROM tags WHERE key = ?", (key,))
            if tags:
                db.executemany(
                    "INSERT OR IGNORE INTO tags (tag, key) VALUES (?, ?)", [(t, key) for t in tags]
                )

    async def update(self, key: str, value: bytes) -> bool:
        self._read.pop(key, None)
        with self._guard() as db:
            cur = db.execute(
                "UPDATE records SET value = ? WHERE key = ? AND expires_at > ?",
                (value, key, time.time()),
            )
        return cur.rowcount > 0

    async def touch(self, key: str, expires_at: float) -> bool:
        entry = self._read.pop(key, None)
        with self._guard() as db:
            cur = db.execute(
                "UPDATE records SET expires_at = ? WHERE key = ? AND expires_at > ?",
                (expires_at, key, time.time()),
            )
        if cur.rowcount == 0:
            return False
        if entry is not None:
            self._remember(key, Entry(entry.value, expires_at))
        return True

    async def delete(self, key: str) -> bool:
        self._read.pop(key, None)
        with self._transaction() as db:
            db.execute("DELETE FROM tags WHERE key = ?", (key,))
            return db.execute("DELETE FROM records WHERE key = ?", (key,)).rowcount > 0

    async def pop(self, key: str) -> bytes | None:
        self._read.pop(key, None)
        with self._transaction() as db:
            row = db.execute(
                "DELETE FROM records WHERE key = ? RETURNING value, expires_at", (key,)
            ).fetchone()
            db.execute("DELETE FROM tags WHERE key = ?", (key,))
        if row is None or row[1] <= time.time():
            return None
        return bytes(row[0])

    async def add(self, key: str, expires_at: float) -> bool:
        self._read.pop(key, None)
        with self._transaction() as db:
            db.execute("DELETE FROM records WHERE key = ? AND expires_at <= ?", (key, time.time()))
            cur = db.execute(
                "INSERT OR IGNORE INTO records (key, value, expires_at) VALUES (?, x'', ?)",
                (key, expires_at),
            )
            return cur.rowcount > 0

    async def delete_tagged(self, tag: str) -> int:
        with self._transaction() as db:
            keys = [r[0] for r in db.execute("SELECT key FROM tags WHERE tag = ?", (tag,))]
            for key in keys:
                self._read.pop(key, None)
            for key in keys:
                db.execute("DELETE FROM tags WHERE key = ?", (key,))
            return sum(
                db.execute("DELETE FROM records WHERE key = ?", (k,)).rowcount for k in keys
            )

    async def count(self, prefix: str = "") -> int:
        with self._guard() as db:
            row = db.execute(
                "SELECT count(*) FROM records WHERE key >= ? AND key < ? AND expires_at > ?",
                (prefix, prefix + "\U0010ffff", time.time()),
            ).fetchone()
        return int(row[0])

    async def purge_expired(self) -> int:
        total = 0
        while True:
            with self._transaction() as db:
                keys = [
                    r[0]
                    for r in db.execute(
                        "DELETE FROM records WHERE key IN (SELECT key FROM records "
                        "WHERE expires_at <= ? LIMIT ?) RETURNING key",
                        (time.time(), PURGE_BATCH),
                    )
                ]
                db.executemany("DELETE FROM tags WHERE key = ?", [(k,) for k in keys])
            total += len(keys)
            if len(keys) < PURGE_BATCH:
                with self._guard() as db:
                    db.execute("DELETE FROM locks WHERE expires_at <= ?", (time.time(),))
                return total
            await asyncio.sleep(0)  # let waiting requests run between batches

    async def ping(self) -> None:
        with self._guard() as db:
            db.execute("SELECT 1").fetchone()

    def _try_lock(self, key: str, token: str, ttl: float) -> bool:
        now = time.time()
        with self._guard() as db:
            return db.execute(ACQUIRE_LOCK, (key, token, now + ttl, now)).rowcount > 0

    @asynccontextmanager
    async def lock(self, key: str, ttl: float) -> AsyncIterator[bool]:
        """A row in ``locks``, shared by every process using the file; polled until granted
        or ``ttl`` has passed (then yields False: the lock is NOT held). A holder that dies
        leaves a row that expires after ``ttl``."""
        token = secrets.token_hex(16)
        deadline = time.monotonic() + ttl
        acquired = self._try_lock(key, token, ttl)
        while not acquired and time.monotonic() < deadline:
            await asyncio.sleep(LOCK_POLL)
            acquired = self._try_lock(key, token, ttl)
        try:
            yield acquired
        finally:
            if acquired:
                self._release(key, token)

    def _release(self, key: str, token: str) -> None:
        try:
            with self._guard() as db:
                db.execute("DELETE FROM locks WHERE key = ? AND token = ?", (key, token))
        except StoreUnavailable as exc:
            logger.warning("releasing a SQLite lock failed (it expires by itself): %s", exc)

    async def close(self) -> None:
        if self._shm is not None:
            self._shm.close()
            self._shm = None
        self._db.close()
