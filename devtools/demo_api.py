"""A small upstream that echoes what it received: the demo's API behind API_ROUTES, the app
behind the gateway and behind nginx in the tests, and the benchmark's upstream.

Pure ASGI, bodies streamed (a 100 MB upload is counted and hashed, never held). It answers
JSON, or an HTML page when the client asks for ``text/html``. It never shows a credential:
``Authorization`` and ``X-Forwarded-Access-Token`` appear as a SHA-256 fingerprint, cookies as
their length only.

- ``GET /__download?bytes=N``: N bytes (zeros, in 64 KiB pieces).
- ``GET /__hang``: never answers (until the client goes away): for timeouts.
- ``GET /__stall``: starts a 1 MB answer, sends 64 KiB of it, then nothing more (until the
  client goes away): for timeouts in the middle of an answer.
- ``GET /__small``: a fixed small JSON object (for benchmarks).
- anything else: the echo; each ``set_cookie=NAME=VALUE`` query parameter becomes a
  ``Set-Cookie`` header of the answer.

    python -m devtools.demo_api --port 8081
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.types import Receive, Scope, Send

__all__ = ["DemoAPI", "fingerprint", "serve_in_thread"]

SHOWN_BODY = 1024
#: Echoes kept in ``DemoAPI.requests`` (the oldest go first).
MAX_KEPT = 1000
CHUNK = 64 * 1024
SMALL = b'{"id":42,"name":"order","items":[1,2,3]}'
#: Header values never echoed as they are.
SECRET_HEADERS = frozenset({"authorization", "x-forwarded-access-token"})
START_TIMEOUT = 10.0


def fingerprint(secret: str) -> str:
    """What the echo shows instead of a token: the first 12 hex digits of its SHA-256."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def _shown(name: str, value: str) -> str:
    if name == "authorization":
        scheme, _, token = value.partition(" ")
        return f"{scheme} {fingerprint(token)}"
    if name in SECRET_HEADERS:
        return fingerprint(value)
    if name == "cookie":
        return f"<{len(value)} bytes, not shown>"
    return value


async def _read_body(receive: Receive) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        digest.update(chunk)
        size += len(chunk)
        if len(head) < SHOWN_BODY:
            head += chunk[: SHOWN_BODY - len(head)]
        if not message.get("more_body", False):
            break
    return {
        "body": head.decode("utf-8", "replace"),
        "body_bytes": size,
        "body_sha256": digest.hexdigest(),
    }


def _echo(scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        shown = _shown(name, value)
        headers[name] = f"{headers[name]}, {shown}" if name in headers else shown
    authorization = headers.get("authorization", "")
    return {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "bearer_token": authorization.startswith("Bearer sha256:"),
        "bearer_fingerprint": authorization.removeprefix("Bearer ") or None,
        "cookie_received": "cookie" in headers,
        "headers": headers,
        **body,
    }


PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Echo upstream</title></head>
<body>
<main>
<h1>Echo upstream</h1>
<p>Signed in as: <span id="user">{user}</span></p>
<p>Groups: <span id="groups">{groups}</span></p>
<p>Path: <span id="path">{path}</span></p>
<table>
<caption>What this upstream received</caption>
<tbody>{rows}</tbody>
</table>
</main>
</body>
</html>
"""


def _page(echo: dict[str, Any]) -> bytes:
    headers = echo["headers"]
    rows = "".join(
        f"<tr><th scope=\"row\">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in sorted(headers.items())
    )
    return PAGE.format(
        user=html.escape(headers.get("x-forwarded-user", "nobody")),
        groups=html.escape(headers.get("x-forwarded-groups", "")),
        path=html.escape(echo["path"]),
        rows=rows,
    ).encode()


class DemoAPI:
    """The echo upstream as an ASGI app; ``requests`` keeps the echoes it answered, in order
    (the last MAX_KEPT; tests read what arrived)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/__small":
            await _send(send, 200, SMALL, b"application/json")
        elif path == "/__download":
            await _download(scope, send)
        elif path == "/__hang":
            await _hang(receive)
        elif path == "/__stall":
            await _stall(receive, send)
        else:
            echo = _echo(scope, await _read_body(receive))
            self.requests.append(echo)
            del self.requests[:-MAX_KEPT]
            cookies = parse_qs(echo["query"]).get("set_cookie", [])
            extra = [(b"set-cookie", c.encode("latin-1")) for c in cookies]
            if _wants_html(scope):
                await _send(send, 200, _page(echo), b"text/html; charset=utf-8", extra)
            else:
                await _send(send, 200, json.dumps(echo).encode(), b"application/json", extra)


def _wants_html(scope: Scope) -> bool:
    return any(k == b"accept" and b"text/html" in v for k, v in scope["headers"])


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers.extend(extra or ())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _download(scope: Scope, send: Send) -> None:
    size = int(parse_qs(scope["query_string"].decode()).get("bytes", ["0"])[0])
    headers = [(b"content-type", b"application/octet-stream"),
               (b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    chunk = bytes(CHUNK)
    sent = 0
    while sent < size:
        piece = chunk[: min(CHUNK, size - sent)]
        sent += len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": sent < size})
    if size == 0:
        await send({"type": "http.response.body", "body": b""})


async def _hang(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stall(receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/octet-stream"),
               (b"content-length", str(16 * CHUNK).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": bytes(CHUNK), "more_body": True})
    await _hang(receive)


def serve_in_thread(app: Any, port: int) -> uvicorn.Server:
    """Serve ``app`` on 127.0.0.1:``port`` in a daemon thread; returns once it listens."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo API did not start")
        time.sleep(0.01)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo_api", description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    uvicorn.run(DemoAPI(), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False, server_header=False)


if __name__ == "__main__":
    main()
