"""The module's ASGI middleware, in-process (no server)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zitadel_bff.auth.assets import STATIC_DIR
from zitadel_bff.sessions import Keyring, SessionManager
from zitadel_bff.web import (
    SCOPE_KEY,
    AuthContext,
    AuthMiddleware,
    CookiePolicy,
    MemoryStaticFiles,
    content_security_policy,
    security_headers,
)

POLICY = CookiePolicy(secure=False, session_max_age=60)
STATIC = MemoryStaticFiles(STATIC_DIR)
Headers = list[tuple[bytes, bytes]]


def no_sessions() -> SessionManager:
    raise AssertionError("the middleware must not ask for the session manager")


def middleware(
    app: ASGIApp, *, https: bool = False, targets: Sequence[str] = ("https://idp.example",)
) -> AuthMiddleware:
    return AuthMiddleware(
        app,
        sessions=no_sessions,
        policy=POLICY,
        keyring=Keyring("unit-test-secret-0123456789-0123456789"),
        public_origin="http://127.0.0.1:3000",
        headers=security_headers(form_targets=list(targets), https=https),
        static=STATIC,
    )


def get(path: str = "/", headers: Headers | None = None) -> Scope:
    return {"type": "http", "method": "GET", "path": path, "headers": headers or []}


async def run(app: ASGIApp, scope: Scope | None = None) -> list[Message]:
    """The messages ``app`` sends for one request (a GET of / unless ``scope`` says else)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope or get(), receive, send)
    return sent


def make_app(headers: Headers, seen: list[Scope] | None = None) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if seen is not None:
            seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_headers_are_added() -> None:
    start = (await run(middleware(make_app([]), https=True)))[0]
    headers = dict(start["headers"])
    assert headers[b"x-frame-options"] == b"DENY"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"strict-transport-security"].startswith(b"max-age=")
    assert b"form-action 'self' https://idp.example" in headers[b"content-security-policy"]


async def test_app_headers_win_and_http_has_no_hsts() -> None:
    app = make_app([(b"Cache-Control", b"public, max-age=60")])
    start = (await run(middleware(app, targets=())))[0]
    values = [v for k, v in start["headers"] if k.lower() == b"cache-control"]
    assert values == [b"public, max-age=60"]
    assert b"strict-transport-security" not in dict(start["headers"])


async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def unused_receive() -> Message:
        raise AssertionError("not called")

    async def unused_send(message: Message) -> None:
        raise AssertionError("not called")

    await middleware(app)({"type": "lifespan"}, unused_receive, unused_send)
    assert seen == ["lifespan"]


async def test_cookies_are_read_among_junk_across_headers_and_queued_ones_set() -> None:
    seen: list[AuthContext] = []
    session, browser = "k3Jd8s-_0aZ" * 4, "Bb_-9" * 8

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        context: AuthContext = scope[SCOPE_KEY]
        seen.append(context)
        context.ensure_browser_id()  # already there: nothing to set
        context.set_logout_state("st", 60)
        await make_app([])(scope, receive, send)

    headers = [
        (b"cookie", b'prefs={"theme":"dark"}; consent=yes please'),
        (b"cookie", f'ga="GA1.1; zbff_session={session}; a=b\\c'.encode()),
        (b"cookie", f"zbff_browser={browser}; zbff_session=other".encode()),
    ]
    sent = await run(middleware(app), get("/", headers))
    context = seen[0]
    assert (context.session_id, context.browser_id) == (session, browser)
    cookies = [v for k, v in sent[0]["headers"] if k == b"set-cookie"]
    assert cookies == [b"zbff_logout=st; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"]


async def test_assets_are_served_before_the_app_with_the_security_headers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("assets never reach the app")

    path, query = STATIC.url("app.css").split("?", 1)
    sent = await run(middleware(app), {**get(path), "query_string": query.encode()})
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 200 and headers[b"content-type"].startswith(b"text/css")
    assert headers[b"cache-control"] == b"public, max-age=31536000, immutable"
    assert headers[b"x-frame-options"] == b"DENY"
    other = await run(middleware(make_app([])), get("/static/app.css"))
    assert other[1]["body"] == b"ok"  # the host's /static is the host's


def test_csp_has_no_inline_or_third_party_sources() -> None:
    csp = content_security_policy(["https://idp.example"])
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


async def test_json_responses_get_the_api_set_documents_the_full_one() -> None:
    json_app = make_app([(b"content-type", b"application/json")])
    start = (await run(middleware(json_app, https=True)))[0]
    headers = dict(start["headers"])
    assert headers[b"content-security-policy"] == b"default-src 'none'; frame-ancestors 'none'"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"x-frame-options"] == b"DENY"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"strict-transport-security"].startswith(b"max-age=")
    assert b"referrer-policy" not in headers and b"permissions-policy" not in headers
    for document in (b"text/html; charset=utf-8", b"image/svg+xml"):
        start = (await run(middleware(make_app([(b"content-type", document)]))))[0]
        headers = dict(start["headers"])
        assert headers[b"content-security-policy"].startswith(b"default-src 'self'")
        assert headers[b"referrer-policy"] == b"same-origin"


@pytest.mark.parametrize(
    ("method", "host", "redirected"),
    [
        ("GET", b"localhost:3000", True),
        ("HEAD", b"[::1]:3000", True),
        ("GET", b"127.0.0.1:3000", False),  # the public origin itself
        ("GET", b"localhost:4000", False),  # another port is another app
        ("GET", b"example.com:3000", False),  # only loopback names are ever redirected
        ("POST", b"localhost:3000", False),  # never a method with a body
    ],
)
async def test_loopback_aliases_go_to_the_public_origin(
    method: str, host: bytes, redirected: bool
) -> None:
    scope = {"type": "http", "method": method, "path": "/profile", "raw_path": b"/profile",
             "query_string": b"tab=x", "root_path": "", "headers": [(b"host", host)]}
    sent = await run(middleware(make_app([])), scope)
    if redirected:
        assert sent[0]["status"] == 307
        assert dict(sent[0]["headers"])[b"location"] == b"http://127.0.0.1:3000/profile?tab=x"
    else:
        assert sent[0]["status"] == 200
