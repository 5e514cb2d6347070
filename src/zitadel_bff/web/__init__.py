"""The web layer, framework-neutral (ASGI and Starlette types only): cookies, the per-request
auth context, CSRF, security headers, safe redirects, in-memory assets and the one middleware."""

from .context import SCOPE_KEY, AuthContext, context_of
from .cookies import CookiePolicy, parse_cookie_header
from .csrf import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_origin, check_token
from .headers import SecurityHeaders, content_security_policy, security_headers
from .middleware import AuthMiddleware
from .redirects import safe_return_to
from .static import STATIC_PREFIX, MemoryStaticFiles

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SCOPE_KEY",
    "STATIC_PREFIX",
    "AuthContext",
    "AuthMiddleware",
    "CookiePolicy",
    "MemoryStaticFiles",
    "SecurityHeaders",
    "check_origin",
    "check_token",
    "content_security_policy",
    "context_of",
    "parse_cookie_header",
    "safe_return_to",
    "security_headers",
]
