"""``private_key_jwt`` client authentication the way ZITADEL expects it (RFC 7523, section 3).

The assertion: RS256, header ``kid`` = the key file's keyId; ``iss`` = ``sub`` = the client id,
``aud`` = the issuer (ZITADEL checks for its issuer, not the token endpoint's URL), a short
``exp``, and a fresh ``jti`` for every request. Authlib signs it; this only sets those values.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import RSAKey

from ..keyfile import ClientKey

__all__ = ["ASSERTION_LIFETIME", "PRIVATE_KEY_JWT", "ZitadelKeyJWT"]

PRIVATE_KEY_JWT = "private_key_jwt"
#: Seconds an assertion is valid (RFC 7523 asks for a limited time; ZITADEL allows up to 1 h).
ASSERTION_LIFETIME = 300


class ZitadelKeyJWT(PrivateKeyJWT):  # type: ignore[misc]  # Authlib is untyped
    """Registered on the Authlib client for the token, revocation and introspection calls."""

    def __init__(self, key: ClientKey, audience: str) -> None:
        super().__init__(token_endpoint=audience, headers=None, claims=None, alg="RS256")
        self.key_id = key.key_id
        self.private_key = RSAKey.import_key(key.private_key)

    def sign(self, auth: Any, token_endpoint: str) -> str:
        # A new claims dict per call: Authlib adds the jti to the dict it is given.
        assertion: str = private_key_jwt_sign(
            self.private_key,
            client_id=auth.client_id,
            token_endpoint=self.token_endpoint or token_endpoint,
            alg="RS256",
            claims={},
            header={"kid": self.key_id, "typ": "JWT"},
            expires_in=ASSERTION_LIFETIME,
        )
        return assertion
