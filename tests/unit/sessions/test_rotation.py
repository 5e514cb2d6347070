"""SESSION_SECRET_PREVIOUS in-process: the keyring reads what old secrets made, the manager moves
sessions to the current secret at their next use and still finds the unmoved ones."""

from __future__ import annotations

import time

import pytest

from zitadel_bff.sessions import (
    Keyring,
    MemoryStore,
    SealError,
    SessionData,
    SessionManager,
    TokenUpdate,
)
from zitadel_bff.sessions.manager import SESSION_NS

OLD = "the-old-session-secret-0123456789-abcdefgh"
OLDER = "an-even-older-session-secret-0123456789-xyz"
NEW = "the-new-session-secret-0123456789-abcdefgh"
SUB = "301234567890123456"


class NoRefresh:
    async def refresh(self, refresh_token: str, *, sub: str) -> TokenUpdate:
        raise AssertionError("no refresh is due")


def manager(store: MemoryStore, secret: str, *previous: str) -> SessionManager:
    return SessionManager(store=store, keyring=Keyring(secret, previous), refresher=NoRefresh(),
                          idle_timeout=3600, max_lifetime=86400)


def record(sid: str = "sid-1") -> SessionData:
    now = time.time()
    return SessionData(sub=SUB, claims={"sub": SUB}, access_token="at", id_token="it",
                       refresh_token="rt", access_expires_at=now + 3600, oidc_sid=sid,
                       created_at=now, refresh_at=now + 3540)


def test_the_keyring_opens_and_verifies_what_previous_secrets_made() -> None:
    old, rotated = Keyring(OLD), Keyring(NEW, [OLDER, OLD])
    sealed = old.seal(b"claims", aad=b"k")
    assert rotated.open_current(sealed, aad=b"k") == (b"claims", False)
    assert rotated.open_current(rotated.seal(b"x", aad=b"k"), aad=b"k") == (b"x", True)
    with pytest.raises(SealError):
        Keyring(NEW).open(sealed, aad=b"k")
    assert rotated.csrf_valid(old.csrf_token("browser"), "browser")
    assert rotated.csrf_token("browser") == Keyring(NEW).csrf_token("browser")
    assert not Keyring(NEW).csrf_valid(old.csrf_token("browser"), "browser")
    assert rotated.previous_lookup_keys("s", "id") == [
        Keyring(OLDER).lookup_key("s", "id"), old.lookup_key("s", "id")
    ]
    assert rotated.lookup_matches("browser", "b", old.lookup_key("browser", "b"))
    assert not Keyring(NEW).lookup_matches("browser", "b", old.lookup_key("browser", "b"))


async def test_a_session_moves_to_the_current_secret_at_its_next_use() -> None:
    store = MemoryStore()
    session_id = await manager(store, OLD).create(record())
    old_key = Keyring(OLD).lookup_key(SESSION_NS, session_id)
    new_key = Keyring(NEW).lookup_key(SESSION_NS, session_id)

    assert await manager(store, NEW).load(session_id) is None  # without the old secret
    rotated = manager(store, NEW, OLD)
    loaded = await rotated.load(session_id)
    assert loaded is not None and loaded.sub == SUB
    assert await store.get(old_key) is None
    moved = await store.get(new_key)
    assert moved is not None
    assert Keyring(NEW).open_current(moved.value, aad=new_key.encode())[1] is True
    # ... and is found without the old secret from now on, by sid too
    assert await manager(store, NEW).load(session_id) is not None
    assert await manager(store, NEW).end_by_sid("sid-1") == 1


async def test_sessions_not_yet_moved_still_end_by_sid_and_sub() -> None:
    store = MemoryStore()
    first = await manager(store, OLD).create(record("sid-1"))
    second = await manager(store, OLD).create(record("sid-2"))
    rotated = manager(store, NEW, OLD)
    assert await rotated.end_by_sid("sid-1") == 1
    assert await rotated.load(first) is None
    assert await rotated.end_by_sub(SUB) == 1
    assert await rotated.load(second) is None


async def test_sign_ins_and_replay_markers_made_before_a_rotation_count_after_it() -> None:
    store = MemoryStore()
    old = manager(store, OLD)
    await old.put_transaction("state-1", {"nonce": "n"}, 600)
    assert await old.first_use("jti", "token-1", time.time() + 600) is True
    rotated = manager(store, NEW, OLD)
    assert await rotated.take_transaction("state-1") == {"nonce": "n"}
    assert await rotated.take_transaction("state-1") is None  # still once only
    assert await rotated.first_use("jti", "token-1", time.time() + 600) is False
