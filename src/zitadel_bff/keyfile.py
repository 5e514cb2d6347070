"""ZITADEL's application key file, for ``private_key_jwt`` client authentication.

An application whose authentication method is "JWT" (or "Private Key JWT") gets key files from
the console (the app's Keys section)::

    {"type": "application", "keyId": "...", "key": "-----BEGIN RSA PRIVATE KEY-----...",
     "appId": "...", "clientId": "..."}

A *service account* key file looks alike but says ``"type": "serviceaccount"`` and carries a
``userId``: it authenticates a machine user, not this app, and is refused with that said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = ["ClientKey", "read_client_key"]

APPLICATION_TYPE = "application"
MAX_KEY_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ClientKey:
    """A parsed application key; ``private_key`` is the PEM text (never logged or shown)."""

    key_id: str
    client_id: str
    private_key: str = field(repr=False)
    app_id: str | None = None


def read_client_key(path: str | Path) -> ClientKey:
    """Read and check a key file; ValueError says what is wrong and what is needed."""
    document = _load(Path(path))
    kind = document.get("type")
    if kind == "serviceaccount":
        raise ValueError(
            "is a service-account key (type \"serviceaccount\"); this needs the application's "
            "key (type \"application\"): in the ZITADEL console open the application, set its "
            "authentication method to JWT and add a key there"
        )
    if kind != APPLICATION_TYPE:
        raise ValueError(f'has type {kind!r}; an application key file says "type": "application"')
    missing = [name for name in ("keyId", "key", "clientId") if not _text(document.get(name))]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    pem = str(document["key"])
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("holds a key that is not a readable PEM private key") from exc
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("holds a key that is not RSA (ZITADEL signs app keys with RS256)")
    app_id = document.get("appId")
    return ClientKey(
        key_id=str(document["keyId"]),
        client_id=str(document["clientId"]),
        private_key=pem,
        app_id=str(app_id) if app_id is not None else None,
    )


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc.strerror or exc.__class__.__name__}") from exc
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise ValueError("is too large to be a ZITADEL key file")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("is not JSON (download the key file as JSON from the console)") from exc
    if not isinstance(document, dict):
        raise ValueError("is not a JSON object")
    return document


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
