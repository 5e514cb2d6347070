"""Keys derived from SESSION_SECRET, and the AES-GCM sealing of session records.

Each purpose gets its own key (HKDF-SHA256 with a distinct ``info``), so a value made for one use
can never be replayed in another. Store keys are HMACs of the cookie id: a copy of the database
does not contain a usable cookie. Records are bound to their store key as AES-GCM associated
data, so two records cannot be swapped.

Rotation: a Keyring made with ``previous`` secrets still opens what they sealed, accepts the CSRF
tokens they signed and names the store keys they made (:meth:`Keyring.previous_lookup_keys`),
while everything new is sealed, signed and keyed under the current secret only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Keyring", "SealError"]

NONCE_BYTES = 12
VERSION = b"\x01"


class SealError(ValueError):
    """A sealed value is malformed, tampered with, or was sealed under another secret."""


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


#: CSRF tokens remembered per secret (the oldest go first): about one per active browser.
CSRF_CACHE_SIZE = 1024


class _Keys:
    """The keys of one secret."""

    __slots__ = ("_csrf_tokens", "aead", "csrf_key", "id_key")

    def __init__(self, secret: str) -> None:
        raw = secret.encode("utf-8")
        self.aead = AESGCM(_derive(raw, b"zitadel-bff/session-record/v1"))
        self.id_key = _derive(raw, b"zitadel-bff/store-key/v1")
        self.csrf_key = _derive(raw, b"zitadel-bff/csrf/v1")
        # Every page with a form prints its browser's token: computed once per binding.
        self._csrf_tokens: dict[str, str] = {}

    def lookup_key(self, namespace: str, value: str) -> str:
        mac = hmac.new(self.id_key, f"{namespace}:{value}".encode(), hashlib.sha256).digest()
        return namespace + ":" + base64.urlsafe_b64encode(mac[:24]).decode("ascii")

    def csrf_token(self, binding: str) -> str:
        token = self._csrf_tokens.get(binding)
        if token is None:
            mac = hmac.new(self.csrf_key, binding.encode(), hashlib.sha256).digest()
            token = base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")
            if len(self._csrf_tokens) >= CSRF_CACHE_SIZE:
                self._csrf_tokens.pop(next(iter(self._csrf_tokens)))
            self._csrf_tokens[binding] = token
        return token


class Keyring:
    """Every key the app derives from SESSION_SECRET (and SESSION_SECRET_PREVIOUS)."""

    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        self._current = _Keys(secret)
        self._previous = tuple(_Keys(old) for old in previous)

    @property
    def rotating(self) -> bool:
        """True while previous secrets are configured."""
        return bool(self._previous)

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._current.aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, *, aad: bytes) -> bytes:
        """The plaintext of a value sealed under the current or a previous secret."""
        return self.open_current(sealed, aad=aad)[0]

    def open_current(self, sealed: bytes, *, aad: bytes) -> tuple[bytes, bool]:
        """The plaintext, and whether it was sealed under the current secret (False: reseal
        it at its next write)."""
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
            raise SealError("not a sealed record")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._current.aead.decrypt(nonce, body, aad), True
        except InvalidTag:
            pass
        for keys in self._previous:
            try:
                return keys.aead.decrypt(nonce, body, aad), False
            except InvalidTag:
                continue
        raise SealError("record does not authenticate")

    def lookup_key(self, namespace: str, value: str) -> str:
        """A store key for a secret or personal value: HMAC, so the value itself is not stored."""
        return self._current.lookup_key(namespace, value)

    def previous_lookup_keys(self, namespace: str, value: str) -> list[str]:
        """The store keys the previous secrets made for ``value``, newest first."""
        return [keys.lookup_key(namespace, value) for keys in self._previous]

    def lookup_matches(self, namespace: str, value: str, stored: str) -> bool:
        """Whether ``stored`` is the lookup key of ``value`` under any configured secret."""
        return any(
            hmac.compare_digest(stored.encode(), keys.lookup_key(namespace, value).encode())
            for keys in (self._current, *self._previous)
        )

    def csrf_token(self, binding: str) -> str:
        return self._current.csrf_token(binding)

    def csrf_valid(self, token: str, binding: str) -> bool:
        """Tokens signed under the current or a previous secret (pages rendered before a
        rotation keep working); new pages get tokens under the current one."""
        raw = token.encode()
        if hmac.compare_digest(raw, self._current.csrf_token(binding).encode()):
            return True
        return any(
            hmac.compare_digest(raw, keys.csrf_token(binding).encode()) for keys in self._previous
        )
