"""In front of APIs and apps: the API proxy (API_ROUTES) and the gateway (UPSTREAM_URL).

Both are pure ASGI, installed by :meth:`ZitadelAuth.install`: the API routes are answered by
the module's middleware before any router (a cheap prefix test per request), the gateway as
the router's default, so it gets every path no route of the app (``/auth/*``, health, the
host's own routes) serves. Each decides who may pass; :class:`~zitadel_bff.web.ReverseProxy`
forwards.

- API routes: a signed-in session (else 401 JSON), its access token as ``Authorization: Bearer``
  (refreshed first when due, single flight), and for unsafe methods the CSRF token in
  ``X-CSRF-Token`` plus the same Origin / Sec-Fetch-Site check as forms (else 403 JSON).
- Gateway: a signed-in session (browsers are sent to sign in, API clients get 401), except
  under PUBLIC_PATHS, which are forwarded without identity. Identity travels in
  ``X-Forwarded-User/-Email/-Preferred-Username/-Groups`` (and ``X-Forwarded-Access-Token``
  with UPSTREAM_PASS_ACCESS_TOKEN). Unsafe methods must pass the Origin / Sec-Fetch-Site check;
  the CSRF token is the upstream app's own business (its forms do not know ours).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from ..config import Settings, parse_api_routes
from ..errors import BFFError, NotAuthenticated, SessionEnded
from ..observability import shown
from ..observability.metrics import NullMetrics
from ..sessions import SessionData
from ..web import (
    CSRF_HEADER,
    SAFE_METHODS,
    UPSTREAM_ROUTE,
    ProxyRequest,
    Upstream,
    check_origin,
    check_token,
    client_request_headers,
    context_of,
)
from .handlers import login_redirect
from .messages import message_for
from .rendering import error_response, wants_json

if TYPE_CHECKING:
    from .module import ZitadelAuth

__all__ = [
    "ApiRoutes",
    "Gateway",
    "ProxyConfig",
    "api_routes",
    "identity_headers",
    "install_proxy",
]

logger = logging.getLogger(__name__)

CONTROL_CHARS = dict.fromkeys(range(0x20), " ") | {0x7F: " "}


class ProxyConfig:
    """The API routes (API_ROUTES plus those declared in code) and the gateway settings."""

    def __init__(self, settings: Settings, api_routes: Mapping[str, str] | None = None) -> None:
        self.api: dict[str, Upstream] = {}
        for prefix, url in settings.api_route_map.items():
            self.api[prefix] = Upstream.parse(prefix, url)
        for prefix, url in (api_routes or {}).items():
            self.add(prefix, url)
        self.gateway = Upstream.parse("/", settings.upstream_url) if settings.upstream_url else None
        self.public_paths = settings.public_path_list
        self.pass_access_token = settings.upstream_pass_access_token

    def add(self, prefix: str, url: str) -> None:
        """Declare an API route: ``prefix`` (e.g. ``/api/orders``) to the base ``url``; checked as
        API_ROUTES entries are (raises ValueError)."""
        checked = parse_api_routes(f"{prefix}={url}")
        for clean, base in checked.items():
            if clean in self.api:
                raise ValueError(f"{clean} is declared twice")
            self.api[clean] = Upstream.parse(clean, base)

    @property
    def active(self) -> bool:
        return bool(self.api) or self.gateway is not None

    def is_public(self, path: str) -> bool:
        for prefix in self.public_paths:
            if prefix == "/":
                if path == "/":
                    return True
            elif path == prefix or path.startswith(prefix + "/"):
                return True
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _header_value(value: str) -> str:
    # Claims and tokens come from the provider, but a header must never be split by one.
    return value.translate(CONTROL_CHARS)


def identity_headers(session: SessionData) -> list[tuple[str, str]]:
    """(name suffix, value) pairs: User, Email, Preferred-Username, Groups (role keys, sorted,
    comma-separated); those without a value are left out."""
    profile = session.profile
    pairs = [
        ("User", session.sub),
        ("Email", profile.email or ""),
        ("Preferred-Username", profile.preferred_username or ""),
        ("Groups", ",".join(sorted(profile.roles))),
    ]
    return [(name, _header_value(value)) for name, value in pairs if value]


def _token(token: str) -> bytes:
    return _header_value(token).encode("utf-8")


def _bearer(token: str) -> bytes:
    return b"Bearer " + _token(token)


async def _signed_in(scope: Scope) -> SessionData:
    session = await context_of(scope).session()
    if session is None:
        raise NotAuthenticated("sign in to use this address")
    return session


def _check_origin(scope: Scope) -> None:
    check_origin(
        _header(scope, b"origin"),
        _header(scope, b"sec-fetch-site"),
        context_of(scope).public_origin,
    )


#: The route label of requests the gateway answered (API routes are labelled by prefix).
GATEWAY_ROUTE = "gateway"


def _counted(metrics: NullMetrics, route: str, send: Send) -> Send:
    """``send``, counting the answer's status for ``route`` (only when metrics are on)."""

    async def counting_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            metrics.proxied(route, message["status"])
        await send(message)

    return counting_send


