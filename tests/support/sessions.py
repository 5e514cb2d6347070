"""Sessions made directly, without a sign-in: what a completed sign-in would have stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zitadel_bff.sessions import SessionData
from zitadel_bff.sessions.record import TokenUpdate

__all__ = [
    "ADMIN_SUB",
    "ALICE_SUB",
    "ORG_ID",
    "NoRefresher",
    "Tokens",
    "alice_claims",
    "claims_for",
    "new_session",
]

ADMIN_SUB = "301234567890123456"
ALICE_SUB = "301234567890123457"
ORG_ID = "301234567890123000"
ORG_NAME = "ACME"
ORG_DOMAIN = "acme.localhost"
#: How long the access tokens of sessions made here live.
TOKEN_LIFETIME = 43200.0


@dataclass(frozen=True)
class Tokens:
    """A token response, as the provider client returns it after validation."""

    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_at: float | None


class NoRefresher:
    """For session managers whose tokens never come due in the test."""

    async def refresh(self, refresh_token: str, *, sub: str) -> TokenUpdate:
        raise AssertionError("no refresh is due in this test")


def claims_for(
    sub: str = ADMIN_SUB,
    *,
    name: str = "Ada Admin",
    email: str = "admin@acme.localhost",
    roles: tuple[str, ...] = ("admin", "user"),
    **extra: Any,
) -> dict[str, Any]:
    """ID token and userinfo claims as ZITADEL sends them (default: the provider's admin)."""
    return {
        "sub": sub,
        "name": name,
        "email": email,
        "email_verified": True,
        "urn:zitadel:iam:org:project:roles": {role: {ORG_ID: ORG_DOMAIN} for role in roles},
        "urn:zitadel:iam:user:resourceowner:id": ORG_ID,
        "urn:zitadel:iam:user:resourceowner:name": ORG_NAME,
        "urn:zitadel:iam:user:resourceowner:primary_domain": ORG_DOMAIN,
        **extra,
    }


def alice_claims() -> dict[str, Any]:
    """The provider's ``alice``: a user without the admin role."""
    return claims_for(
        ALICE_SUB, name="Alice Example", email="alice@acme.localhost", roles=("user",)
    )


def new_session(
    now: float,
    *,
    sub: str = ADMIN_SUB,
    claims: dict[str, Any] | None = None,
    sid: str | None = "sid-1",
    refresh_token: str | None = "rt-1",
    token_lifetime: float = TOKEN_LIFETIME,
) -> SessionData:
    """The session a sign-in at ``now`` would have created (tokens "at-1", "id-1", "rt-1"; by
    default the admin's claims, with ``auth_time`` ``now``)."""
    tokens = Tokens("at-1", "id-1", refresh_token, now + token_lifetime)
    claims = claims or claims_for(sub, auth_time=int(now))
    return SessionData.from_tokens(tokens, sub=sub, claims=claims, sid=sid, now=now)
