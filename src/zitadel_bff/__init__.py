"""zitadel-bff: ZITADEL sign-in for FastAPI apps, as a Backend for Frontend.

Import everything from here; the subpackages are the implementation and may change::

    from zitadel_bff import CurrentUser, ZitadelAuth, guard, load_settings, public

Layers, each importing only those below it: ``config``/``errors``; ``oidc`` (the protocol, the
only user of Authlib); ``sessions`` (records, sealing, stores); ``web`` (cookies, CSRF, headers,
the ASGI middleware); ``auth`` (the FastAPI integration); ``app`` (the demo app and the CLI,
built on this public API only).
"""

from .auth import (
    CurrentSession,
    CurrentUser,
    OptionalSession,
    OptionalUser,
    ZitadelAuth,
    csrf_exempt,
    csrf_protect,
    csrf_token_for,
    error_response,
    guard,
    public,
    render,
    require_roles,
    wants_json,
)
from .config import DEFAULT_SCOPES, Settings, load_settings
from .errors import (
    AccessTokenRefused,
    BadRequest,
    BFFError,
    ConfigError,
    CSRFError,
    Forbidden,
    InvalidCallback,
    InvalidIDToken,
    InvalidLogoutToken,
    LoginError,
    MalformedCallback,
    NotAuthenticated,
    ProviderDenied,
    ProviderError,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRefused,
    SessionEnded,
    StoreUnavailable,
    TokenExchangeFailed,
    UserinfoMismatch,
)
from .oidc import OIDCClient, Organisation, ProviderMetadata, UserProfile
from .sessions import (
    Entry,
    MemoryStore,
    SessionData,
    SessionManager,
    SQLiteStore,
    Store,
    store_from_url,
)

__version__ = "0.2.0"

__all__ = [
    "DEFAULT_SCOPES",
    "AccessTokenRefused",
    "BFFError",
    "BadRequest",
    "CSRFError",
    "ConfigError",
    "CurrentSession",
    "CurrentUser",
    "Entry",
    "Forbidden",
    "InvalidCallback",
    "InvalidIDToken",
    "InvalidLogoutToken",
    "LoginError",
    "MalformedCallback",
    "MemoryStore",
    "NotAuthenticated",
    "OIDCClient",
    "OptionalSession",
    "OptionalUser",
    "Organisation",
    "ProviderDenied",
    "ProviderError",
    "ProviderMetadata",
    "ProviderMisconfigured",
    "ProviderUnavailable",
    "RefreshRefused",
    "SQLiteStore",
    "SessionData",
    "SessionEnded",
    "SessionManager",
    "Settings",
    "Store",
    "StoreUnavailable",
    "TokenExchangeFailed",
    "UserProfile",
    "UserinfoMismatch",
    "ZitadelAuth",
    "__version__",
    "csrf_exempt",
    "csrf_protect",
    "csrf_token_for",
    "error_response",
    "guard",
    "load_settings",
    "public",
    "render",
    "require_roles",
    "store_from_url",
    "wants_json",
]
