"""The auth middleware with request ids and the access log, for when they are wanted.

A subclass rather than another middleware: the request costs one layer either way, and an app
without request logging runs :class:`AuthMiddleware` untouched.

The request id is the ``X-Request-ID`` a trusted proxy sent (only when TRUSTED_PROXIES is set;
the proxy must set or overwrite it, as nginx's ``proxy_set_header X-Request-ID $request_id``
does), else a new random one. It is echoed on the response and carried by every log record of
the request. The access line names the route template (``/items/{id}``), never the query
string, which may carry a code or a state.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..observability import set_request_id
from ..observability.logs import reset_request_id
from .middleware import AuthMiddleware

__all__ = ["REQUEST_ID_HEADER", "RequestLogMiddleware"]

REQUEST_ID_HEADER = b"x-request-id"
#: What an accepted incoming id may look like (nginx's $request_id, UUIDs, trace ids).
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_BYTES = 8
#: The route of a request no route matched (404s, assets).
NO_ROUTE = "-"

access_logger = logging.getLogger("zitadel_bff.access")


class RequestLogMiddleware(AuthMiddleware):
    """``trust_request_id``: take the incoming X-Request-ID (behind a trusted proxy);
    ``access_log``: one INFO line per request."""

    def __init__(
        self, app: ASGIApp, *, trust_request_id: bool, access_log: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self.trust_request_id = trust_request_id
        self.access_log = access_log

    def _request_id(self, scope: Scope) -> str:
        if self.trust_request_id:
            for name, value in scope["headers"]:
                if name == REQUEST_ID_HEADER:
                    candidate: str = value.decode("latin-1")
                    if REQUEST_ID_RE.fullmatch(candidate):
                        return candidate
                    break
        return secrets.token_hex(REQUEST_ID_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        token = set_request_id(request_id)
        start = time.perf_counter()
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await super().__call__(scope, receive, send_with_id)
        finally:
            if self.access_log:
                self._log(scope, request_id, status, time.perf_counter() - start)
            reset_request_id(token)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or NO_ROUTE
        duration = round(seconds * 1000, 3)
        access_logger.info(
            "%s %s %d %.3f ms", scope["method"], template, status, duration,
            extra={"request_id": request_id, "method": scope["method"], "route": template,
                   "status": status, "duration_ms": duration},
        )
