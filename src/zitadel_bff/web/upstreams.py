"""Where a proxied request goes: :class:`Upstream` (a configured prefix and base URL) and
:func:`upstream_path`, which maps a request's path below that base.

Paths (see :func:`upstream_path`): the part of the path after the matched prefix is appended to
the upstream's base path, percent-encoding kept. Refused (400): ``..`` and ``.`` segments (also
percent-encoded, also twice), encoded ``/``, ``\\`` and control characters, malformed or
non-UTF-8 percent-encoding, empty segments and characters outside RFC 3986; so nothing a client
sends reaches a path outside the base. The upstream's scheme and host come from the
configuration only, never from the request (an absolute-form request target has no effect).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.types import Scope

from ..errors import BadRequest

__all__ = ["Upstream", "upstream_path"]

#: RFC 3986 pchar, "/" and "%"; anything else in a raw path is refused.
UNSAFE_PATH_CHAR = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@%/]")
BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
UNSAFE_QUERY_BYTE = re.compile(rb"[^\x21-\x7e]")
UNSAFE_DECODED = re.compile(r"[/\\\x00-\x1f\x7f]")


def _check_segment(segment: str) -> None:
    if "%" in segment:
        decoded = unquote(segment, errors="strict")
        if UNSAFE_DECODED.search(decoded):
            raise BadRequest("the path has an encoded /, \\ or control character")
        # Twice: an upstream that decodes again must not find a '..' either.
        if unquote(decoded) in (".", ".."):
            raise BadRequest("the path has a '.' or '..' segment")
    elif segment in (".", ".."):
        raise BadRequest("the path has a '.' or '..' segment")


def upstream_path(raw_path: bytes, skip: int, base_path: str) -> str:
    """The upstream path for a request whose raw path is ``raw_path``: its segments after the
    first ``skip`` (the matched prefix) appended to ``base_path``, percent-encoding kept.

    Raises BadRequest for anything that could leave ``base_path`` or be read differently by
    the upstream: see the module docstring.
    """
    try:
        text = raw_path.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest("the path has raw non-ASCII bytes") from None
    if not text.startswith("/") or UNSAFE_PATH_CHAR.search(text):
        raise BadRequest("the path is not an absolute path of plain characters")
    if BAD_PERCENT.search(text):
        raise BadRequest("the path has a malformed percent-encoding")
    segments = text[1:].split("/")
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if not segment:
            if index != last:
                raise BadRequest("the path has an empty segment (//)")
            continue
        try:
            _check_segment(segment)
        except UnicodeDecodeError:
            raise BadRequest("the path's percent-encoding is not UTF-8") from None
    rest = segments[skip:]
    if not rest:
        return base_path or "/"
    return f"{base_path}/{'/'.join(rest)}"


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where requests under ``prefix`` go: ``origin`` + ``base_path`` + the rest of the path.

    ``prefix`` ``/`` (the gateway) matches every path; any other prefix matches itself and
    the paths under it at a segment boundary (``/api/ordersX`` is not under ``/api/orders``).
    """

    prefix: str
    origin: str
    base_path: str
    #: How many segments of the request path the prefix takes.
    skip: int

    @classmethod
    def parse(cls, prefix: str, url: str) -> Upstream:
        """From a checked prefix and base URL (``config.parse_api_routes`` checks both)."""
        scheme, _, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        base_path = (slash + path).rstrip("/")
        skip = 0 if prefix == "/" else prefix.count("/")
        return cls(prefix, f"{scheme}://{host}", base_path, skip)

    def matches(self, path: str) -> bool:
        prefix = self.prefix
        if prefix == "/" or path == prefix:
            return True
        return path.startswith(prefix) and path[len(prefix)] == "/"

    def url_for(self, scope: Scope) -> str:
        """The upstream URL for this request. Raises BadRequest for an unsafe path or query."""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        root: str = scope.get("root_path", "")
        if root and raw_path.startswith(root.encode("utf-8")):  # mounted below a prefix
            raw_path = raw_path[len(root.encode("utf-8")):]
        path = upstream_path(raw_path, self.skip, self.base_path)
        query: bytes = scope.get("query_string", b"")
        if not query:
            return self.origin + path
        if UNSAFE_QUERY_BYTE.search(query):
            raise BadRequest("the query string has characters that must be percent-encoded")
        return f"{self.origin}{path}?{query.decode('ascii')}"
