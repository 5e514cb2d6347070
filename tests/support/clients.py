"""HTTP clients that behave like a browser towards an app on a real port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

__all__ = ["BROWSER_HEADERS", "JSON_HEADERS", "SESSION_COOKIE", "browser_client", "session_cookie"]

#: What a browser navigating to a page sends: HTML wanted, so errors come as pages.
BROWSER_HEADERS = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
#: What fetch() and API clients send: errors come as JSON.
JSON_HEADERS = {"accept": "application/json"}
#: The session cookie's name on http (no ``__Host-`` prefix).
SESSION_COOKIE = "zbff_session"


@contextlib.contextmanager
def browser_client() -> Iterator[httpx.Client]:
    """A fresh browser: its own cookie jar, no redirects followed."""
    with httpx.Client(follow_redirects=False, headers=BROWSER_HEADERS, timeout=10) as client:
        yield client


def session_cookie(client: httpx.Client) -> str:
    """The session cookie the app set in ``client``; the test fails when there is none."""
    value = client.cookies.get(SESSION_COOKIE)
    assert value, "the browser holds no session cookie"
    return value
