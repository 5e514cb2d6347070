"""Assets served from memory: content types, versioned URLs (cached for good, and only they),
ETags, and what else is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from starlette.types import Message, Scope

from zitadel_bff.web import MemoryStaticFiles

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8
CSS = b"body { color: black; }\n"


@pytest.fixture
def assets(tmp_path: Path) -> MemoryStaticFiles:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "logo.png").write_bytes(PNG)
    (tmp_path / "app.css").write_bytes(CSS)
    return MemoryStaticFiles(tmp_path, prefix="/assets")


async def serve(
    app: MemoryStaticFiles, url: str, method: str = "GET", **headers: str
) -> list[Message]:
    sent: list[Message] = []
    path, _, query = url.partition("?")
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:16]


async def test_files_in_subdirectories_are_served_with_their_type(
    assets: MemoryStaticFiles,
) -> None:
    start, body = await serve(assets, assets.url("img/logo.png"))
    assert start["status"] == 200 and body["body"] == PNG
    assert dict(start["headers"]) == {
        b"content-type": b"image/png",  # no charset: not text
        b"content-length": str(len(PNG)).encode(),
        b"etag": f'"{digest(PNG)}"'.encode(),
        b"cache-control": b"public, max-age=31536000, immutable",
    }
    css, _ = await serve(assets, "/assets/app.css")
    assert dict(css["headers"])[b"content-type"] == b"text/css; charset=utf-8"


@pytest.mark.parametrize(
    "query",
    ["", "?v=0123456789abcdef", f"?v={digest(CSS)}&x=1"],
    ids=["unversioned", "another-version", "more-than-the-version"],
)
async def test_only_the_current_versioned_url_is_cached_for_good(
    assets: MemoryStaticFiles, query: str
) -> None:
    # Whatever is at another URL changes with the next deployment: kept, but asked again.
    start, body = await serve(assets, "/assets/app.css" + query)
    assert start["status"] == 200 and body["body"] == CSS
    assert dict(start["headers"])[b"cache-control"] == b"no-cache"
    again, _ = await serve(assets, "/assets/app.css" + query, if_none_match=f'"{digest(CSS)}"')
    assert again["status"] == 304
    assert dict(again["headers"]) == {
        b"etag": f'"{digest(CSS)}"'.encode(),
        b"cache-control": b"no-cache",
    }


def test_urls_carry_the_content_version(assets: MemoryStaticFiles) -> None:
    assert assets.url("app.css") == f"/assets/app.css?v={digest(CSS)}"
    assert assets.url("img/logo.png") == f"/assets/img/logo.png?v={digest(PNG)}"
    assert assets.url("missing.js") == "/assets/missing.js?v=0"


async def test_a_matching_etag_is_not_modified(assets: MemoryStaticFiles) -> None:
    start, body = await serve(assets, "/assets/app.css", if_none_match=f'"{digest(CSS)}"')
    assert (start["status"], body["body"]) == (304, b"")


async def test_head_has_the_headers_and_no_body(assets: MemoryStaticFiles) -> None:
    start, body = await serve(assets, "/assets/app.css", "HEAD")
    assert start["status"] == 200 and body["body"] == b""
    assert dict(start["headers"])[b"content-length"] == str(len(CSS)).encode()


@pytest.mark.parametrize(
    ("path", "method", "status", "text"),
    [
        ("/assets/nope.css", "GET", 404, b"Not Found"),
        ("/assets/img", "GET", 404, b"Not Found"),  # a directory is not a file
        ("/assets/../app.css", "GET", 404, b"Not Found"),
        ("/assets/app.css", "POST", 405, b"Method Not Allowed"),
    ],
)
async def test_everything_else_is_refused(
    assets: MemoryStaticFiles, path: str, method: str, status: int, text: bytes
) -> None:
    start, body = await serve(assets, path, method)
    assert (start["status"], body["body"]) == (status, text)
