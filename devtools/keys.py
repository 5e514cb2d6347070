"""Application key files the way ZITADEL's console gives them, for private_key_jwt.

The demo and the tests make a fresh key pair: the private half in a ZITADEL-format key file for
the app (``ZITADEL_CLIENT_KEY_FILE``), the public half as a JWK set for the development
provider (``OP_CLIENT_JWKS_FILE``). Nothing of it is committed.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

__all__ = ["ApplicationKey", "write_application_key"]

KEY_BITS = 2048


@dataclass(frozen=True)
class ApplicationKey:
    key_file: Path
    public_jwks: Path
    key_id: str


def write_application_key(directory: Path, client_id: str, *, app_id: str = "") -> ApplicationKey:
    """Write ``<client>-key.json`` (ZITADEL's format, mode 0600) and its public JWK set."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN RSA PRIVATE KEY", as ZITADEL
        serialization.NoEncryption(),
    ).decode()
    key_id = str(secrets.randbelow(10**18)).zfill(18)  # ZITADEL ids are 18-digit numbers
    document = {
        "type": "application",
        "keyId": key_id,
        "key": pem,
        "appId": app_id or str(secrets.randbelow(10**18)).zfill(18),
        "clientId": client_id,
    }
    key_file = directory / "application-key.json"
    key_file.write_text(json.dumps(document))
    key_file.chmod(0o600)
    public = RSAKey.import_key(pem).as_dict(private=False)
    public.update({"kid": key_id, "use": "sig", "alg": "RS256"})
    public_jwks = directory / "application-key.jwks.json"
    public_jwks.write_text(json.dumps({"keys": [public]}))
    return ApplicationKey(key_file=key_file, public_jwks=public_jwks, key_id=key_id)
