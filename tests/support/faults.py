"""Provider faults for one app: swap the transport of its shared HTTP client for a while."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from tests.support.server import ThreadedServer


class Unreachable(httpx.AsyncBaseTransport):
    """Every call to the provider fails to connect."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("provider down", request=request)


class PageAtToken(httpx.AsyncBaseTransport):
    """The token endpoint answers 200 with an HTML page (a proxy's maintenance or sign-in
    page); every other call passes through."""

    def __init__(self, real: httpx.AsyncBaseTransport) -> None:
        self.real = real

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/token"):
            return await self.real.handle_async_request(request)
        return httpx.Response(
            200, headers={"content-type": "text/html"}, text="<html>maintenance</html>"
        )


@contextmanager
def provider_transport(
    server: ThreadedServer, make: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]
) -> Iterator[None]:
    """Route the app's provider calls through ``make(real_transport)`` inside the block."""
    http = server.app.state.zitadel_auth.oidc._http
    real = http._transport
    http._transport = make(real)
    try:
        yield
    finally:
        http._transport = real


def burst(urls: list[str], cookie: str) -> list[int]:
    """GET every URL at once with the session cookie (JSON accept); the statuses in order."""

    async def run() -> list[int]:
        async with httpx.AsyncClient(cookies={"zbff_session": cookie}) as client:
            responses = await asyncio.gather(
                *[client.get(url, headers={"accept": "application/json"}) for url in urls]
            )
        return [r.status_code for r in responses]

    return asyncio.run(run())
