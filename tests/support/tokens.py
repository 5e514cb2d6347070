"""Signed provider JWTs for the validator tests: keys, claims resolved when the test runs, and
a JWKS fetcher that counts its calls."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import Key, RSAKey

from tests.support.times import resolve
from zitadel_bff.oidc.keys import JWKSCache
from zitadel_bff.oidc.tokens import BACKCHANNEL_EVENT, TokenValidator

__all__ = [
    "ACCESS",
    "CLIENT",
    "ISSUER",
    "KEY",
    "OTHER",
    "Fetcher",
    "at_hash",
    "id_claims",
    "logout_claims",
    "sign",
    "validator",
]

ISSUER = "https://zitadel.example.com"
CLIENT = "243864426485212395@project"
KEY = RSAKey.generate_key(2048, parameters={"kid": "1", "use": "sig", "alg": "RS256"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "2", "use": "sig", "alg": "RS256"})
ACCESS = "opaque-access-token"


def at_hash(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(claims: dict[str, Any], key: RSAKey = KEY, **header: Any) -> str:
    head = {"alg": "RS256", "kid": key.kid, "typ": "JWT", **header}
    head = {k: v for k, v in head.items() if v is not None}
    return jwt.encode(head, claims, key)


def id_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "301234567890123456",
        "aud": [CLIENT, "243864426485212394"],
        "azp": CLIENT,
        "exp": now + 300,
        "iat": now,
        "nonce": "n-1",
        "sid": "sid-1",
        "at_hash": at_hash(ACCESS),
    }
    claims.update(resolve(changes, now))
    return {k: v for k, v in claims.items() if v is not None}


class Fetcher:
    def __init__(self, *keys: Key) -> None:
        self.keys = list(keys)
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"keys": [k.as_dict(private=False) for k in self.keys]}


def validator(fetch: Fetcher | None = None, leeway: int = 0) -> TokenValidator:
    return TokenValidator(
        issuer=ISSUER,
        client_id=CLIENT,
        alg="RS256",
        leeway=leeway,
        jwks=JWKSCache(fetch or Fetcher(KEY)),
    )


def logout_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": [CLIENT],
        "iat": now,
        "exp": now + 900,
        "jti": "j-1",
        "sub": "301234567890123456",
        "sid": "sid-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    claims.update(resolve(changes, now))
    return {k: v for k, v in claims.items() if v is not None}
