"""Keys derived from SESSION_SECRET, and the AES-GCM sealing of session records.

Each purpose gets its own key (HKDF-SHA256 with a distinct ``info``), so a value made for one use
can never be replayed in another. Store keys are HMACs of the cookie id: a copy of the database
does not contain a usable cookie. Records are bound to their store key as AES-GCM associated
data, so two records cannot be swapped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

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


class Keyring:
    """Every key the app derives from SESSION_SECRET."""

    def __init__(self, secret: str) -> None:
        raw = secret.encode("utf-8")
        self._aead = AESGCM(_derive(raw, b"zitadel-bff/session-record/v1"))
        self._id_key = _derive(raw, b"zitadel-bff/store-key/v1")
        self._csrf_key = _derive(raw, b"zitadel-bff/csrf/v1")

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, *, aad: bytes) -> bytes:
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
            raise SealError("not a sealed record")
        nonce = sealed[1 : 1 + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[1 + NONCE_BYTES :], aad)
        except InvalidTag as exc:
            raise SealError("record does not authenticate") from exc

    def lookup_key(self, namespace: str, value: str) -> str:
        """A store key for a secret or personal value: HMAC, so the value itself is not stored."""
        mac = hmac.new(self._id_key, f"{namespace}:{value}".encode(), hashlib.sha256).digest()
        return namespace + ":" + base64.urlsafe_b64encode(mac[:24]).decode("ascii")

    def csrf_token(self, binding: str) -> str:
        mac = hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def csrf_valid(self, token: str, binding: str) -> bool:
        return hmac.compare_digest(token.encode(), self.csrf_token(binding).encode())
