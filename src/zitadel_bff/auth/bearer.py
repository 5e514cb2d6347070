"""Bearer-token APIs beside the browser session: ``Authorization: Bearer <access token>``.

ZITADEL's access tokens are opaque by default, so a token is validated by introspection
(RFC 7662, authenticated as this client): it must be ``active`` and name this client (or a
ZITADEL_API_AUDIENCES entry) in ``aud``. With ZITADEL_JWT_ACCESS_TOKENS, tokens that are JWTs are
checked locally against the provider's keys instead. The user it yields is a
:class:`~zitadel_bff.UserProfile` built from the token's claims, so ZITADEL's role map and the
role guards work as for signed-in browsers.

Results are cached per token (keyed by its SHA-256, never the token): a valid one for at most
:data:`POSITIVE_TTL` seconds (and never past its ``exp``), a refused one for only
:data:`NEGATIVE_TTL` seconds, so a revoked token stops working within seconds.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..errors import InvalidBearerToken
from ..oidc import OIDCClient, UserProfile

__all__ = ["NEGATIVE_TTL", "POSITIVE_TTL", "BearerValidator", "bearer_token"]

logger = logging.getLogger(__name__)

POSITIVE_TTL = 30.0
NEGATIVE_TTL = 5.0
CACHE_SIZE = 4096
MAX_TOKEN_LENGTH = 8192


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 2.1), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class BearerValidator:
    def __init__(
        self,
        oidc: OIDCClient,
        *,
        audiences: frozenset[str],
        jwt_tokens: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.oidc = oidc
        self.audiences = audiences
        self.jwt_tokens = jwt_tokens
        self.clock = clock
        self._cache: OrderedDict[bytes, tuple[float, UserProfile | None]] = OrderedDict()

    async def user(self, token: str) -> UserProfile:
        """The user the token stands for; InvalidBearerToken when it does not."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidBearerToken("the access token is too long")
        key = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(key)
        now = self.clock()
        if cached is not None and cached[0] > now:
            if cached[1] is None:
                raise InvalidBearerToken("the access token was refused a moment ago")
            return cached[1]
        try:
            claims = await self._claims(token)
        except InvalidBearerToken:
            self._remember(key, now + NEGATIVE_TTL, None)
            raise
        profile = UserProfile.from_claims(claims)
        lifetime = POSITIVE_TTL
        exp = claims.get("exp")
        if isinstance(exp, int | float):
            lifetime = min(lifetime, max(0.0, exp - time.time()))
        self._remember(key, now + lifetime, profile)
        return profile

    async def _claims(self, token: str) -> dict[str, Any]:
        if self.jwt_tokens and token.count(".") == 2:
            return await self.oidc.validator.access_token(token, audiences=self.audiences)
        claims = await self.oidc.introspect(token)
        if claims.get("active") is not True:
            raise InvalidBearerToken("the access token is not active")
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not self.audiences.intersection(a for a in auds if isinstance(a, str)):
            raise InvalidBearerToken("the access token was issued for another audience")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidBearerToken("the access token names no user")
        return claims

    def _remember(self, key: bytes, until: float, profile: UserProfile | None) -> None:
        self._cache[key] = (until, profile)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
