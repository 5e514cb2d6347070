"""Sessions made directly, without a sign-in: what a completed sign-in would have stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zitadel_bff.sessions import SessionData
from zitadel_bff.sessions.record import TokenUpdate

__all__ = ["ADMIN_SUB", "ALICE_SUB", "NoRefresher", "Tokens", "admin_claims", "new_session"]

ADMIN_SUB = "301234567890123456"
ALICE_SUB = "301234567890123457"
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


def admin_claims(sub: str = ADMIN_SUB, **extra: Any) -> dict[str, Any]:
    """ID token and userinfo claims as ZITADEL sends them for the provider's ``admin`` user."""
    return {
        "sub": sub,
        "name": "Ada Admin",
        "email": "admin@acme.localhost",
        "email_verified": True,
        "urn:zitadel:iam:org:project:roles": {
            "admin": {"301234567890123000": "acme.localhost"},
            "user": {"301234567890123000": "acme.localhost"},
        },
        **extra,
    }


def new_session(
    now: float,
    *,
    sub: str = ADMIN_SUB,
    claims: dict[str, Any] | None = None,
    sid: str | None = "sid-1",
    refresh_token: str | None = "rt-1",
    token_lifetime: float = TOKEN_LIFETIME,
) -> SessionData:
    """The session a sign-in at ``now`` would have created (tokens "at-1", "id-1", "rt-1")."""
    tokens = Tokens("at-1", "id-1", refresh_token, now + token_lifetime)
    return SessionData.from_tokens(
        tokens, sub=sub, claims=claims or admin_claims(sub), sid=sid, now=now
    )
