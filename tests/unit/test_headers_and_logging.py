"""Pure ASGI middleware and log filters, with in-process fakes (pure logic only)."""

from __future__ import annotations

import logging

from zitadel_bff.app.cli import RedactQueryFilter
from zitadel_bff.security.headers import SecurityHeadersMiddleware, content_security_policy


async def run(app, scope=None):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    await app(scope or {"type": "http", "path": "/", "headers": []}, receive, send)
    return sent


def make_app(headers):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_headers_are_added():
    mw = SecurityHeadersMiddleware(make_app([]), form_targets=["https://idp.example"], https=True)
    start = (await run(mw))[0]
    headers = dict(start["headers"])
    assert headers[b"x-frame-options"] == b"DENY"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"strict-transport-security"].startswith(b"max-age=")
    assert b"form-action 'self' https://idp.example" in headers[b"content-security-policy"]


async def test_app_headers_win_and_http_has_no_hsts():
    app = make_app([(b"cache-control", b"public, max-age=60")])
    mw = SecurityHeadersMiddleware(app, form_targets=[], https=False)
    start = (await run(mw))[0]
    values = [v for k, v in start["headers"] if k == b"cache-control"]
    assert values == [b"public, max-age=60"]
    assert b"strict-transport-security" not in dict(start["headers"])


async def test_non_http_scopes_pass_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    mw = SecurityHeadersMiddleware(app, form_targets=[], https=True)
    await mw({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]


def test_csp_has_no_inline_or_third_party_sources():
    csp = content_security_policy(["https://idp.example"])
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


def test_access_log_lines_lose_their_query_strings():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/auth/callback?code=SECRET&state=S", "1.1", 303), None,
    )
    assert RedactQueryFilter().filter(record)
    assert "SECRET" not in record.getMessage() and "/auth/callback" in record.getMessage()
