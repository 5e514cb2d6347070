"""zitadel-bff: ZITADEL sign-in for FastAPI apps, as a Backend for Frontend."""

from .config import Settings, load_settings
from .errors import BFFError, ConfigError
from .fastapi import (
    CurrentSession,
    CurrentUser,
    OptionalUser,
    ZitadelAuth,
    csrf_exempt,
    guard,
    public,
    require_roles,
)
from .oidc import UserProfile

__all__ = [
    "BFFError",
    "ConfigError",
    "CurrentSession",
    "CurrentUser",
    "OptionalUser",
    "Settings",
    "UserProfile",
    "ZitadelAuth",
    "csrf_exempt",
    "guard",
    "load_settings",
    "public",
    "require_roles",
]
