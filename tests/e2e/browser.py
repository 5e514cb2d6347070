"""Drive Debian's Chromium with Playwright, and watch every page of the app for problems.

Shared by the e2e fixtures (conftest.py) and the screenshot script (screenshots.py). Never
downloads a browser: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    ViewportSize,
)

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
#: A browser context that behaves like a phone: its width, the mobile viewport rules, touch.
PHONE_CONTEXT: dict[str, Any] = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
TIMEOUT_MS = 10_000
CHECK_PREFIX = "[e2e-check]"
ASSET_TYPES = frozenset({"stylesheet", "script", "image", "font", "media", "fetch", "xhr"})

# Runs in every page before its own scripts (injected over CDP, so the page's CSP does not apply
# to it). It reports CSP violations, and the page structure every app page must have, as console
# errors carrying the page's address; the Python side keeps those of the app's origin only.
WATCH_SCRIPT = r"""
(() => {
  const report = (text) => console.error(`%PREFIX% ${location.href} ${text}`);
  document.addEventListener('securitypolicyviolation', (e) => {
    report(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`
      + ` (${e.sourceFile || location.href}:${e.lineNumber})`);
  });
  addEventListener('DOMContentLoaded', () => {
    const problems = [];
    if (!document.documentElement.lang) problems.push('<html> has no lang');
    if (!document.title.trim()) problems.push('no <title>');
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) problems.push(`${h1} <h1> elements (want exactly one)`);
    if (document.querySelector('[style]')) problems.push('a style= attribute');
    if (document.querySelector('style')) problems.push('an inline <style>');
    if (document.querySelector('script:not([src])')) problems.push('an inline <script>');
    for (const el of document.querySelectorAll('[on' + 'click],[onload],[onsubmit]')) {
      problems.push(`an inline event handler on <${el.localName}>`);
    }
    for (const el of document.querySelectorAll('input:not([type=hidden]),select,textarea')) {
      const labelled = el.labels?.length || el.getAttribute('aria-label')
        || el.getAttribute('aria-labelledby');
      if (!labelled) problems.push(`an unlabelled <${el.localName} name=${el.name}>`);
    }
    for (const el of document.querySelectorAll('button,a[href]')) {
      if (!(el.textContent.trim() || el.getAttribute('aria-label'))) {
        problems.push(`a <${el.localName}> without an accessible name`);
      }
    }
    for (const href of [...document.querySelectorAll('link[href],script[src],img[src]')]
      .map((el) => el.href || el.src)) {
      if (new URL(href, location.href).origin !== location.origin) {
        problems.push(`a third-party asset ${href}`);
      }
    }
    if (problems.length) report(problems.join('; '));
  });
})();
""".replace("%PREFIX%", CHECK_PREFIX)

FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of \d+")


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Watch:
    """Problems seen on the app's pages of one browser context.

    ``app_ports`` names the app's origins (http://127.0.0.1:<port>); the provider's pages are
    its own business (its end-session page submits itself with an inline script, under its own
    policy) and are not judged.
    """

    app_ports: Collection[int]
    problems: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    documents: set[str] = field(default_factory=set)

    def is_app(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.hostname == "127.0.0.1" and parts.port in self.app_ports

    def attach(self, context: BrowserContext) -> Watch:
        context.add_init_script(WATCH_SCRIPT)
        context.on("console", self._console)
        context.on("weberror", lambda err: self.problems.append(f"page error: {err.error}"))
        context.on("response", self._response)
        context.on("requestfailed", self._request_failed)
        return self

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        text = msg.text
        if text.startswith(CHECK_PREFIX):
            url = text.split(" ", 2)[1]
            if self.is_app(url):
                self.problems.append(text.removeprefix(CHECK_PREFIX).strip())
            return
        url = msg.location.get("url") or (msg.page.url if msg.page else "")
        if not self.is_app(url) or url.split("?", 1)[0].endswith("/favicon.ico"):
            # The browser asks for /favicon.ico on its own, also for pages not ours (an
            # upstream's, behind nginx) and as servers stop after a test: not a page's problem.
            return
        if FAILED_LOAD.match(text) and url in self.documents:
            return  # an error page's own status (403, 404...): deliberate, judged by the tests
        self.problems.append(f"console error on {url}: {text}")

    def _response(self, response: Response) -> None:
        request = response.request
        if not self.is_app(response.url):
            return
        if request.resource_type == "document":
            self.documents.add(response.url)
            if response.status < 300 or response.status >= 400:
                self.pages.append(response.url)
        elif response.status >= 400:
            self.problems.append(f"{response.status} for {request.resource_type} {response.url}")

    def _request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        if (self.is_app(request.url) and request.resource_type in ASSET_TYPES
                and "ERR_ABORTED" not in failure):
            self.problems.append(f"request failed: {request.url} ({failure})")

    def check(self) -> None:
        assert not self.problems, "problems on the app's pages:\n" + "\n".join(self.problems)


# ---------------------------------------------------------------- journey steps


def sign_in_at_provider(page: Page, username: str) -> None:
    """On the provider's login page: type the login name and continue."""
    page.wait_for_url(re.compile(r"/ui/login/"))
    page.get_by_label("Login name").fill(username)
    page.get_by_role("button", name="Continue").click()


def sign_in(page: Page, app_url: str, username: str = "admin", *, path: str = "/") -> None:
    """From ``path`` (a public page): one click on Sign in to the provider's login, then back."""
    page.goto(app_url + path)
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    sign_in_at_provider(page, username)
    page.wait_for_url(re.compile(r"^" + re.escape(app_url) + "/profile"))


def sign_out(page: Page, app_url: str) -> None:
    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(app_url + "/auth/logout/success")
