"""Screenshots of every page, at desktop and phone widths: ``make screenshots``.

Starts the test provider and the app itself (tests/support), walks through the pages in
Debian's Chromium and writes ``docs/screenshots/<viewport>-<page>.png`` in the light theme, and
``desktop-dark-<page>.png`` of a few pages in the dark one (``prefers-color-scheme: dark``). The
same page checks as the e2e suite apply: a console error, CSP violation or broken asset on any
page fails the run.

    python -m tests.e2e.screenshots [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devtools.demo_api import DemoAPI
from devtools.provider import OPProcess, free_port
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.browser import (
    CHROMIUM,
    DESKTOP,
    PHONE_CONTEXT,
    TIMEOUT_MS,
    Watch,
    launch,
    sign_in,
    sign_in_at_provider,
    sign_out,
)
from tests.support.server import ThreadedServer
from tests.support.settings import settings_for
from zitadel_bff.app import create_app

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": DESKTOP, "color_scheme": "light"},
    "phone": {**PHONE_CONTEXT, "color_scheme": "light"},
    "desktop-dark": {"viewport": DESKTOP, "color_scheme": "dark"},
}
#: The pages each run shoots; the dark theme shows the two pages the README puts side by side.
PAGES: dict[str, frozenset[str] | None] = {
    "desktop": None,
    "phone": None,
    "desktop-dark": frozenset({"landing", "profile"}),
}


@contextmanager
def running_app() -> Iterator[str]:
    port = free_port()
    op = OPProcess(port=free_port(), app_ports=[port]).start()
    api = ThreadedServer(DemoAPI(), free_port()).start()
    try:
        settings = settings_for(port, op.issuer, "memory://", api_routes=f"/api/demo={api.url}")
        server = ThreadedServer(create_app(settings), port)
        server.start()
        try:
            yield server.url
        finally:
            server.stop()
    finally:
        api.stop()
        op.stop()


def walk(page: Page, url: str, shoot: Callable[[str], None]) -> None:
    """Every page, in the order a person meets them."""
    page.goto(url + "/")
    shoot("landing")
    page.goto(url + "/auth/login?returnTo=%2Fprofile&error=session_expired")
    shoot("sign-in-expired")
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.wait_for_url(re.compile(r"/ui/login/"))
    shoot("provider-login")
    sign_in_at_provider(page, "admin")
    page.wait_for_url(url + "/profile")
    shoot("profile")
    page.goto(url + "/admin")
    shoot("admin")
    page.goto(url + "/spa")
    page.get_by_role("button", name="GET /api/demo/hello").click()
    page.get_by_role("button", name="POST /api/demo/notes").click()
    page.get_by_text("POST /api/demo/notes → 200").wait_for()
    shoot("spa")
    page.goto(url + "/profile")
    sign_out(page, url)
    shoot("logout-success")
    page.goto(url + "/auth/logout/callback?state=not-ours")
    shoot("logout-error")
    page.goto(url + "/auth/error?error=invalid_state")
    shoot("auth-error")
    page.goto(url + "/no/such/page")
    shoot("404")
    sign_in(page, url, "alice")
    page.goto(url + "/admin")
    shoot("403")


def capture(browser: Browser, url: str, out: Path) -> list[Path]:
    written: list[Path] = []
    for name, options in VIEWPORTS.items():
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        watch = Watch([int(url.rsplit(":", 1)[1])]).attach(context)
        page = context.new_page()

        def shoot(
            page_name: str, *, page: Page = page, prefix: str = name,
            only: frozenset[str] | None = PAGES[name],
        ) -> None:
            if only is not None and page_name not in only:
                return
            path = out / f"{prefix}-{page_name}.png"
            page.mouse.move(0, 0)  # no hover state on the button clicked last
            page.screenshot(path=str(path), full_page=True, animations="disabled")
            written.append(path)

        walk(page, url, shoot)
        context.close()
        watch.check()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help=f"directory (default {OUT})")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with running_app() as url, sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            written = capture(browser, url, args.out)
        finally:
            browser.close()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
