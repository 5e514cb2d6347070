"""ZitadelAuth in-process: what install() puts on every response, cookies on https, the
lifecycle (startup, the purge loop, shutdown), and clear errors when it is not wired."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI

from tests.support.clients import BROWSER_HEADERS, JSON_HEADERS
from tests.support.inprocess import (
    ISSUER,
    FakeProvider,
    ManualClock,
    app_settings,
    host_app,
    module_for,
    running,
)
from zitadel_bff import CurrentUser, MemoryStore, StoreUnavailable, ZitadelAuth

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    f"form-action 'self' {ISSUER}; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}
#: What responses that are no documents (JSON) get (OWASP REST security cheat sheet).
API_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def security_headers_of(response: httpx.Response) -> dict[str, str]:
    names = [*SECURITY_HEADERS, "strict-transport-security"]
    return {name: response.headers[name] for name in names if name in response.headers}


@pytest.mark.parametrize(
    ("path", "accept", "expected"),
    [
        ("/auth/login", BROWSER_HEADERS, SECURITY_HEADERS),  # a page
        ("/nope", BROWSER_HEADERS, SECURITY_HEADERS),  # the 404 page
        ("/api/me", BROWSER_HEADERS, SECURITY_HEADERS),  # a redirect to sign in
        ("/", JSON_HEADERS, API_HEADERS),  # the host's JSON
        ("/api/me", JSON_HEADERS, API_HEADERS),  # the module's 401 JSON
        ("/auth/session", JSON_HEADERS, API_HEADERS),  # the module's JSON
    ],
)
async def test_every_response_has_the_security_headers_for_its_kind(
    provider: FakeProvider,
    clock: ManualClock,
    path: str,
    accept: dict[str, str],
    expected: dict[str, str],
) -> None:
    async with running(host_app(module_for(provider)), clock) as browser:
        resp = await browser.http.get(path, headers=accept)
        assert security_headers_of(resp) == expected


async def test_https_means_secure_host_cookies_and_hsts(
    provider: FakeProvider, clock: ManualClock
) -> None:
    auth = module_for(
        provider,
        zitadel_callback_url="https://app.example/auth/callback",
        zitadel_post_logout_url="https://app.example/auth/logout/callback",
    )
    async with running(host_app(auth), clock) as browser:
        resp = await browser.http.get("/auth/login")
        assert security_headers_of(resp) == {
            **SECURITY_HEADERS,
            "strict-transport-security": "max-age=63072000; includeSubDomains",
        }
        [cookie] = resp.headers.get_list("set-cookie")
        name, attributes = cookie.split("=", 1)[0], cookie.split("; ", 1)[1]
        assert (name, attributes) == (
            "__Host-zbff_browser",
            "Path=/; HttpOnly; SameSite=Lax; Secure",
        )


class PurgeCountingStore(MemoryStore):
    """Fails its first purge (the store was away), then purges two records and says so."""

    def __init__(self) -> None:
        super().__init__()
        self.purges = 0
        self.purged_twice = asyncio.Event()

    async def purge_expired(self) -> int:
        self.purges += 1
        if self.purges == 1:
            raise StoreUnavailable("SQLite store error: database is locked")
        self.purged_twice.set()
        return 2


async def test_expired_records_are_purged_in_the_background(
    provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zitadel_bff.auth.module")
    store = PurgeCountingStore()
    auth = ZitadelAuth(
        app_settings(), store=store, transport=provider.transport, purge_interval=0.001
    )
    async with auth.lifespan():
        await asyncio.wait_for(store.purged_twice.wait(), timeout=10)
    messages = [r.getMessage() for r in caplog.records if r.name == "zitadel_bff.auth.module"]
    assert messages[:3] == [
        f"provider discovery loaded for {ISSUER}",
        "purging expired sessions failed: SQLite store error: database is locked",
        "purged 2 expired record(s)",
    ]


async def test_the_session_manager_exists_once_started(provider: FakeProvider) -> None:
    auth = module_for(provider)
    with pytest.raises(RuntimeError, match=r"ZitadelAuth.startup\(\) has not run"):
        _ = auth.sessions
    async with auth.lifespan():
        assert auth.open_sessions() is auth.sessions  # opened once, at startup


async def test_dependencies_without_the_middleware_say_what_is_missing(
    provider: FakeProvider,
) -> None:
    app = FastAPI()
    app.state.zitadel_auth = module_for(provider)  # installed by hand, without install()

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.sub

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match=r"call ZitadelAuth\.install\(app\)$"):
            await client.get("/me")
