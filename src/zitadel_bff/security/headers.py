"""Security headers on every response, as pure ASGI middleware (headers are precomputed once)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware", "content_security_policy"]

HSTS = "max-age=63072000; includeSubDomains"


def content_security_policy(form_targets: list[str]) -> str:
    """No inline script or style, no third-party origin; forms may post (and be redirected, as
    Chromium checks form-action on redirects) only to this app and the identity provider."""
    targets = " ".join(["'self'", *form_targets])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        f"form-action {targets}; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Adds the headers unless the app set them; ``Cache-Control: no-store`` by default, since
    every dynamic page here depends on who is signed in."""

    def __init__(self, app: ASGIApp, *, form_targets: list[str], https: bool) -> None:
        self.app = app
        headers = [
            ("content-security-policy", content_security_policy(form_targets)),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            # Not "no-referrer": under it browsers send `Origin: null` on same-origin form POSTs
            # (Fetch, "append a request Origin header"), which the CSRF origin check refuses.
            # "same-origin" still sends nothing to other origins such as the provider.
            ("referrer-policy", "same-origin"),
            ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cache-control", "no-store"),
        ]
        if https:
            headers.append(("strict-transport-security", HSTS))
        self._headers = [(k.encode(), v.encode()) for k, v in headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", ()))
                present = {k.lower() for k, _ in raw}
                raw.extend(h for h in self._headers if h[0] not in present)
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)
