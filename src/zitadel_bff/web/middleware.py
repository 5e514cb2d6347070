"""The module's one pure ASGI middleware: everything it does to every HTTP request.

- The module's assets (``/auth/static/...``) are answered at once, before any router.
- The module's cookies are read into an :class:`AuthContext` in ``scope["zitadel_bff"]``; the
  session behind them is resolved only if a handler asks (public routes pay nothing).
- On the way out: the security headers the response did not set itself, and the cookies the
  handlers queued.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..sessions import SessionManager
from .context import SCOPE_KEY, AuthContext
from .cookies import CookiePolicy, parse_cookie_header
from .static import MemoryStaticFiles

__all__ = ["AuthMiddleware"]


class AuthMiddleware:
    """``sessions`` returns the session manager (it exists once the app has started)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions: Callable[[], SessionManager],
        policy: CookiePolicy,
        headers: list[tuple[bytes, bytes]],
        static: MemoryStaticFiles | None = None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.policy = policy
        self.headers = headers
        self.header_names = frozenset(name for name, _ in headers)
        self.static = static
        self.static_prefix = static.prefix + "/" if static is not None else None
        self.cookie_names = policy.names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._is_asset(scope):
            assert self.static is not None
            await self.static(scope, receive, self._sender(send, []))
            return
        context = AuthContext(self.policy, self.sessions, self._cookies(scope))
        scope[SCOPE_KEY] = context
        await self.app(scope, receive, self._sender(send, context.set_cookie))

    def _sender(self, send: Send, set_cookie: list[bytes]) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._response_headers(message, set_cookie)
            await send(message)

        return send_with_headers

    def _is_asset(self, scope: Scope) -> bool:
        # Under a root_path the mount in the router serves them instead.
        return (
            self.static_prefix is not None
            and not scope.get("root_path")
            and scope["path"].startswith(self.static_prefix)
        )

    def _cookies(self, scope: Scope) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in scope["headers"]:
            if key == b"cookie":
                # Several Cookie headers (HTTP/2 may split them): the first value of each wins.
                for kind, cookie in parse_cookie_header(
                    value.decode("latin-1"), self.cookie_names
                ).items():
                    found.setdefault(kind, cookie)
        return found

    def _response_headers(
        self, message: Message, set_cookie: list[bytes]
    ) -> list[tuple[bytes, bytes]]:
        raw = list(message.get("headers", ()))
        present = {name.lower() for name, _ in raw} & self.header_names
        if present:
            raw.extend(h for h in self.headers if h[0] not in present)
        else:
            raw.extend(self.headers)
        raw.extend((b"set-cookie", cookie) for cookie in set_cookie)
        return raw
