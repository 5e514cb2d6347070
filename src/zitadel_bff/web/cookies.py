"""The module's cookies: their names and attributes, and how they are read from a request.

Three cookies, all HttpOnly and SameSite=Lax, and ``Secure`` + ``__Host-`` whenever the public URL
is https: the session id, a browser id (binds CSRF tokens and login transactions to this browser
before sign-in) and the short-lived logout state. Their values are random; nothing about the
user ever reaches the browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["COOKIE_KINDS", "CookiePolicy", "CookieReader", "parse_cookie_header"]

#: session: the session id; browser: binds CSRF tokens and login transactions to this browser
#: before sign-in; logout: the state of a sign-out in progress at the provider.
COOKIE_KINDS = ("session", "browser", "logout")
MAX_COOKIE_VALUE = 256
#: Our values are url-safe base64 (secrets.token_urlsafe), at most this long; anything else
#: was not set by us.


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """``secure``: Secure and ``__Host-`` prefixed (whenever the public URL is https)."""

    secure: bool
    session_max_age: int
    base_name: str = "zbff"

    @property
    def names(self) -> dict[str, str]:
        """Cookie name -> kind, for :func:`parse_cookie_header`."""
        return {self.name(kind): kind for kind in COOKIE_KINDS}

    def name(self, kind: str) -> str:
        prefix = "__Host-" if self.secure else ""
        return f"{prefix}{self.base_name}_{kind}"

    def header(self, kind: str, value: str, max_age: int | None) -> bytes:
        parts = [f"{self.name(kind)}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return "; ".join(parts).encode("latin-1")


def parse_cookie_header(header: str, names: dict[str, str]) -> dict[str, str]:
    """Our cookies from one ``Cookie`` header, read as browsers send them (RFC 6265 5.4): pairs
    split on ``;``, each name and value split at the first ``=``, whitespace trimmed.

    Other cookies on the host may hold anything (quotes, spaces, JSON, backslashes); they are
    skipped, never a reason to lose ours. ``names`` maps a cookie name to the kind we store it as;
    the first well-formed value of a name wins, as in browsers' most-specific-path-first order.
    """
    return CookieReader(names).read_header(header, {})


class CookieReader:
    """:func:`parse_cookie_header`'s reading for one set of cookie names, compiled once: one
    regular expression finds the pairs of ``names`` with a well-formed value, so a request with
    many cookies costs one scan. With several headers (HTTP/2 may split them) the first
    well-formed value of a name wins."""

    __slots__ = ("names", "pattern")

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        alternatives = "|".join(re.escape(name) for name in names)
        self.pattern = re.compile(
            rf"(?:^|;)\s*({alternatives})\s*=\s*([A-Za-z0-9_-]{{1,{MAX_COOKIE_VALUE}}})\s*(?=;|\Z)"
        )

    def read(self, headers: list[bytes]) -> dict[str, str]:
        found: dict[str, str] = {}
        for header in headers:
            self.read_header(header.decode("latin-1"), found)
        return found

    def read_header(self, header: str, found: dict[str, str]) -> dict[str, str]:
        for match in self.pattern.finditer(header):
            found.setdefault(self.names[match[1]], match[2])
        return found
