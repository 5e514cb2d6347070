"""A streaming reverse proxy for ASGI: forwards one request to an upstream URL and streams the
answer back, in constant memory both ways. Framework-neutral: it takes the ASGI scope, the
headers to add (the bearer token, identity headers) and the upstream target; who may pass, and
with which token, is decided by the caller (``zitadel_bff.auth.proxy``).

What never reaches an upstream from the client: ``Cookie`` and ``Authorization`` (the BFF's
credentials, not the upstream's), hop-by-hop headers (RFC 9110 7.6.1), and every
``X-Forwarded-*``, ``Forwarded``, ``X-Real-IP`` and ``X-Auth-Request-*`` header, whatever its
spelling (``X_Forwarded_User`` too: CGI-style servers read ``_`` as ``-``), so identity headers
cannot be forged. The proxy sets ``X-Forwarded-For/-Proto/-Host`` itself.

Where a request goes (the upstream URL, and the paths refused): :mod:`zitadel_bff.web.upstreams`.

Timeouts: ``timeout`` seconds without progress (connecting, sending the request body, waiting
for the answer, reading each piece of it), as nginx's proxy_read_timeout: before the answer
starts that is a 504; after, the connection to the client is closed (the answer is incomplete
and must not look complete).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.types import Message, Receive, Scope, Send

from ..errors import BadRequest, UpstreamTimeout, UpstreamUnavailable
from ..observability import shown
from .http1 import ConnectionPool, Response, UpstreamError

__all__ = [
    "HOP_BY_HOP",
    "UPSTREAM_OWNED",
    "ProxyRequest",
    "ReverseProxy",
    "client_request_headers",
]

logger = logging.getLogger(__name__)

#: RFC 9110 7.6.1, plus the non-standard ones still seen in the wild.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
#: Request headers the proxy never forwards, beyond hop-by-hop ones and SPOOFABLE_PREFIXES.
DROPPED_REQUEST_HEADERS = HOP_BY_HOP | {
    b"host",  # the upstream's own, set by the client library
    # The body's framing is the proxy's to say (Content-Length or chunked): never a client's
    # header, which its own Connection header could also strip, leaving a body unframed.
    b"content-length",
    b"cookie",
    b"authorization",
    b"x-csrf-token",
    b"expect",  # answered by the server in front of us
    b"forwarded",
    b"x-real-ip",
}
#: Header prefixes only the proxy may set (identity, and where the request came from).
SPOOFABLE_PREFIXES = (b"x-forwarded-", b"x-auth-request-")
#: Response headers not passed back: hop-by-hop, and those our server sets itself.
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {b"date", b"server"}
#: A key of an ``http.response.start`` message: the answer is an upstream app's own (the
#: gateway), so :class:`~zitadel_bff.web.AuthMiddleware` adds no security headers to it.
UPSTREAM_OWNED = "zitadel_bff.upstream"


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


def client_request_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The client's headers that may reach an upstream, plus X-Forwarded-For/-Proto/-Host
    (names lowercased, as ASGI servers give them)."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    listed = _connection_tokens(raw)
    out: list[tuple[bytes, bytes]] = []
    host = b""
    for item in raw:
        name = item[0]
        key = name.replace(b"_", b"-") if b"_" in name else name
        if key == b"host":
            host = item[1]
        if key in DROPPED_REQUEST_HEADERS or key.startswith(SPOOFABLE_PREFIXES) or key in listed:
            continue
        out.append(item)
    client = scope.get("client")
    if client:
        out.append((b"x-forwarded-for", str(client[0]).encode("latin-1")))
    out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
    if host:
        out.append((b"x-forwarded-host", host))
    return out


def _response_headers(
    raw: list[tuple[bytes, bytes]], drop_cookies: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    listed = _connection_tokens(raw)
    out: list[tuple[bytes, bytes]] = []
    for item in raw:
        key = item[0]
        if key in DROPPED_RESPONSE_HEADERS or key in listed:
            continue
        if key == b"set-cookie" and item[1].split(b"=", 1)[0].strip() in drop_cookies:
            continue  # an upstream may not set (or clear) the BFF's own cookies
        out.append(item)
    return out


@dataclass(slots=True)
class ProxyRequest:
    """One request to forward: the upstream URL (path and query already safe) and headers."""

    url: str
    headers: list[tuple[bytes, bytes]]
    #: The answer is the upstream app's own (the gateway): see UPSTREAM_OWNED.
    upstream_owned: bool = False


class _Progress:
    """Where one forwarded request is, and its deadline: ``timeout`` seconds after bytes last
    moved. One timer per request, re-armed only when it fires early, so marking progress
    is a clock read (``asyncio.timeout`` would re-arm a timer each time)."""

    __slots__ = (
        "body_done",
        "client_gone",
        "expired",
        "handle",
        "last",
        "loop",
        "sending",
        "started",
        "task",
        "timeout",
    )

    def __init__(self, timeout: float) -> None:
        loop = self.loop = asyncio.get_running_loop()
        self.timeout = timeout
        self.last = loop.time()
        self.task = asyncio.current_task()
        self.handle = loop.call_at(self.last + timeout, self._due)
        self.expired = False
        #: Handing a piece of the answer to the client: that wait is the client's, not the
        #: upstream's (a slow reader is the server's business, as for any other answer).
        self.sending = False
        self.body_done = False
        self.client_gone = False
        #: The answer's status and headers went to the client: no error answer is possible.
        self.started = False

    def moved(self) -> None:
        self.last = self.loop.time()

    def _due(self) -> None:
        now = self.loop.time()
        deadline = self.last + self.timeout
        if self.sending:
            self.handle = self.loop.call_at(now + self.timeout, self._due)
        elif now < deadline:
            self.handle = self.loop.call_at(deadline, self._due)
        elif self.task is not None:
            self.expired = True
            self.task.cancel()

    def stop(self) -> None:
        self.handle.cancel()


class _ClientGone(Exception):
    """The client went away while sending its request body."""


def _body_framing(scope: Scope) -> tuple[bytes | None, bool]:
    """(the body's Content-Length as the client sent it, it came chunked) from the headers the
    server parsed (which refuses a malformed or repeated Content-Length)."""
    length: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return None, True
        if name == b"content-length":
            length = value
    return length, False


def _split_url(url: str) -> tuple[str, bytes]:
    """``http://host:port/path?query`` -> (``http://host:port``, ``/path?query``)."""
    slash = url.find("/", url.find("://") + 3)
    if slash < 0:
        return url, b"/"
    return url[:slash], url[slash:].encode("ascii")


class ReverseProxy:
    """Forwards requests over pooled keep-alive connections (:mod:`zitadel_bff.web.http1`);
    ``close()`` at shutdown.

    ``timeout``: seconds without progress before giving up (see the module docstring).
    ``protected_cookies``: cookie names an upstream's ``Set-Cookie`` may not touch.
    """

    def __init__(self, *, timeout: float, protected_cookies: frozenset[bytes] = frozenset()):
        self.timeout = timeout
        self.protected_cookies = protected_cookies
        self._pool: ConnectionPool | None = None

    async def start(self) -> None:
        """Nothing to do: the connection pool is made on first use. Kept so that a lifespan
        written for the proxy (start, then close) stays right."""

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            self._pool = ConnectionPool()
        return self._pool

    async def forward(self, scope: Scope, receive: Receive, send: Send, req: ProxyRequest) -> None:
        """Forward the request and stream the answer back.

        Raises UpstreamUnavailable (502) or UpstreamTimeout (504) when no answer started;
        after that, a failure closes the connection to the client instead.
        """
        progress = _Progress(self.timeout)
        try:
            await self._exchange(scope, receive, send, req, progress)
        except asyncio.CancelledError:
            task = progress.task
            if not progress.expired or task is None or task.uncancel() > 0:
                raise  # cancelled by someone else (the server shutting down)
            if not progress.started:
                raise UpstreamTimeout(f"no answer within {self.timeout:g} s") from None
            self._abandon(scope, progress, TimeoutError(f"nothing for {self.timeout:g} s"))
        except (UpstreamError, _ClientGone) as exc:
            if not progress.started and not progress.client_gone:
                raise UpstreamUnavailable(str(exc)) from exc
            self._abandon(scope, progress, exc)
        finally:
            progress.stop()

    async def _exchange(
        self, scope: Scope, receive: Receive, send: Send, req: ProxyRequest, progress: _Progress
    ) -> None:
        origin, target = _split_url(req.url)
        method = scope["method"].encode("ascii")
        length, chunked = _body_framing(scope)
        headers = req.headers
        if length is not None:
            if not length.isdigit():
                raise BadRequest("the Content-Length is not a number")
            headers.append((b"content-length", length))
        has_body = chunked or (length is not None and length.strip(b"0") != b"")
        body = self._request_body(receive, progress) if has_body else None
        progress.body_done = body is None
        try:
            head = ConnectionPool.head_for(method, target, headers)
        except ValueError:
            raise BadRequest("a header value holds a line break or NUL") from None
        response = await self.pool.request(
            origin,
            head,
            body,
            chunked=chunked,
            method=method,
        )
        try:
            progress.moved()
            start: Message = {
                "type": "http.response.start",
                "status": response.status,
                "headers": _response_headers(response.headers, self.protected_cookies),
            }
            if req.upstream_owned:
                start[UPSTREAM_OWNED] = True
            progress.started = True
            await send(start)
            await self._stream_answer(receive, send, response, progress)
        finally:
            response.release()

    async def _request_body(self, receive: Receive, progress: _Progress) -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                progress.client_gone = True
                raise _ClientGone("the client went away during its request body")
            progress.moved()
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                progress.body_done = True
                return

    async def _stream_answer(
        self, receive: Receive, send: Send, response: Response, progress: _Progress
    ) -> None:
        watcher: asyncio.Task[None] | None = None
        try:
            while True:
                chunk = await response.read()
                if not chunk:
                    break
                last = response.at_eof
                progress.sending = True
                await send({"type": "http.response.body", "body": chunk, "more_body": not last})
                progress.sending = False
                progress.moved()
                if last:
                    return
                if watcher is None and progress.body_done:
                    # A long answer: stop reading it if the client goes away (the server
                    # drops what we send to a closed connection without telling us).
                    watcher = asyncio.ensure_future(_watch_disconnect(receive, response, progress))
                if watcher is not None and watcher.done():
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if watcher is not None:
                watcher.cancel()

    @staticmethod
    def _abandon(scope: Scope, progress: _Progress, exc: BaseException) -> None:
        # Returning without completing the answer makes the server close the connection, so
        # the client sees a broken answer, never a complete-looking truncated one.
        if not progress.client_gone:
            logger.warning(
                "upstream answer to %s %s broke off: %s",
                scope["method"],
                shown(scope["path"]),
                shown(exc),
            )


async def _watch_disconnect(receive: Receive, response: Response, progress: _Progress) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    progress.client_gone = True
    response.close()  # the read in _stream_answer fails at once: nobody is left to answer
