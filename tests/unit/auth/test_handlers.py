"""Every failure becomes a clear page or JSON body: the module's own errors always, and with
``error_pages=True`` the app's 404/405, validation and unexpected errors too."""

from __future__ import annotations

import logging

import pytest

from tests.support.clients import BROWSER_HEADERS, JSON_HEADERS
from tests.support.inprocess import (
    Browser,
    FakeProvider,
    ManualClock,
    host_app,
    module_for,
    running,
)
from zitadel_bff import Entry, MemoryStore, StoreUnavailable


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "title"),
    [
        ("GET", "/nope", 404, "not_found", "Page not found"),
        ("POST", "/auth/login", 405, "method_not_allowed", "Method not allowed"),
        ("GET", "/items/not-a-number", 400, "bad_request", "Bad request"),
    ],
)
async def test_the_apps_errors_are_the_modules_pages_and_json(
    browser: Browser, method: str, path: str, status: int, code: str, title: str
) -> None:
    api = await browser.http.request(method, path, headers=JSON_HEADERS)
    assert (api.status_code, api.json()) == (status, {"error": code, "message": title})
    page = await browser.http.request(method, path, headers=BROWSER_HEADERS)
    assert page.status_code == status
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert f"<h1>{title}</h1>" in page.text


async def test_method_not_allowed_says_which_methods_are(browser: Browser) -> None:
    resp = await browser.http.post("/auth/login", headers=JSON_HEADERS)
    assert resp.headers["allow"] == "GET"


async def test_an_unexpected_error_is_a_500_page_and_one_log_line(
    provider: FakeProvider, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = host_app(module_for(provider))
    async with running(app, clock, raise_app_exceptions=False) as browser:
        api = await browser.http.get("/boom", headers=JSON_HEADERS)
        assert (api.status_code, api.json()) == (
            500,
            {"error": "internal_error", "message": "Something went wrong"},
        )
        page = await browser.http.get("/boom", headers=BROWSER_HEADERS)
        assert page.status_code == 500 and "<h1>Something went wrong</h1>" in page.text
    logged = [r for r in caplog.records if r.name == "zitadel_bff.auth.handlers"]
    assert [(r.levelno, r.getMessage()) for r in logged] == [
        (logging.ERROR, "unhandled error on GET /boom")
    ] * 2
    assert all(r.exc_info and r.exc_info[0] is RuntimeError for r in logged)


async def test_a_failed_sign_in_step_sends_browsers_to_the_error_page(browser: Browser) -> None:
    page = await browser.http.get("/api/denied", headers=BROWSER_HEADERS)
    assert (page.status_code, page.headers["location"]) == (
        303,
        "/auth/error?error=access_denied",
    )
    api = await browser.http.get("/api/denied", headers=JSON_HEADERS)
    assert (api.status_code, api.json()) == (
        400,
        {"error": "access_denied", "message": "Sign-in was cancelled"},
    )


async def test_a_signed_out_form_post_goes_to_sign_in_without_return_to(
    browser: Browser,
) -> None:
    token = await browser.csrf_token()  # bound to the browser: the CSRF check passes
    resp = await browser.http.post("/api/echo", data={"csrf_token": token}, headers=BROWSER_HEADERS)
    # returnTo names pages to come back to with a GET, never the target of a POST
    assert (resp.status_code, resp.headers["location"]) == (303, "/auth/login")


async def test_without_error_pages_the_host_keeps_its_own(
    provider: FakeProvider, clock: ManualClock
) -> None:
    app = host_app(module_for(provider), error_pages=False)
    async with running(app, clock) as browser:
        missing = await browser.http.get("/nope", headers=BROWSER_HEADERS)
        assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
        invalid = await browser.http.get("/items/x")
        assert invalid.status_code == 422
        denied = await browser.http.get("/api/me")  # the module's own errors stay its own
        assert (denied.status_code, denied.json()["error"]) == (401, "not_authenticated")


class OutageStore(MemoryStore):
    """A store that goes away when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def get(self, key: str) -> Entry | None:
        if self.down:
            raise StoreUnavailable("Redis store error: ConnectionError")
        return await super().get(key)

    def peek(self, key: str, expires_at: float, min_step: float) -> Entry | None:
        return None if self.down else super().peek(key, expires_at, min_step)


async def test_with_the_store_down_pages_still_render_signed_out(
    provider: FakeProvider, clock: ManualClock
) -> None:
    store = OutageStore()
    async with running(host_app(module_for(provider, store=store)), clock) as browser:
        await browser.sign_in()
        store.down = True
        api = await browser.http.get("/api/me", headers=JSON_HEADERS)
        assert (api.status_code, api.json()) == (
            503,
            {"error": "store_unavailable", "message": "Sessions are unavailable"},
        )
        page = await browser.http.get("/auth/logout/success", headers=BROWSER_HEADERS)
        assert page.status_code == 200 and "<h1>You have been signed out</h1>" in page.text
        error_page = await browser.http.get("/api/me", headers=BROWSER_HEADERS)
        assert error_page.status_code == 503
        assert "<h1>Sessions are unavailable</h1>" in error_page.text
        store.down = False  # back: the session was kept
        assert (await browser.http.get("/api/me")).status_code == 200
