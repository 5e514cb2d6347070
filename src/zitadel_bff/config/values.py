"""Checks of single values the settings are made of: URLs, path prefixes, API routes.

Each function returns the normalised value or raises ValueError with the reason, in words a
person who set the variable can act on.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

__all__ = [
    "INVALID_PORT",
    "RESERVED_PATHS",
    "absolute_url",
    "check_public_url",
    "has_valid_port",
    "is_loopback_host",
    "parse_api_routes",
    "parse_path_prefix",
    "parse_public_paths",
    "parse_upstream_url",
]

#: The ports a URL may name: 0 is none a server listens on.
PORTS = range(1, 65536)
#: What is wrong with a URL for which :func:`has_valid_port` is False.
INVALID_PORT = "has an invalid port: it must be a number from 1 to 65535, or be left out"


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback IP literals, where plain http is acceptable."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def has_valid_port(parts: SplitResult) -> bool:
    """Whether the URL names no port, or one from 1 to 65535. Refused: letters, signs or
    spaces, a number out of range, 0, and a colon with nothing after it (a port forgotten,
    which would make the origin differ from the one browsers and httpx use)."""
    try:
        port = parts.port
    except ValueError:  # not ASCII digits, or above 65535
        return False
    if port is None:
        return not parts.netloc.endswith(":")
    return port in PORTS


def check_public_url(parts: SplitResult, *, example: str) -> None:
    """What every URL a browser is sent to or shown must be (raises ValueError): no user name
    or password (never repeated), a valid port if any, https unless on a loopback host."""
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"must not contain a user name or password (user:password@), e.g. {example}"
        )
    if not has_valid_port(parts):
        raise ValueError(f"{INVALID_PORT}, e.g. {example}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"must use https (plain http is allowed only for localhost/loopback), e.g. {example}"
        )


def absolute_url(value: str, *, example: str) -> str:
    """An absolute http(s) URL (https unless on a loopback host) with a valid port if any,
    without credentials or a fragment; ``example`` is a good value of the variable, for the
    messages."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, e.g. {example}")
    check_public_url(parts, example=example)
    if parts.fragment:
        raise ValueError(f"must not contain a #fragment, e.g. {example}")
    return value


#: Paths the BFF serves itself: never proxied (an API route may not cover them).
RESERVED_PATHS = ("/auth", "/healthz", "/readyz")
PREFIX_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+;:@/"
)


def parse_path_prefix(value: str) -> str:
    """A path prefix as API_ROUTES and PUBLIC_PATHS take it: ``/a/b`` (a trailing ``/`` is
    dropped; ``/`` stays ``/``). Refuses what could not be matched safely: no ``..``, ``.``
    or empty segments, no percent-encoding, no query."""
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not a path: it must start with /")
    if any(c not in PREFIX_CHARS for c in value):
        raise ValueError(f"{value!r} may only contain plain path characters (no %, ?, # or spaces)")
    prefix = value.rstrip("/") or "/"
    segments = prefix.split("/")[1:]
    if prefix != "/" and any(seg in ("", ".", "..") for seg in segments):
        raise ValueError(f"{value!r} has an empty, '.' or '..' segment")
    return prefix


def _is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def parse_upstream_url(value: str) -> str:
    """An upstream base URL: absolute http(s), a host, no credentials, query or fragment;
    returned without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} must be an absolute http(s) URL, e.g. http://127.0.0.1:8081/v1")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{parts.hostname}: credentials in the URL are not supported")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError(f"{value!r} must not have a query or a #fragment")
    if not has_valid_port(parts):
        raise ValueError(f"{value!r} {INVALID_PORT}")
    if parts.path not in ("", "/"):
        parse_path_prefix(parts.path)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def parse_api_routes(value: str) -> dict[str, str]:
    """API_ROUTES: comma-separated ``PREFIX=URL`` pairs -> {prefix: base URL}."""
    routes: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        prefix_text, sep, url = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} must be PREFIX=URL, e.g. /api/orders=http://127.0.0.1:8081/v1")
        prefix = parse_path_prefix(prefix_text.strip())
        if prefix == "/":
            raise ValueError("/ cannot be an API prefix (set UPSTREAM_URL to forward everything)")
        for reserved in RESERVED_PATHS:
            if _is_under(prefix, reserved) or _is_under(reserved, prefix):
                raise ValueError(f"{prefix} overlaps {reserved}, which the BFF serves itself")
        if prefix in routes:
            raise ValueError(f"{prefix} is listed twice")
        routes[prefix] = parse_upstream_url(url.strip())
    return routes


def parse_public_paths(value: str) -> tuple[str, ...]:
    """PUBLIC_PATHS: comma-separated path prefixes; ``/`` alone means the root page only."""
    return tuple(
        dict.fromkeys(parse_path_prefix(p.strip()) for p in value.split(",") if p.strip())
    )
