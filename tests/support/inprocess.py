"""The auth module in-process: an app served through httpx's ASGITransport (no port, no server
thread), its lifespan run by the test, sessions in a MemoryStore, the session manager on a clock
the test sets, and a scripted stand-in for the provider's HTTP endpoints.

For the dependencies and routes that need no real provider; every journey is also covered
against the development provider in tests/integration/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from tests.support.clients import SESSION_COOKIE
from tests.support.sessions import new_session
from tests.support.settings import settings_for
from tests.support.tokens import KEY
from zitadel_bff import (
    CurrentSession,
    CurrentUser,
    OptionalSession,
    OptionalUser,
    ProviderDenied,
    Settings,
    Store,
    ZitadelAuth,
    csrf_exempt,
    public,
    require_roles,
)
from zitadel_bff.sessions import MemoryStore, SessionData

__all__ = [
    "APP_URL",
    "HOST_ROUTES",
    "ISSUER",
    "PORT",
    "T0",
    "Browser",
    "FakeProvider",
    "ManualClock",
    "app_settings",
    "form_of",
    "host_app",
    "module_for",
    "query_of",
    "running",
]

#: The app's time when a test starts. Far ahead of the wall clock: the memory store drops
#: records by wall-clock time, and must not drop those the test's clock still holds live.
T0 = 4_000_000_000.0
PORT = 3000
APP_HOST = "127.0.0.1"
APP_URL = f"http://{APP_HOST}:{PORT}"
ISSUER = "https://zitadel.example"


class ManualClock:
    """Unix time that moves only when the test moves it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


JWKS = {"keys": [KEY.as_dict(private=False)]}
#: What the token endpoint answers: a JSON object (with 200), or a response as it is.
TokenAnswer = dict[str, Any] | httpx.Response


def _discovery(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/v2/authorize",
        "token_endpoint": f"{issuer}/oauth/v2/token",
        "jwks_uri": f"{issuer}/oauth/v2/keys",
        "userinfo_endpoint": f"{issuer}/oidc/v1/userinfo",
        "revocation_endpoint": f"{issuer}/oauth/v2/revoke",
        "end_session_endpoint": f"{issuer}/oidc/v1/end_session",
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }


