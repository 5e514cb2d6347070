"""Sealing session records (AES-GCM, bound to their store key) and the keyed lookup hashes."""

from __future__ import annotations

import pytest

from zitadel_bff.sessions import sealing
from zitadel_bff.sessions.sealing import Keyring, SealError

SECRET = "s" * 40


def test_seal_round_trip_and_binding() -> None:
    keys = Keyring(SECRET)
    sealed = keys.seal(b"hello", aad=b"s:1")
    assert b"hello" not in sealed
    assert keys.open(sealed, aad=b"s:1") == b"hello"
    assert keys.seal(b"hello", aad=b"s:1") != sealed  # random nonce
    with pytest.raises(SealError):
        keys.open(sealed, aad=b"s:2")  # moved to another key
    with pytest.raises(SealError):
        Keyring("t" * 40).open(sealed, aad=b"s:1")  # another secret
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        keys.open(tampered, aad=b"s:1")
    with pytest.raises(SealError):
        keys.open(b"\x02" + sealed[1:], aad=b"s:1")
    with pytest.raises(SealError):
        keys.open(b"short", aad=b"s:1")


def test_lookup_keys_are_keyed_hashes() -> None:
    keys = Keyring(SECRET)
    key = keys.lookup_key("s", "cookie-value")
    assert key.startswith("s:") and "cookie-value" not in key
    assert key == keys.lookup_key("s", "cookie-value")
    assert key != keys.lookup_key("sid", "cookie-value")
    assert key != Keyring("t" * 40).lookup_key("s", "cookie-value")


def test_csrf_tokens_are_remembered_per_binding_within_a_bound() -> None:
    keyring = Keyring("s" * 48)
    first = keyring.csrf_token("browser-1")
    assert keyring.csrf_token("browser-1") == first != keyring.csrf_token("browser-2")
    for i in range(sealing.CSRF_CACHE_SIZE + 10):
        keyring.csrf_token(f"browser-{i}")
    assert len(keyring._current._csrf_tokens) == sealing.CSRF_CACHE_SIZE
    assert keyring.csrf_token("browser-1") == first  # computed again, the same
    assert keyring.csrf_valid(first, "browser-1") and not keyring.csrf_valid(first, "browser-2")
