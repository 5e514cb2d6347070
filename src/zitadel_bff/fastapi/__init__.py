"""The FastAPI auth module: include it in any FastAPI app."""

from .auth import ZitadelAuth
from .deps import (
    CurrentSession,
    CurrentUser,
    OptionalUser,
    csrf_exempt,
    guard,
    load_session,
    public,
    require_roles,
)
from .rendering import csrf_token_for, render

__all__ = [
    "CurrentSession",
    "CurrentUser",
    "OptionalUser",
    "ZitadelAuth",
    "csrf_exempt",
    "csrf_token_for",
    "guard",
    "load_session",
    "public",
    "render",
    "require_roles",
]