@dataclass
class FakeProvider:
    """The provider's HTTP endpoints as a test scripts them, and every request made to them.

    ``codes`` maps authorization codes to the token response their exchange gives, once;
    ``refreshes`` are the token responses refresh grants give, one each (none left, or an
    unknown code: 400 invalid_grant); a token response is a JSON object, or an
    ``httpx.Response`` answered as it is; ``userinfo`` maps access tokens to the claims userinfo
    returns (others: 401); ``down`` makes every endpoint answer 503. Tokens are signed with
    tests.support.tokens.KEY, which the JWKS publishes.
    """

    issuer: str = ISSUER
    discovery: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, TokenAnswer] = field(default_factory=dict)
    refreshes: list[TokenAnswer] = field(default_factory=list)
    userinfo: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False
    requests: list[httpx.Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.discovery = self.discovery or _discovery(self.issuer)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            return httpx.Response(503, text="unavailable")
        routes: dict[str, Callable[[httpx.Request], httpx.Response]] = {
            "/.well-known/openid-configuration": lambda r: httpx.Response(200, json=self.discovery),
            "/oidc/v1/userinfo": self._userinfo,
            "/oauth/v2/keys": lambda r: httpx.Response(200, json=JWKS),
            "/oauth/v2/token": self._token,
            "/oauth/v2/revoke": lambda r: httpx.Response(200),
        }
        route = routes.get(request.url.path)
        return route(request) if route else httpx.Response(404)

    def _userinfo(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = self.userinfo.get(token)
        if claims is None:
            return httpx.Response(401, headers={"www-authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(200, json=claims)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = form_of(request)
        if form.get("grant_type") == "authorization_code":
            answer = self.codes.pop(form.get("code", ""), None)
        else:
            answer = self.refreshes.pop(0) if self.refreshes else None
        if answer is None:
            return httpx.Response(400, json={"error": "invalid_grant"})
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)


def form_of(request: httpx.Request) -> dict[str, str]:
    """The fields of a form the app posted to the provider."""
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def app_settings(**overrides: Any) -> Settings:
    """Settings of an app at APP_URL signing in at ISSUER, sessions in memory."""
    return settings_for(PORT, ISSUER, "memory://", **overrides)


#: The host app's own routes: the README's library example plus one route per dependency.
HOST_ROUTES = APIRouter()


@HOST_ROUTES.get("/")
@public
async def home() -> dict[str, str]:
    return {"hello": "world"}


@HOST_ROUTES.get("/api/me")
async def me(user: CurrentUser) -> dict[str, object]:
    return {"sub": user.sub, "roles": sorted(user.roles)}


@HOST_ROUTES.get("/api/maybe")
@public
async def maybe(user: OptionalUser) -> dict[str, object]:
    return {"sub": user.sub if user else None}


@HOST_ROUTES.get("/api/session")
async def session(data: CurrentSession) -> dict[str, object]:
    return {"sid": data.oidc_sid, "expires_at": data.expires_at}


@HOST_ROUTES.get("/api/maybe-session")
@public
async def maybe_session(data: OptionalSession) -> dict[str, object]:
    return {"sid": data.oidc_sid if data else None}


@HOST_ROUTES.get("/api/admin", dependencies=[Depends(require_roles("admin"))])
async def admin_only() -> dict[str, bool]:
    return {"ok": True}


@HOST_ROUTES.get("/api/audit", dependencies=[Depends(require_roles("admin", "auditor"))])
async def audit() -> dict[str, bool]:
    return {"ok": True}


@HOST_ROUTES.post("/api/echo")
async def echo(user: CurrentUser) -> dict[str, str]:
    return {"sub": user.sub}


@HOST_ROUTES.post("/api/public-echo")
@public
async def public_echo() -> dict[str, bool]:
    return {"ok": True}


@HOST_ROUTES.post("/hooks/exempt")
@public
@csrf_exempt
async def hook(request: Request) -> dict[str, int]:
    return {"bytes": len(await request.body())}


@HOST_ROUTES.get("/items/{item_id}")
@public
async def item(item_id: int) -> dict[str, int]:
    return {"item": item_id}


@HOST_ROUTES.get("/api/denied")
@public
async def denied() -> Response:
    """A host route that runs a sign-in step of its own, which the provider refused."""
    raise ProviderDenied("the provider refused")


@HOST_ROUTES.get("/boom")
@public
async def boom() -> Response:
    raise RuntimeError("a bug in the host app")


def host_app(auth: ZitadelAuth, *, error_pages: bool = True) -> FastAPI:
    """A host app on the module as the README installs it (deny by default), with HOST_ROUTES."""
    app = FastAPI()
    auth.install(app, error_pages=error_pages)
    app.include_router(HOST_ROUTES)
    return app


@dataclass
class Browser:
    """One browser (a cookie jar) talking to an app in-process."""

    http: httpx.AsyncClient
    auth: ZitadelAuth
    clock: ManualClock

    async def sign_in(self, data: SessionData | None = None) -> str:
        """Store a session as a completed sign-in would (default: the admin user, now) and
        hold its cookie; return the session id."""
        session_id = await self.auth.sessions.create(data or new_session(self.clock()))
        self.set_session_cookie(session_id)
        return session_id

    def set_session_cookie(self, value: str) -> None:
        """Hold ``value`` as the session cookie, as if the app had set it."""
        self.http.cookies.set(SESSION_COOKIE, value, domain=APP_HOST)

    async def csrf_token(self) -> str:
        """The CSRF token a page or /auth/session gives this browser now."""
        body = (await self.http.get("/auth/session")).json()
        token: str = body["csrf_token"]
        return token

    def cookie(self, name: str) -> str | None:
        return self.http.cookies.get(name)


@asynccontextmanager
async def running(
    app: FastAPI, clock: ManualClock, *, raise_app_exceptions: bool = True
) -> AsyncIterator[Browser]:
    """Start ``app`` (its auth module's lifespan), put its sessions on ``clock``, and give a
    browser for it; stop it afterwards."""
    auth: ZitadelAuth = app.state.zitadel_auth
    async with auth.lifespan(app):
        auth.sessions.clock = clock
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url=APP_URL) as http:
            yield Browser(http, auth, clock)


def module_for(
    provider: FakeProvider, *, store: Store | None = None, **settings: Any
) -> ZitadelAuth:
    """The auth module on ``provider``, with a memory store unless ``store`` is given."""
    return ZitadelAuth(
        app_settings(**settings),
        store=store or MemoryStore(),
        transport=provider.transport,
        purge_interval=0,
    )
