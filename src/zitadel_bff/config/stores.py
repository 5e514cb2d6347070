"""SESSION_STORE URLs: one check per scheme, saying what was meant (never echoing the URL,
which may carry a password)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from .values import has_valid_port

__all__ = ["SESSION_STORE_CHECKS", "check_store_url", "display_store_url", "split_hosts"]


SQLITE_FORMS = "sqlite:///relative/path.db or sqlite:////absolute/path.db"
REDIS_EXAMPLE = "redis://localhost:6379/0"


def _sqlite_store(url: str) -> str | None:
    if not url.startswith("sqlite:///"):
        rest = url.removeprefix("sqlite://")
        if not rest:
            return f"names no file; use {SQLITE_FORMS}"
        return (
            f"use sqlite:///{rest} for a relative path "
            "or sqlite:////abs/path.db for an absolute one"
        )
    path = url.removeprefix("sqlite:///")
    if not path:
        return f"names no file; use {SQLITE_FORMS}, or memory:// for sessions kept in memory"
    if path.endswith("/"):
        return f"names a directory, not a file; use {SQLITE_FORMS}"
    return None


def _memory_store(url: str) -> str | None:
    return None if url == "memory://" else "memory:// takes nothing after it"


def _redis_store(url: str) -> str | None:
    # Never echo the URL: it may carry a password.
    parts = urlsplit(url)
    if not has_valid_port(parts):
        return f"has an invalid port, e.g. {REDIS_EXAMPLE}"
    if not parts.hostname:
        return f"names no host, e.g. {REDIS_EXAMPLE}"
    database = parts.path.removeprefix("/")
    if database and not database.isdecimal():
        # redis-py would silently use database 0 instead.
        return f"must end with a database number, e.g. {REDIS_EXAMPLE}"
    return None


SENTINEL_EXAMPLE = "redis+sentinel://host:26379,host2:26379/mymaster/0"
CLUSTER_EXAMPLE = "redis+cluster://host:7000,host2:7001/"


def split_hosts(url: str) -> tuple[str, list[tuple[str, int]], str]:
    """``scheme://[user:password@]h:p,h2:p/path`` -> (the userinfo, [(host, port)], path).

    Raises ValueError naming what is wrong (never echoing the URL: it may carry a password).
    """
    rest = url.split("://", 1)[1]
    netloc, _, path = rest.partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    found: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdecimal() or not 0 < int(port) < 65536:
            raise ValueError("must list host:port pairs separated by commas")
        found.append((host, int(port)))
    return userinfo, found, path


def _sentinel_store(url: str) -> str | None:
    try:
        _, _, path = split_hosts(url)
    except ValueError as exc:
        return f"{exc}, e.g. {SENTINEL_EXAMPLE}"
    service, _, database = path.strip("/").partition("/")
    if not service:
        return f"names no master (service) name, e.g. {SENTINEL_EXAMPLE}"
    if database and not database.isdecimal():
        return f"must end with a database number, e.g. {SENTINEL_EXAMPLE}"
    return None


def _cluster_store(url: str) -> str | None:
    try:
        _, _, path = split_hosts(url)
    except ValueError as exc:
        return f"{exc}, e.g. {CLUSTER_EXAMPLE}"
    if path.strip("/") not in ("", "0"):
        return f"takes no database (a cluster has only database 0), e.g. {CLUSTER_EXAMPLE}"
    return None


#: Each SESSION_STORE scheme and the check of the rest of its URL (None: acceptable).
SESSION_STORE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "sqlite": _sqlite_store,
    "memory": _memory_store,
    "redis": _redis_store,
    "rediss": _redis_store,
    "redis+sentinel": _sentinel_store,
    "redis+cluster": _cluster_store,
}


def check_store_url(value: str) -> str:
    """``value`` if it is a usable SESSION_STORE URL; ValueError with what was meant."""
    scheme = value.split("://", 1)[0] if "://" in value else ""
    check = SESSION_STORE_CHECKS.get(scheme)
    if check is None:
        raise ValueError(
            "must be sqlite:///path, memory://, redis://host:port/db, "
            "redis+sentinel://host:port,.../master/db or redis+cluster://host:port,.../"
        )
    problem = check(value)
    if problem:
        raise ValueError(problem)
    return value


def display_store_url(url: str) -> str:
    """SESSION_STORE as it may be shown: a Redis URL without its user, password and query
    (where redis-py also takes a password); a SQLite path or memory:// as given."""
    scheme, sep, rest = url.partition("://")
    if not scheme.startswith("redis") or not sep:
        return url
    netloc, slash, path = rest.partition("/")
    hosts = netloc.rpartition("@")[2]
    return f"{scheme}://{hosts}{slash}{path.split('?')[0].split('#')[0]}"
