"""Validation of the JWTs the provider sends us: ID tokens and back-channel logout tokens.

Signature checks pin the algorithm (never ``none``, never an HMAC with the public key), and the
key is found by kid (refetching the JWKS for an unknown kid) or, when the token has no kid, by
trying each key of the algorithm's key type (OIDC Core 10.1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64decode

from ..errors import (
    BFFError,
    InvalidBearerToken,
    InvalidIDToken,
    InvalidLogoutToken,
    UserinfoMismatch,
)
from ..observability.untrusted import shown
from .keys import KEY_TYPES_BY_ALG, JWKSCache

__all__ = ["BACKCHANNEL_EVENT", "TokenValidator"]

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPES = frozenset({None, "JWT", "logout+jwt", "application/logout+jwt"})
MAX_TOKEN_LENGTH = 16 * 1024


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise ValueError("not a compact JWS")
    header = json_b64decode(token.split(".", 1)[0].encode("ascii"))
    if not isinstance(header, dict):
        raise ValueError("bad JOSE header")
    return header


class TokenValidator:
    """Verifies signatures and claims for one provider and one client."""

    def __init__(
        self, *, issuer: str, client_id: str, alg: str, leeway: int, jwks: JWKSCache
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.alg = alg
        self.leeway = leeway
        self.jwks = jwks
        self._registry = JWSRegistry(algorithms=[alg], strict_check_header=False)

    async def _verified(
        self, token: str, error: type[BFFError], what: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """:meth:`_verify`, with every failure raised as ``error``."""
        try:
            return await self._verify(token)
        except (ValueError, TypeError, KeyError, JoseError) as exc:
            raise error(f"{what} rejected: {shown(exc)}") from exc

    async def _verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check the signature; return (header, claims). Raises ValueError on any failure.

        The key is the one the header's kid names, or, for a token without a kid, the single
        key of the pinned algorithm's type (OIDC Core 10.1: kid is required only when the JWKS
        holds several). Either way, a token the cached keys cannot verify makes the JWKS be
        refetched once (rate limited) before it is refused: the provider may have rotated.
        """
        header = _header(token)
        if header.get("alg") != self.alg:
            # Anybody may write the header (a posted logout token, a bearer token).
            raise ValueError(f"alg {shown(repr(header.get('alg')))} is not the pinned {self.alg}")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise ValueError("kid is not a string")
        keys = await self.jwks.key_set()
        claims = self._verify_with(token, self._candidates(keys, kid))
        if claims is None:
            fresh = await self.jwks.refetch()
            if fresh is not keys:
                claims = self._verify_with(token, self._candidates(fresh, kid))
        if claims is None:
            raise ValueError("signature does not verify with any provider key")
        return header, claims

    def _verify_with(self, token: str, candidates: list[Any]) -> dict[str, Any] | None:
        for key in candidates:
            try:
                obj = jws.deserialize_compact(token, key, registry=self._registry)
            except JoseError:
                continue
            claims = json.loads(obj.payload)
            if not isinstance(claims, dict):
                raise ValueError("payload is not a JSON object")
            return claims
        return None

    def _candidates(self, keys: KeySet, kid: str | None) -> list[Any]:
        if kid is not None:
            return [k for k in keys.keys if k.kid == kid]
        kty = KEY_TYPES_BY_ALG.get(self.alg[:2])
        usable = [
            k for k in keys.keys
            if k.key_type == kty
            and k.get("use", "sig") == "sig"
            and k.get("alg", self.alg) == self.alg
        ]
        if len(usable) > 1:
            raise ValueError(f"the token has no kid and the provider has {len(usable)} keys")
        return usable

    async def id_token(
        self,
        token: str,
        *,
        nonce: str | None,
        access_token: str | None = None,
        expected_sub: str | None = None,
    ) -> dict[str, Any]:
        """Validate an ID token per OIDC Core 3.1.3.7 (and 12.2 for refreshed ones)."""
        try:
            header, claims = await self._verify(token)
            options: dict[str, Any] = {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
            }
            params = {"nonce": nonce, "client_id": self.client_id, "access_token": access_token}
            checked = CodeIDToken(claims, header, options, params)
            checked.validate(now=int(time.time()), leeway=self.leeway)
        except (ValueError, TypeError, KeyError, JoseError) as exc:
            raise InvalidIDToken(f"ID token rejected: {shown(exc)}") from exc
        if nonce is not None and claims.get("nonce") != nonce:
            raise InvalidIDToken("ID token rejected: nonce mismatch")
        if expected_sub is not None and claims.get("sub") != expected_sub:
            raise InvalidIDToken("refreshed ID token names another subject")
        return claims

    async def signed_userinfo(self, token: str) -> dict[str, Any]:
        """A userinfo JWT: signature, and iss/aud when present (OIDC Core 5.3.2)."""
        _, claims = await self._verified(token, UserinfoMismatch, "signed userinfo")
        aud = claims.get("aud", self.client_id)
        auds = aud if isinstance(aud, list) else [aud]
        if claims.get("iss", self.issuer) != self.issuer or self.client_id not in auds:
            raise UserinfoMismatch("signed userinfo was issued by or for someone else")
        return claims

    async def access_token(self, token: str, *, audiences: frozenset[str]) -> dict[str, Any]:
        """A JWT access token (ZITADEL's "JWT" token type): signature with the provider's keys,
        ``iss``, ``exp`` (and ``nbf``) with the leeway, and an ``aud`` naming one of
        ``audiences`` (this client, or the project)."""
        _, claims = await self._verified(token, InvalidBearerToken, "access token")
        now = time.time()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        checks = (
            (claims.get("iss") != self.issuer, "issued by someone else"),
            (not isinstance(claims.get("exp"), int | float)
             or claims["exp"] < now - self.leeway, "expired"),
            (isinstance(claims.get("nbf"), int | float)
             and claims["nbf"] > now + self.leeway, "not yet valid"),
            (not audiences.intersection(a for a in auds if isinstance(a, str)),
             "issued for another audience"),
            (not isinstance(claims.get("sub"), str) or not claims["sub"], "no subject"),
        )
        for failed, reason in checks:
            if failed:
                raise InvalidBearerToken(f"access token rejected: {reason}")
        return claims

    async def logout_token(self, token: str) -> dict[str, Any]:
        """Validate a logout token per OIDC Back-Channel Logout 1.0, section 2.6."""
        header, claims = await self._verified(token, InvalidLogoutToken, "logout token")
        # ZITADEL sends typ "JWT"; the spec recommends "logout+jwt" (2.4): accept both.
        if header.get("typ") not in LOGOUT_TOKEN_TYPES:
            raise InvalidLogoutToken("logout token has an unexpected typ")
        problem = self._logout_claims_problem(claims)
        if problem:
            raise InvalidLogoutToken(f"logout token rejected: {problem}")
        return claims

    def _logout_claims_problem(self, claims: Mapping[str, Any]) -> str | None:
        now = time.time()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        events = claims.get("events")
        checks = (
            (claims.get("iss") != self.issuer, "wrong iss"),
            (self.client_id not in auds, "wrong aud"),
            (not isinstance(claims.get("iat"), int | float), "iat missing"),
            (isinstance(claims.get("iat"), int | float)
             and claims["iat"] > now + self.leeway, "iat in the future"),
            (not isinstance(claims.get("exp"), int | float)
             or claims["exp"] < now - self.leeway, "expired or exp missing"),
            (not isinstance(claims.get("jti"), str) or not claims["jti"], "jti missing"),
            (not isinstance(events, Mapping)
             or not isinstance(events.get(BACKCHANNEL_EVENT), Mapping), "events claim wrong"),
            ("nonce" in claims, "nonce present"),
            ("sid" in claims and not _nonempty_str(claims["sid"]), "sid is not a string"),
            ("sub" in claims and not _nonempty_str(claims["sub"]), "sub is not a string"),
            ("sid" not in claims and "sub" not in claims, "neither sid nor sub"),
        )
        for failed, reason in checks:
            if failed:
                return reason
        return None
