"""The session record: what the server keeps for one signed-in browser, and how token
responses update it. Plain data: no store, no HTTP, no provider."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from ..oidc.claims import UserProfile

__all__ = ["REFRESH_SKEW", "SessionData", "TokenUpdate"]

#: Refresh this long before the access token expires.
REFRESH_SKEW = 60.0


class TokenUpdate(Protocol):
    """What a token response gives a session (``oidc.TokenSet`` satisfies it)."""

    @property
    def access_token(self) -> str: ...
    @property
    def id_token(self) -> str | None: ...
    @property
    def refresh_token(self) -> str | None: ...
    @property
    def expires_at(self) -> float | None: ...


@dataclass(slots=True)
class SessionData:
    """What the server keeps for one signed-in browser. Never sent to the browser."""

    sub: str
    claims: dict[str, Any]
    access_token: str
    id_token: str | None
    refresh_token: str | None
    access_expires_at: float | None
    oidc_sid: str | None
    created_at: float
    #: When the tokens were last refreshed (None: never since sign-in); shown on the profile.
    refreshed_at: float | None = None
    refresh_at: float | None = None
    #: When the session ends unless used again (the store's expiry; not part of the record).
    expires_at: float = field(default=0.0, compare=False)
    _profile: UserProfile | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_tokens(
        cls,
        tokens: TokenUpdate,
        *,
        sub: str,
        claims: dict[str, Any],
        sid: str | None,
        now: float,
    ) -> SessionData:
        """A new session for a completed sign-in; ``sid`` is the provider's session id."""
        data = cls(
            sub=sub,
            claims=claims,
            access_token=tokens.access_token,
            id_token=None,
            refresh_token=None,
            access_expires_at=None,
            oidc_sid=sid or None,
            created_at=now,
        )
        data.set_tokens(tokens, now)
        return data

    @property
    def profile(self) -> UserProfile:
        if self._profile is None:
            self._profile = UserProfile.from_claims(self.claims)
        return self._profile

    def to_json(self) -> bytes:
        data = asdict(self)
        data.pop("_profile", None)
        data.pop("expires_at", None)
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes, expires_at: float = 0.0) -> SessionData:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a session record is a JSON object")
        # Fields an older version wrote (e.g. last_seen) are ignored, not a reason to sign out.
        known = {f.name for f in fields(cls)} - {"_profile", "expires_at"}
        return cls(**{k: v for k, v in data.items() if k in known}, expires_at=expires_at)

    def needs_refresh(self, now: float) -> bool:
        due = self.refresh_at
        return self.refresh_token is not None and due is not None and now >= due

    def access_token_expired(self, now: float) -> bool:
        return self.access_expires_at is not None and now >= self.access_expires_at

    def set_tokens(self, tokens: TokenUpdate, now: float) -> None:
        """Take a token response; schedule the refresh REFRESH_SKEW before expiry, or halfway
        through a lifetime shorter than twice that (else every request would refresh)."""
        self.access_token = tokens.access_token
        if tokens.refresh_token is not None:
            self.refresh_token = tokens.refresh_token
        self.access_expires_at = tokens.expires_at
        if tokens.id_token:
            self.id_token = tokens.id_token
        self.refresh_at = None
        if tokens.expires_at is not None:
            lifetime = max(0.0, tokens.expires_at - now)
            self.refresh_at = now + max(lifetime - REFRESH_SKEW, lifetime / 2)
