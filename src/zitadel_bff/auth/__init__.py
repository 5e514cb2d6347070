"""The FastAPI integration: :class:`ZitadelAuth`, the dependencies and guards, the /auth routes,
and the module's own pages and assets."""

from .dependencies import (
    AnyUser,
    BearerUser,
    CurrentSession,
    CurrentUser,
    OptionalSession,
    OptionalUser,
    csrf_exempt,
    csrf_protect,
    get_auth,
    guard,
    public,
    require_recent_login,
    require_roles,
)
from .module import ZitadelAuth
from .rendering import csrf_token_for, error_response, render, wants_json

__all__ = [
    "AnyUser",
    "BearerUser",
    "CurrentSession",
    "CurrentUser",
    "OptionalSession",
    "OptionalUser",
    "ZitadelAuth",
    "csrf_exempt",
    "csrf_protect",
    "csrf_token_for",
    "error_response",
    "get_auth",
    "guard",
    "public",
    "render",
    "require_recent_login",
    "require_roles",
    "wants_json",
]
