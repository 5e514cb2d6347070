"""Cross-cutting protections: CSRF, security headers, safe redirects."""

from .csrf import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_origin, check_token
from .headers import SecurityHeadersMiddleware, content_security_policy
from .redirects import safe_return_to

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SecurityHeadersMiddleware",
    "check_origin",
    "check_token",
    "content_security_policy",
    "safe_return_to",
]
