"""The exceptions zitadel-bff raises, one class per failure a caller can act on.

Every exception class has its own ``code``: a short, stable identifier that keys the user-facing
message (``zitadel_bff.auth.messages``) and the JSON error body; a class per code, so raising a
class says what the user will read. Messages never contain tokens.

    BFFError
    ├── ConfigError                 the configuration is invalid (raised at start)
    ├── ProviderError               the identity provider failed us
    │   ├── ProviderUnavailable     unreachable, timed out, or answered 5xx     (503)
    │   └── ProviderMisconfigured   an unusable answer: discovery 3xx/4xx or issuer,
    │                               or no JSON object where one is due          (503)
    ├── AccessTokenRefused          the provider refused a session's access token (401)
    ├── StoreUnavailable            the session store cannot be reached         (503)
    ├── LoginError                  a sign-in attempt failed                   (-> /auth/error)
    │   ├── InvalidCallback         unknown, expired, replayed or foreign state
    │   ├── MalformedCallback       callback parameters missing or too long, wrong iss
    │   ├── ProviderDenied          the provider answered ?error=...
    │   ├── TokenExchangeFailed     the token endpoint refused the code
    │   ├── InvalidIDToken          the ID token failed validation
    │   ├── StaleAuthentication     max_age was asked for, the sign-in is older
    │   └── UserinfoMismatch        userinfo failed or its sub differs from the ID token
    ├── NotAuthenticated            no valid session                            (401 / sign in)
    │   ├── InvalidBearerToken      an Authorization: Bearer token was refused  (401)
    │   ├── SessionEnded            the session expired or was ended elsewhere
    │   │   └── RefreshRefused      the provider refused to refresh its tokens
    │   └── ReauthenticationRequired  this page needs a more recent sign-in (step-up)
    ├── Forbidden                   signed in but lacking a role                (403)
    ├── CSRFError                   missing or wrong CSRF token, foreign Origin (403)
    ├── BadRequest                  a request the module cannot read            (400)
    ├── UpstreamUnavailable         a proxied upstream is unreachable or broke  (502)
    │   └── UpstreamTimeout         ... or did not answer within API_TIMEOUT    (504)
    └── InvalidLogoutToken          a back-channel logout token was refused     (400)
"""

from __future__ import annotations

__all__ = [
    "AccessTokenRefused",
    "BFFError",
    "BadRequest",
    "CSRFError",
    "ConfigError",
    "Forbidden",
    "InvalidBearerToken",
    "InvalidCallback",
    "InvalidIDToken",
    "InvalidLogoutToken",
    "LoginError",
    "MalformedCallback",
    "NotAuthenticated",
    "ProviderDenied",
    "ProviderError",
    "ProviderMisconfigured",
    "ProviderUnavailable",
    "ReauthenticationRequired",
    "RefreshRefused",
    "SessionEnded",
    "StaleAuthentication",
    "StoreUnavailable",
    "TokenExchangeFailed",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "UserinfoMismatch",
]


class BFFError(Exception):
    """Base class. ``code`` keys the message shown to users; ``status`` is the HTTP status."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)


class ConfigError(BFFError):
    """The configuration is invalid."""

    code = "config_error"

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {name}: {reason}" for name, reason in sorted(problems.items()))
        super().__init__(f"invalid configuration:\n{lines}")


class ProviderError(BFFError):
    """The identity provider failed us."""

    code = "provider_unavailable"
    status = 503


class ProviderUnavailable(ProviderError):
    """The identity provider could not be reached, timed out, or answered with a server error."""


class ProviderMisconfigured(ProviderError):
    """The identity provider's discovery document (or key set) is unusable: not found there,
    not JSON, or for another issuer; or another of its answers is not the JSON object due
    (the token endpoint's, introspection's)."""

    code = "provider_misconfigured"


class AccessTokenRefused(BFFError):
    """The provider refused a session's access token (userinfo answered 401)."""

    code = "token_refused"
    status = 401


class StoreUnavailable(BFFError):
    """The session store could not be reached."""

    code = "store_unavailable"
    status = 503


class LoginError(BFFError):
    """A sign-in attempt failed."""

    code = "login_failed"
    status = 400


class InvalidCallback(LoginError):
    """The callback's state is unknown, expired, already used, or from another browser."""

    code = "invalid_state"


class MalformedCallback(LoginError):
    """The callback lacked its parameters, carried oversized ones, or named another issuer."""

    code = "invalid_request"


class ProviderDenied(LoginError):
    """The provider answered the authorization request with an error."""

    code = "access_denied"


class TokenExchangeFailed(LoginError):
    """The token endpoint refused the authorization code."""

    code = "token_exchange_failed"


class InvalidIDToken(LoginError):
    """The ID token failed validation."""

    code = "invalid_id_token"


class StaleAuthentication(LoginError):
    """A sign-in asked for with max_age came back with an older (or no) auth_time."""

    code = "auth_too_old"


class UserinfoMismatch(LoginError):
    """Userinfo could not be fetched, or its sub differs from the ID token's."""

    code = "userinfo_failed"


class NotAuthenticated(BFFError):
    """No valid session."""

    code = "not_authenticated"
    status = 401


class InvalidBearerToken(NotAuthenticated):
    """An API client's bearer token is malformed, inactive, expired or for another audience."""

    code = "invalid_token"


class SessionEnded(NotAuthenticated):
    """The session expired or was ended elsewhere."""

    code = "session_expired"


class RefreshRefused(SessionEnded):
    """The provider no longer accepts the session: its refresh, or its tokens, were refused."""

    code = "refresh_failed"


class ReauthenticationRequired(NotAuthenticated):
    """Signed in, but longer ago than this page allows: sign in again (step-up)."""

    code = "reauthentication_required"

    def __init__(self, message: str = "", *, max_age: int = 0) -> None:
        super().__init__(message)
        self.max_age = max_age


class Forbidden(BFFError):
    """Signed in, but without a role this page needs."""

    code = "forbidden"
    status = 403


class CSRFError(BFFError):
    """The request's CSRF token is missing or wrong, or it came from a foreign origin."""

    code = "csrf_failed"
    status = 403


class BadRequest(BFFError):
    """The request could not be read (e.g. a malformed form body)."""

    code = "bad_request"
    status = 400


class UpstreamUnavailable(BFFError):
    """An upstream behind the proxy could not be reached, or broke off its answer."""

    code = "upstream_unavailable"
    status = 502


class UpstreamTimeout(UpstreamUnavailable):
    """An upstream behind the proxy did not answer within API_TIMEOUT seconds."""

    code = "upstream_timeout"
    status = 504


class InvalidLogoutToken(BFFError):
    """A back-channel logout token was refused."""

    code = "invalid_logout_token"
    status = 400
