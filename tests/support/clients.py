"""HTTP clients that behave like a browser towards an app on a real port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

__all__ = ["BROWSER_HEADERS", "JSON_HEADERS", "browser_client"]

#: What a browser navigating to a page sends: HTML wanted, so errors come as pages.
BROWSER_HEADERS = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
#: What fetch() and API clients send: errors come as JSON.
JSON_HEADERS = {"accept": "application/json"}


@contextlib.contextmanager
def browser_client() -> Iterator[httpx.Client]:
    """A fresh browser: its own cookie jar, no redirects followed."""
    with httpx.Client(follow_redirects=False, headers=BROWSER_HEADERS, timeout=10) as client:
        yield client