def _log(scope: Scope, exc: BFFError) -> None:
    level = logging.WARNING if exc.status >= 500 else logging.INFO
    logger.log(level, "%s %s -> %s: %s", scope["method"], shown(scope["path"]), exc.code,
               shown(exc))


class ApiRoutes:
    """Every API route, answered by :class:`~zitadel_bff.web.AuthMiddleware` before any router
    (as the module's own routes are); the longest matching prefix wins."""

    def __init__(self, auth: ZitadelAuth, upstreams: list[Upstream]) -> None:
        self.auth = auth
        self.upstreams = sorted(upstreams, key=lambda u: len(u.prefix), reverse=True)

    def find(self, path: str) -> Upstream | None:
        for upstream in self.upstreams:
            if upstream.matches(path):
                return upstream
        return None

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        upstream: Upstream = scope[UPSTREAM_ROUTE]
        if self.auth.metrics.enabled:
            send = _counted(self.auth.metrics, upstream.prefix, send)
        try:
            request = await self._request(scope, upstream)
            await self.auth.proxy.forward(scope, receive, send, request)
        except BFFError as exc:
            _log(scope, exc)
            body = {"error": exc.code, "message": message_for(exc.code).title}
            await JSONResponse(body, status_code=exc.status)(scope, receive, send)

    async def _request(self, scope: Scope, upstream: Upstream) -> ProxyRequest:
        unsafe = scope["method"] not in SAFE_METHODS
        # The checks without I/O first: the session is looked up (maybe refreshed) only for
        # requests that could be forwarded.
        url = upstream.url_for(scope)
        if unsafe:
            _check_origin(scope)
        session = await _signed_in(scope)
        if unsafe:
            context = context_of(scope)
            check_token(context.keyring, _header(scope, CSRF_HEADER.encode()), context.session_id)
        headers = client_request_headers(scope)
        headers.append((b"authorization", _bearer(session.access_token)))
        return ProxyRequest(url, headers)


class Gateway:
    """The router's default: every path the app does not serve goes to UPSTREAM_URL."""

    def __init__(self, auth: ZitadelAuth, upstream: Upstream, config: ProxyConfig) -> None:
        self.auth = auth
        self.upstream = upstream
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the router sends only http and websocket here
            await send({"type": "websocket.close", "code": 1003})  # not proxied
            return
        if self.auth.metrics.enabled:
            send = _counted(self.auth.metrics, GATEWAY_ROUTE, send)
        try:
            request = await self._request(scope)
            await self.auth.proxy.forward(scope, receive, send, request)
        except BFFError as exc:
            _log(scope, exc)
            await self._refuse(scope, receive, send, exc)

    async def _request(self, scope: Scope) -> ProxyRequest:
        url = self.upstream.url_for(scope)
        if scope["method"] not in SAFE_METHODS:
            _check_origin(scope)
        headers = client_request_headers(scope)
        if not self.config.is_public(scope["path"]):
            session = await _signed_in(scope)
            headers.extend(
                (f"x-forwarded-{name.lower()}".encode("ascii"), value.encode("utf-8"))
                for name, value in identity_headers(session)
            )
            if self.config.pass_access_token:
                headers.append((b"x-forwarded-access-token", _token(session.access_token)))
        return ProxyRequest(url, headers, upstream_owned=True)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, exc: BFFError) -> None:
        request = Request(scope, receive)
        if isinstance(exc, NotAuthenticated) and not wants_json(request):
            error = exc.code if isinstance(exc, SessionEnded) else None
            response = login_redirect(request, error)
        else:
            response = await error_response(request, exc.code, status=exc.status)
        await response(scope, receive, send)


def api_routes(auth: ZitadelAuth) -> ApiRoutes | None:
    """The API routes, for the middleware to answer (None when there are none)."""
    config = auth.proxy_config
    return ApiRoutes(auth, list(config.api.values())) if config.api else None


def install_proxy(auth: ZitadelAuth, app: FastAPI) -> None:
    """The gateway as the router's default (the API routes are the middleware's)."""
    config = auth.proxy_config
    if config.gateway is not None:
        app.router.default = Gateway(auth, config.gateway, config)
