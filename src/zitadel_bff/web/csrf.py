"""CSRF defence: a synchronizer token bound to the browser, plus an origin check.

The token is an HMAC of a secret the browser holds in an HttpOnly cookie (the session id, or
before sign-in the browser id), so it cannot be forged without that cookie; while a session is
live only a token bound to it is accepted, so a token made before sign-in is refused after it.
(The browser id itself is kept: other tabs' sign-ins in progress are bound to it.)
Browsers that send ``Origin`` or ``Sec-Fetch-Site`` must also show a same-origin request;
a request without them still needs the token (OWASP CSRF cheat sheet).
"""

from __future__ import annotations

from ..errors import CSRFError
from ..sessions import Keyring

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "SAFE_METHODS", "check_origin", "check_token"]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})
MAX_TOKEN_LENGTH = 128


def check_origin(origin: str | None, fetch_site: str | None, allowed_origin: str) -> None:
    if origin is not None and origin != allowed_origin:
        raise CSRFError("the request came from another origin")
    if fetch_site is not None and fetch_site not in ALLOWED_FETCH_SITES:
        raise CSRFError("the request came from another site")


def check_token(keyring: Keyring, token: str | None, binding: str | None) -> None:
    """``token`` must be the HMAC of ``binding`` (the session id, or before sign-in the browser
    id); compared in constant time."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise CSRFError("the CSRF token is missing")
    if not binding or not keyring.csrf_valid(token, binding):
        raise CSRFError("the CSRF token is wrong or stale")
