"""The web layer, framework-neutral (ASGI and Starlette types only): cookies, the per-request
auth context, CSRF, security headers, safe redirects, in-memory assets, the one middleware and
the streaming reverse proxy."""

from .context import SCOPE_KEY, AuthContext, context_of
from .cookies import CookiePolicy, parse_cookie_header
from .csrf import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_origin, check_token
from .headers import SecurityHeaders, content_security_policy, security_headers
from .middleware import UPSTREAM_ROUTE, ApiDispatch, AuthMiddleware
from .proxy import UPSTREAM_OWNED, ProxyRequest, ReverseProxy, client_request_headers
from .redirects import safe_return_to
from .requestlog import RequestLogMiddleware
from .static import STATIC_PREFIX, MemoryStaticFiles
from .upstreams import Upstream, upstream_path

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SCOPE_KEY",
    "STATIC_PREFIX",
    "UPSTREAM_OWNED",
    "UPSTREAM_ROUTE",
    "ApiDispatch",
    "AuthContext",
    "AuthMiddleware",
    "CookiePolicy",
    "MemoryStaticFiles",
    "ProxyRequest",
    "RequestLogMiddleware",
    "ReverseProxy",
    "SecurityHeaders",
    "Upstream",
    "check_origin",
    "check_token",
    "client_request_headers",
    "content_security_policy",
    "context_of",
    "parse_cookie_header",
    "safe_return_to",
    "security_headers",
    "upstream_path",
]
