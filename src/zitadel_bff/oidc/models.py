"""The values the OIDC client works with: the provider's discovery document, one login
attempt's secrets, and a validated token response."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ProviderMisconfigured
from ..observability.untrusted import shown

__all__ = ["AuthRequest", "ProviderMetadata", "TokenSet", "new_auth_request", "token_set"]

#: 32 random bytes -> 43 url-safe characters: 256 bits for state, nonce and the PKCE verifier
#: (RFC 7636 4.1 asks for 43-128 characters).
RANDOM_BYTES = 32


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    end_session_endpoint: str | None = None
    token_endpoint_auth_methods: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, doc: dict[str, Any], expected_issuer: str) -> ProviderMetadata:
        issuer = doc.get("issuer")
        if not isinstance(issuer, str):
            raise ProviderMisconfigured("the discovery document names no issuer")
        # OIDC Discovery 4.3: the issuer must be identical to the one we asked (ZITADEL_DOMAIN is
        # stored without a trailing slash, so "https://op/" matches a configured "https://op/").
        if issuer.rstrip("/") != expected_issuer.rstrip("/"):
            raise ProviderMisconfigured(
                f"discovery issuer {shown(repr(issuer))} differs from ZITADEL_DOMAIN "
                f"{expected_issuer!r}"
            )
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
                   if not isinstance(doc.get(k), str)]
        if missing:
            raise ProviderMisconfigured(f"discovery lacks {', '.join(missing)}")

        def optional(key: str) -> str | None:
            value = doc.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            issuer=issuer,
            authorization_endpoint=doc["authorization_endpoint"],
            token_endpoint=doc["token_endpoint"],
            jwks_uri=doc["jwks_uri"],
            userinfo_endpoint=optional("userinfo_endpoint"),
            revocation_endpoint=optional("revocation_endpoint"),
            introspection_endpoint=optional("introspection_endpoint"),
            end_session_endpoint=optional("end_session_endpoint"),
            token_endpoint_auth_methods=tuple(
                m
                for m in doc.get("token_endpoint_auth_methods_supported") or ()
                if isinstance(m, str)
            ),
        )


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """One login attempt's secrets; kept server-side in the login transaction."""

    state: str
    nonce: str
    code_verifier: str


def new_auth_request() -> AuthRequest:
    return AuthRequest(
        state=secrets.token_urlsafe(RANDOM_BYTES),
        nonce=secrets.token_urlsafe(RANDOM_BYTES),
        code_verifier=secrets.token_urlsafe(RANDOM_BYTES),
    )


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A validated token response."""

    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_at: float | None
    id_claims: dict[str, Any]


def token_set(
    token: dict[str, Any], claims: dict[str, Any], *, fallback_refresh: str | None
) -> TokenSet:
    expires_in = token.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        expires_at = time.time() + float(expires_in)
    refresh = token.get("refresh_token")
    return TokenSet(
        access_token=token["access_token"],
        id_token=token.get("id_token") if isinstance(token.get("id_token"), str) else None,
        refresh_token=refresh if isinstance(refresh, str) else fallback_refresh,
        expires_at=expires_at,
        id_claims=claims,
    )
