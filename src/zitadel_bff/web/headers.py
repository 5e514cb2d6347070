"""Security headers on every response: CSP and friends, computed once per app."""

from __future__ import annotations

__all__ = ["HSTS", "content_security_policy", "security_headers"]

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


def security_headers(*, form_targets: list[str], https: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response gets unless it set them itself, encoded once.

    ``Cache-Control: no-store`` by default, since every dynamic page here depends on who is
    signed in (assets set their own caching).
    """
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
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
