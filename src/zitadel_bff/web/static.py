"""Static files served from memory: read once at start, with ETag and immutable caching.

Starlette's StaticFiles stats and reads each file through a thread pool on every request; the
handful of assets here fit in memory, and versioned URLs (``?v=<hash>``) make them cacheable
forever. Only those: an asset asked for without its current version (a hand-written link, an
old page's ``?v=``) may change at the next deployment, so the browser must ask again.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from typing import NamedTuple

from starlette.types import Receive, Scope, Send

__all__ = ["STATIC_PREFIX", "MemoryStaticFiles"]

IMMUTABLE = b"public, max-age=31536000, immutable"
#: Kept, but revalidated (a 304 while the ETag matches) at each use (RFC 9111 5.2.2.4).
REVALIDATE = b"no-cache"


#: The module's assets live under their own prefix, so the host app keeps ``/static`` for itself.
STATIC_PREFIX = "/auth/static"


class Asset(NamedTuple):
    body: bytes
    #: The query string of the versioned URL: ``v=<hash>``.
    version_query: bytes
    #: The headers at the versioned URL (ETag third, then Cache-Control), and elsewhere.
    versioned: list[tuple[bytes, bytes]]
    unversioned: list[tuple[bytes, bytes]]


class MemoryStaticFiles:
    """A pure ASGI app serving ``directory`` at ``prefix`` (mounted there, or called directly)."""

    def __init__(self, directory: Path, prefix: str = STATIC_PREFIX) -> None:
        self.prefix = prefix
        self.files: dict[str, Asset] = {}
        self.versions: dict[str, str] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:16]
            name = path.relative_to(directory).as_posix()
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype in ("application/javascript", "image/svg+xml"):
                ctype += "; charset=utf-8"
            headers = [
                (b"content-type", ctype.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"etag", f'"{digest}"'.encode()),
            ]
            self.files["/" + name] = Asset(
                body,
                f"v={digest}".encode(),
                [*headers, (b"cache-control", IMMUTABLE)],
                [*headers, (b"cache-control", REVALIDATE)],
            )
            self.versions[name] = digest

    def url(self, name: str) -> str:
        return f"{self.prefix}/{name}?v={self.versions.get(name, '0')}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"].removeprefix(scope.get("root_path", "")).removeprefix(self.prefix)
        item = self.files.get(path)
        if item is None or scope["method"] not in ("GET", "HEAD"):
            status = 404 if item is None else 405
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"Not Found" if status == 404
                        else b"Method Not Allowed"})
            return
        body, version_query, versioned, unversioned = item
        current = scope.get("query_string", b"") == version_query
        headers = versioned if current else unversioned
        etag = headers[2][1]
        for key, value in scope["headers"]:
            if key == b"if-none-match" and etag in value:
                await send({"type": "http.response.start", "status": 304, "headers": headers[2:]})
                await send({"type": "http.response.body", "body": b""})
                return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body})
