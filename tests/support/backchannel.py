"""Back-channel logout against an app on a real port: browsers signed in at the development
provider, their sessions, and logout tokens posted the way the provider posts them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from devtools.flows import login

from tests.support.clients import JSON_HEADERS, browser_client, session_cookie
from tests.support.records import read_session
from tests.support.server import ThreadedServer
from tests.support.settings import TEST_SECRET

__all__ = ["post_logout_token", "refusals", "session_alive", "sid_of", "signed_in"]

REFUSAL_MARKER = "-> invalid_logout_token: "


def signed_in(app: ThreadedServer) -> str:
    """Sign a fresh browser in; return its session cookie."""
    with browser_client() as browser:
        login(browser, app.url)
        return session_cookie(browser)


def session_alive(app: ThreadedServer, cookie: str) -> bool:
    with browser_client() as browser:
        browser.cookies.set("zbff_session", cookie)
        return browser.get(app.url + "/profile").status_code == 200


def sid_of(app: ThreadedServer, cookie: str, tmp_path: Path) -> str:
    """The provider session id stored with the session of ``cookie`` (the app's SQLite file)."""
    record = read_session(tmp_path / f"sessions-{app.port}.db", TEST_SECRET, cookie)
    assert record is not None and record.oidc_sid
    return record.oidc_sid


def post_logout_token(client: httpx.Client, app: ThreadedServer, token: str) -> httpx.Response:
    return client.post(
        app.url + "/auth/backchannel-logout", data={"logout_token": token}, headers=JSON_HEADERS
    )


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Why the app refused logout tokens: its log lines say "... -> invalid_logout_token: why"."""
    return [
        r.getMessage().split(REFUSAL_MARKER, 1)[1]
        for r in caplog.records
        if REFUSAL_MARKER in r.getMessage()
    ]
