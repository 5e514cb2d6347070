"""The demo's single-page view in a real Chromium: it reads /auth/session and calls the demo API
through the BFF (GET, and POST with the CSRF header), and shows what the API received."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from devtools.demo_api import fingerprint
from playwright.sync_api import Page, expect

from tests.e2e.browser import sign_in_at_provider
from tests.support.records import read_session
from tests.support.server import AppFactory
from tests.support.settings import TEST_SECRET
from tests.support.upstream import Echo

pytestmark = pytest.mark.e2e


def test_spa_calls_the_api_through_the_bff(
    page: Page,
    start_app: AppFactory,
    echo: Echo,
    tmp_path: Path,
) -> None:
    app = start_app(api_routes=f"/api/demo={echo.url}")
    page.goto(app.url + "/spa")
    expect(page.locator("#who")).to_contain_text("You are signed out")
    expect(page.get_by_role("button", name="GET /api/demo/hello")).to_be_disabled()
    page.locator("#signin").get_by_role("link", name="Sign in").click()
    sign_in_at_provider(page, "admin")
    page.wait_for_url(app.url + "/spa")
    expect(page.locator("#who")).to_have_text("Signed in as Ada Admin (roles: admin, user).")

    page.get_by_role("button", name="GET /api/demo/hello").click()
    expect(page.locator("#status")).to_have_text("GET /api/demo/hello?from=spa → 200")
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "zbff_session")
    # Playwright's loop runs on this thread; read the record (asyncio.run) on another.
    with ThreadPoolExecutor(1) as pool:
        record = pool.submit(
            read_session, tmp_path / f"sessions-{app.port}.db", TEST_SECRET, cookie
        ).result()
    assert record is not None
    expect(page.locator("#request")).to_have_text("GET /hello")
    expect(page.locator("#bearer")).to_have_text("received")
    expect(page.locator("#fingerprint")).to_have_text(fingerprint(record.access_token))
    expect(page.locator("#cookies")).to_have_text("none (kept by the BFF)")

    page.get_by_label("Message to send").fill("written in Chromium")
    page.get_by_role("button", name="POST /api/demo/notes").click()
    expect(page.locator("#status")).to_have_text("POST /api/demo/notes → 200")
    expect(page.locator("#request")).to_have_text("POST /notes")
    expect(page.locator("#body")).to_have_text('{"note":"written in Chromium"}')
    assert [(r["method"], r["path"]) for r in echo.received] == [
        ("GET", "/hello"), ("POST", "/notes")
    ]
    post = echo.received[-1]["headers"]
    assert post["content-type"] == "application/json"
    assert "x-csrf-token" not in post and "cookie" not in post
