"""The app's cookies, and the per-request state that carries them (pure ASGI middleware).

Three cookies, all HttpOnly and SameSite=Lax, and ``Secure`` + ``__Host-`` whenever the public URL
is https: the session id, a browser id (binds CSRF tokens and login transactions to this browser
before sign-in) and the short-lived logout state. Their values are random; nothing about the
user ever reaches the browser.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .session import SessionData

__all__ = [
    "SCOPE_KEY",
    "CookiePolicy",
    "RequestAuth",
    "SessionCookieMiddleware",
    "parse_cookie_header",
]

SCOPE_KEY = "zitadel_bff"
BROWSER_ID_BYTES = 32
MAX_COOKIE_VALUE = 256
COOKIE_VALUE_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    secure: bool
    session_max_age: int
    base_name: str = "zbff"

    def name(self, kind: str) -> str:
        prefix = "__Host-" if self.secure else ""
        return f"{prefix}{self.base_name}_{kind}"

    def header(self, kind: str, value: str, max_age: int | None) -> bytes:
        parts = [f"{self.name(kind)}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return "; ".join(parts).encode("latin-1")


@dataclass(slots=True)
class RequestAuth:
    """What one request knows about its browser; lives in ``scope["zitadel_bff"]``."""

    policy: CookiePolicy
    session_id: str | None = None
    browser_id: str | None = None
    logout_state: str | None = None
    session: SessionData | None = None
    loaded: bool = False
    set_cookie: list[bytes] = field(default_factory=list)

    def start_session(self, session_id: str, data: SessionData) -> None:
        self.session_id = session_id
        self.session = data
        self.loaded = True
        max_age = self.policy.session_max_age
        self.set_cookie.append(self.policy.header("session", session_id, max_age))

    def end_session(self) -> None:
        if self.session_id is not None:
            self.set_cookie.append(self.policy.header("session", "", 0))
        self.session_id = None
        self.session = None
        self.loaded = True

    def ensure_browser_id(self) -> str:
        if self.browser_id is None:
            self.browser_id = secrets.token_urlsafe(BROWSER_ID_BYTES)
            self.set_cookie.append(self.policy.header("browser", self.browser_id, None))
        return self.browser_id

    def set_logout_state(self, state: str, max_age: int) -> None:
        self.set_cookie.append(self.policy.header("logout", state, max_age))

    def clear_logout_state(self) -> None:
        self.set_cookie.append(self.policy.header("logout", "", 0))


def parse_cookie_header(header: str, names: dict[str, str]) -> dict[str, str]:
    """Our cookies from one ``Cookie`` header, read as browsers send them (RFC 6265 5.4): pairs
    split on ``;``, each name and value split at the first ``=``, whitespace trimmed.

    Other cookies on the host may hold anything (quotes, spaces, JSON, backslashes); they are
    skipped, never a reason to lose ours. ``names`` maps a cookie name to the kind we store it as;
    the first well-formed value of a name wins, as in browsers' most-specific-path-first order.
    """
    found: dict[str, str] = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        if not sep:
            continue
        kind = names.get(name.strip())
        if kind is None or kind in found:
            continue
        value = value.strip()
        if 0 < len(value) <= MAX_COOKIE_VALUE and _is_token(value):
            found[kind] = value
    return found


def _is_token(value: str) -> bool:
    # Our values are url-safe base64; anything else was not set by us.
    return all(c in COOKIE_VALUE_CHARS for c in value)


class SessionCookieMiddleware:
    """Reads the app's cookies into :class:`RequestAuth` and writes back what handlers queued."""

    def __init__(self, app: ASGIApp, *, policy: CookiePolicy) -> None:
        self.app = app
        self.policy = policy
        self._names = {policy.name(k): k for k in ("session", "browser", "logout")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = RequestAuth(self.policy)
        for key, value in scope["headers"]:
            if key == b"cookie":
                found = parse_cookie_header(value.decode("latin-1"), self._names)
                state.session_id = state.session_id or found.get("session")
                state.browser_id = state.browser_id or found.get("browser")
                state.logout_state = state.logout_state or found.get("logout")
        scope[SCOPE_KEY] = state

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start" and state.set_cookie:
                headers = list(message.get("headers", ()))
                headers.extend((b"set-cookie", c) for c in state.set_cookie)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookies)
