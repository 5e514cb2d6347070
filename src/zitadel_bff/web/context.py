"""What one request knows about its browser: the module's cookies, the session (resolved lazily,
at most once), and the cookies to set on the response.

It lives in ``scope["zitadel_bff"]``, put there by :class:`~zitadel_bff.web.AuthMiddleware`.
A request that never asks for the session (a public page, an asset) costs no store read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SessionEnded
from ..sessions import Keyring, SessionData, SessionManager
from .cookies import CookiePolicy, CookieReader

__all__ = ["BROWSER_ID_BYTES", "SCOPE_KEY", "AuthContext", "AuthEnvironment", "context_of"]

SCOPE_KEY = "zitadel_bff"
BROWSER_ID_BYTES = 32


@dataclass(frozen=True, slots=True)
class AuthEnvironment:
    """What every request of one app shares: its cookie names and attributes, its session
    manager (asked for only when a session is: it exists once the app has started), and
    what the CSRF checks need (its keys, and its own origin)."""

    policy: CookiePolicy
    sessions: Callable[[], SessionManager]
    keyring: Keyring
    public_origin: str
    cookie_reader: CookieReader


class AuthContext:
    """Per-request auth state. ``session_id`` is the cookie as sent (possibly stale);
    :meth:`session` is the live session behind it.

    The request's headers are looked at on first use, so a request that never asks who is
    signed in does not read its ``Cookie`` or ``Authorization`` headers either.
    """

    __slots__ = (
        "_authorization",
        "_browser_id",
        "_headers",
        "_loaded",
        "_logout_state",
        "_session",
        "_session_id",
        "env",
        "set_cookie",
    )

    def __init__(self, env: AuthEnvironment, headers: list[tuple[bytes, bytes]]) -> None:
        """``headers``: the request's, read on first use."""
        self.env = env
        self.set_cookie: list[bytes] = []
        self._session: SessionData | None = None
        self._loaded = False
        self._headers: list[tuple[bytes, bytes]] | None = headers

    def _take(self, cookies: dict[str, str], authorization: str | None) -> None:
        self._headers = None
        self._session_id: str | None = cookies.get("session")
        self._browser_id: str | None = cookies.get("browser")
        self._logout_state: str | None = cookies.get("logout")
        self._authorization: str | None = authorization

    def _read_headers(self) -> None:
        """Our cookies and the Authorization header, in one pass over the request's headers."""
        headers = self._headers
        if headers is None:
            return
        cookie_headers = []
        authorization = None
        for key, value in headers:
            if key == b"cookie":
                cookie_headers.append(value)
            elif key == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
        cookies = self.env.cookie_reader.read(cookie_headers) if cookie_headers else {}
        self._take(cookies, authorization)

    @property
    def policy(self) -> CookiePolicy:
        return self.env.policy

    @property
    def keyring(self) -> Keyring:
        return self.env.keyring

    @property
    def public_origin(self) -> str:
        return self.env.public_origin

    @property
    def sessions(self) -> Callable[[], SessionManager]:
        return self.env.sessions

    @property
    def authorization(self) -> str | None:
        """The request's Authorization header (an API client's bearer token), if any."""
        self._read_headers()
        return self._authorization

    @property
    def session_id(self) -> str | None:
        self._read_headers()
        return self._session_id

    @property
    def browser_id(self) -> str | None:
        self._read_headers()
        return self._browser_id

    @property
    def logout_state(self) -> str | None:
        self._read_headers()
        return self._logout_state

    @property
    def current(self) -> SessionData | None:
        """The session if it was already resolved in this request (no I/O)."""
        return self._session

    async def session(self) -> SessionData | None:
        """The live session (its tokens refreshed when due), resolved once per request.

        Raises SessionEnded, once, when the cookie names a session that just ended (timed out,
        ended elsewhere, refresh refused), so the user can be told why; the cookie is cleared.
        """
        if self._loaded or self.resolved_now():
            return self._session
        self._loaded = True
        session_id = self._session_id
        if session_id is None:
            return None
        try:
            data = await self.env.sessions().load_fresh(session_id)
        except SessionEnded:
            self.end_session()
            raise
        if data is None:
            # The browser holds a session cookie the store no longer knows: the session timed
            # out (the store drops records at expiry) or was ended elsewhere. Say so, once.
            self.end_session()
            raise SessionEnded("the session is no longer known")
        self._session = data
        return data

    def resolved_now(self) -> bool:
        """Resolve the session without I/O when that is possible (no session cookie, or a
        session the manager vouches for at once: :meth:`SessionManager.peek`); True when it
        is resolved (:attr:`current`), False when :meth:`session` must ask the store."""
        if self._loaded:
            return True
        if self._headers is not None:
            self._read_headers()
        session_id = self._session_id
        if session_id is None:
            self._loaded = True
            return True
        data = self.env.sessions().peek(session_id)
        if data is None:
            return False
        self._session = data
        self._loaded = True
        return True

    async def optional_session(self) -> SessionData | None:
        """:meth:`session`, with an ended session read as no session (the cookie still goes)."""
        try:
            return await self.session()
        except SessionEnded:
            return None

    def start_session(self, session_id: str, data: SessionData) -> None:
        self._read_headers()
        self._session_id = session_id
        self._session = data
        self._loaded = True
        self.set_cookie.append(
            self.policy.header("session", session_id, self.policy.session_max_age)
        )

    def end_session(self) -> None:
        if self.session_id is not None:
            self.set_cookie.append(self.policy.header("session", "", 0))
        self._session_id = None
        self._session = None
        self._loaded = True

    def ensure_browser_id(self) -> str:
        browser_id = self.browser_id
        if browser_id is None:
            browser_id = self._browser_id = secrets.token_urlsafe(BROWSER_ID_BYTES)
            self.set_cookie.append(self.policy.header("browser", browser_id, None))
        return browser_id

    def csrf_binding(self) -> str:
        """What this browser's CSRF token is bound to: the live session when resolved, else
        the browser id (made now if the browser has none)."""
        session_id = self.session_id
        if self._session is not None and session_id is not None:
            return session_id
        return self.ensure_browser_id()

    def set_logout_state(self, state: str, max_age: int) -> None:
        self.set_cookie.append(self.policy.header("logout", state, max_age))

    def clear_logout_state(self) -> None:
        self.set_cookie.append(self.policy.header("logout", "", 0))


def context_of(scope: Any) -> AuthContext:
    """The request's context; raises a clear error when the middleware is missing."""
    try:
        context: AuthContext = scope[SCOPE_KEY]
    except KeyError:
        raise RuntimeError(
            "zitadel-bff's middleware is not installed: call ZitadelAuth.install(app)"
        ) from None
    return context
