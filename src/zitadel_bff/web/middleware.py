"""The module's one pure ASGI middleware: everything it does to every HTTP request.

- The module's assets (``/auth/static/...``) are answered at once, before any router; so are
  the module's own routes, by the module's own app, and the API proxy's routes (the host's
  router never sees them).
- The module's cookies are read into an :class:`AuthContext` in ``scope["zitadel_bff"]``; the
  session behind them is resolved only if a handler asks (public routes pay nothing).
- On the way out: the security headers the response did not set itself, and the cookies the
  handlers queued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import is_loopback_host
from ..sessions import Keyring, SessionManager
from .context import SCOPE_KEY, AuthContext, AuthEnvironment
from .cookies import CookiePolicy, CookieReader
from .headers import DOCUMENT_TYPES, SecurityHeaders
from .proxy import UPSTREAM_OWNED
from .static import MemoryStaticFiles
from .upstreams import Upstream

__all__ = ["UPSTREAM_ROUTE", "ApiDispatch", "AuthMiddleware"]

#: The scope key of the API route (an :class:`Upstream`) a request was found under.
UPSTREAM_ROUTE = "zitadel_bff.upstream_route"


class ApiDispatch(Protocol):
    """The API proxy's routes, as the middleware asks them (``zitadel_bff.auth.proxy``)."""

    def find(self, path: str) -> Upstream | None:
        """The upstream whose prefix ``path`` is under, if any."""

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request (forwarded, or refused) for ``scope[UPSTREAM_ROUTE]``."""


class AuthMiddleware:
    """``sessions`` returns the session manager (it exists once the app has started);
    ``keyring`` and ``public_origin`` are what the CSRF checks need (see AuthContext)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions: Callable[[], SessionManager],
        policy: CookiePolicy,
        keyring: Keyring,
        public_origin: str,
        headers: SecurityHeaders,
        static: MemoryStaticFiles | None = None,
        module: ASGIApp | None = None,
        module_prefix: str = "/auth/",
        module_paths: frozenset[str] = frozenset(),
        before_app: Callable[[], None] | None = None,
        api: ApiDispatch | None = None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.policy = policy
        self.keyring = keyring
        self.public_origin = public_origin
        self.headers = headers
        self.header_names = frozenset(name for name, _ in headers.document + headers.other)
        self.static = static
        self.static_prefix = static.prefix + "/" if static is not None else None
        self.module = module
        self.module_prefix = module_prefix
        self.module_paths = module_paths
        #: Called before each request the app (not the module) serves: e.g. gating new routes.
        self.before_app = before_app
        #: The API routes (API_ROUTES), answered before any router as the module's own are.
        self.api = api
        self.env = AuthEnvironment(
            policy=policy,
            sessions=sessions,
            keyring=keyring,
            public_origin=public_origin,
            cookie_reader=CookieReader(policy.names),
        )
        self.loopback_alias = _loopback_alias(public_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every request passes here, so this stays flat: no helper calls unless there is
        # something to do, and the headers are read here only for the development-only
        # loopback redirect (the context reads cookies when someone asks who is signed in).
        if self.loopback_alias is not None:
            location = self._public_origin_location(scope)
            if location is not None:
                await _redirect(send, location)
                return
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # ASGI puts the root_path inside ``path``
            path = path[len(root):]
        if self.static_prefix is not None and path.startswith(self.static_prefix):
            assert self.static is not None
            await self.static(scope, receive, self._sender(send, []))
            return
        context = AuthContext(self.env, scope["headers"])
        scope[SCOPE_KEY] = context
        set_cookie = context.set_cookie

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._response_headers(message, set_cookie)
            await send(message)

        own = self._own_app(path, scope)
        if own is not None:
            await own(scope, receive, send_with_headers)
            return
        if self.before_app is not None:
            self.before_app()
        await self.app(scope, receive, send_with_headers)

    def _own_app(self, path: str, scope: Scope) -> ASGIApp | None:
        """The module's app or the API proxy, when they serve this path (not the host's)."""
        if self.module is not None and (
            path.startswith(self.module_prefix) or path in self.module_paths
        ):
            return self.module
        if self.api is not None:
            upstream = self.api.find(path)
            if upstream is not None:
                scope[UPSTREAM_ROUTE] = upstream
                return self.api.serve
        return None

    def _public_origin_location(self, scope: Scope) -> str | None:
        """In development the app may be reached as ``localhost`` while its public URL says
        ``127.0.0.1`` (or the other way round): cookies are per host, so nothing would work.
        Safe requests are sent to the public origin; only loopback names are ever redirected,
        so a proxy's Host header in production can never cause a loop."""
        assert self.loopback_alias is not None
        host = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
                break
        if host is None or host == self.loopback_alias[0]:
            return None  # the common case: the public origin itself
        if scope["method"] not in ("GET", "HEAD"):
            return None
        name, _, port = host.decode("latin-1").rpartition(":")
        if port != self.loopback_alias[1] or not is_loopback_host(name.strip("[]")):
            return None
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        location = self.public_origin + raw_path.decode("latin-1")
        if query:
            location += "?" + query.decode("latin-1")
        return location

    def _sender(self, send: Send, set_cookie: list[bytes]) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._response_headers(message, set_cookie)
            await send(message)

        return send_with_headers

    def _response_headers(
        self, message: Message, set_cookie: list[bytes]
    ) -> list[tuple[bytes, bytes]]:
        raw = message.get("headers") or []
        if message.get(UPSTREAM_OWNED):
            # A gateway answer: the upstream app chose its own headers (CSP, caching).
            return [*raw, *((b"set-cookie", cookie) for cookie in set_cookie)]
        names = self.header_names
        content_type = None
        overridden = False
        for name, value in raw:
            name = name.lower()
            if name == b"content-type":
                content_type = value
            elif name in names:
                overridden = True
        headers = self.headers
        ours = (
            headers.document
            if content_type is None or content_type.startswith(DOCUMENT_TYPES)
            else headers.other
        )
        if overridden:  # the response's own headers win over ours
            present = {name.lower() for name, _ in raw}
            ours = [h for h in ours if h[0] not in present]
        if set_cookie:
            return [*raw, *ours, *((b"set-cookie", cookie) for cookie in set_cookie)]
        return [*raw, *ours]


def _loopback_alias(public_origin: str) -> tuple[bytes, str] | None:
    """(the public Host header, its port) when the public origin is on a loopback host."""
    parts = urlsplit(public_origin)
    if not is_loopback_host(parts.hostname):
        return None
    port = str(parts.port or (443 if parts.scheme == "https" else 80))
    return parts.netloc.encode("latin-1"), port


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 307,
                "headers": [(b"location", location.encode("latin-1")),
                            (b"cache-control", b"no-store"), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
