"""Security headers on every response: CSP and friends, computed once per app; documents get
the full set, other responses (JSON, assets) the short one that applies to them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HSTS", "SecurityHeaders", "content_security_policy", "security_headers"]

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


Header = tuple[bytes, bytes]

#: Responses a browser may render as a document (or that say nothing of their type): they get
#: every header. Anything else (JSON, CSS, scripts, images) cannot run in a page of its own and
#: gets the short set OWASP's REST security cheat sheet gives for API responses.
DOCUMENT_TYPES = (
    b"text/html",
    b"application/xhtml+xml",
    b"image/svg+xml",
    b"application/xml",
    b"text/xml",
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


@dataclass(frozen=True, slots=True)
class SecurityHeaders:
    """The headers a response gets unless it set them itself, encoded once per app."""

    document: list[Header]
    other: list[Header]

    def for_content_type(self, content_type: bytes | None) -> list[Header]:
        if content_type is None or content_type.startswith(DOCUMENT_TYPES):
            return self.document
        return self.other


def security_headers(*, form_targets: list[str], https: bool) -> SecurityHeaders:
    """``Cache-Control: no-store`` by default, since every dynamic response here depends on who
    is signed in (assets set their own caching); HSTS when the public URL is https."""
    common = [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
    ]
    if https:
        common.append(("strict-transport-security", HSTS))
    document = [
        ("content-security-policy", content_security_policy(form_targets)),
        *common,
        # Not "no-referrer": under it browsers send `Origin: null` on same-origin form POSTs
        # (Fetch, "append a request Origin header"), which the CSRF origin check refuses.
        # "same-origin" still sends nothing to other origins such as the provider.
        ("referrer-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ("cross-origin-opener-policy", "same-origin"),
    ]
    other = [("content-security-policy", API_CSP), *common]
    return SecurityHeaders(document=_encode(document), other=_encode(other))


def _encode(headers: list[tuple[str, str]]) -> list[Header]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
