"""What one request knows about its browser: the module's cookies, the session (resolved lazily,
at most once), and the cookies to set on the response.

It lives in ``scope["zitadel_bff"]``, put there by :class:`~zitadel_bff.web.AuthMiddleware`.
A request that never asks for the session (a public page, an asset) costs no store read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ..errors import SessionEnded
from ..sessions import Keyring, SessionData, SessionManager
from .cookies import CookiePolicy, CookieReader

__all__ = ["BROWSER_ID_BYTES", "SCOPE_KEY", "AuthContext", "context_of"]

SCOPE_KEY = "zitadel_bff"
BROWSER_ID_BYTES = 32


class AuthContext:
    """Per-request auth state. ``session_id`` is the cookie as sent (possibly stale);
    :meth:`session` is the live session behind it.

    The cookies are read from the request on first use (``read_cookies``), so a request that
    never asks who is signed in does not parse its ``Cookie`` header either.
    """

    __slots__ = (
        "_browser_id",
        "_cookie_headers",
        "_cookie_reader",
        "_loaded",
        "_logout_state",
        "_session",
        "_session_id",
        "authorization",
        "keyring",
        "policy",
        "public_origin",
        "sessions",
        "set_cookie",
    )

    def __init__(
        self,
        policy: CookiePolicy,
        sessions: Callable[[], SessionManager],
        cookies: dict[str, str] | None = None,
        *,
        keyring: Keyring,
        public_origin: str,
        cookie_headers: list[bytes] | None = None,
        cookie_reader: CookieReader | None = None,
        authorization: str | None = None,
    ) -> None:
        self.policy = policy
        #: The request's Authorization header (an API client's bearer token), if any.
        self.authorization = authorization
        #: What the CSRF checks of this request's app need: its keys, and its own origin.
        self.keyring = keyring
        self.public_origin = public_origin
        #: The session manager, asked for only when the session is (it exists once started).
        self.sessions = sessions
        self.set_cookie: list[bytes] = []
        self._session: SessionData | None = None
        self._loaded = False
        self._cookie_headers = cookie_headers
        self._cookie_reader = cookie_reader
        if cookie_headers is None or cookie_reader is None:
            self._take(cookies or {})

    def _take(self, cookies: dict[str, str]) -> None:
        self._cookie_headers = None
        self._session_id: str | None = cookies.get("session")
        self._browser_id: str | None = cookies.get("browser")
        self._logout_state: str | None = cookies.get("logout")

    def _cookies_read(self) -> None:
        if self._cookie_headers is not None:
            assert self._cookie_reader is not None
            self._take(self._cookie_reader.read(self._cookie_headers))

    @property
    def session_id(self) -> str | None:
        self._cookies_read()
        return self._session_id

    @property
    def browser_id(self) -> str | None:
        self._cookies_read()
        return self._browser_id

    @property
    def logout_state(self) -> str | None:
        self._cookies_read()
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
            data = await self.sessions().load_fresh(session_id)
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
        if self._cookie_headers is not None:
            self._cookies_read()
        session_id = self._session_id
        if session_id is None:
            self._loaded = True
            return True
        data = self.sessions().peek(session_id)
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
        self._cookies_read()
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
