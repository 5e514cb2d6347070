"""FastAPI dependencies: the session, the user, role guards, CSRF, and the deny-by-default guard.

Every route needs a signed-in user unless its endpoint is marked :func:`public`; every unsafe
method needs a CSRF token unless the endpoint is marked :func:`csrf_exempt` (only the back-channel
logout endpoint, which is authenticated by its signed logout token instead).

Each dependency takes the :class:`~fastapi.Request` alone and reads the per-request
:class:`~zitadel_bff.web.AuthContext`, which resolves the session at most once: stacking
``guard``, ``CurrentUser`` and a role guard costs one store read, not three.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.types import Scope

from ..errors import Forbidden, InvalidBearerToken, NotAuthenticated, ReauthenticationRequired
from ..oidc import UserProfile
from ..sessions import SessionData
from ..web import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    check_origin,
    check_token,
    context_of,
)
from . import fastpath
from .bearer import bearer_token
from .gate import (
    CSRF_CHECKED,
    CSRF_EXEMPT_ATTR,
    PUBLIC_ATTR,
    SIGNED_IN_CHECKED,
    bearer_user,
)

if TYPE_CHECKING:
    from .module import ZitadelAuth

__all__ = [
    "AnyUser",
    "BearerUser",
    "CurrentSession",
    "CurrentUser",
    "OptionalSession",
    "OptionalUser",
    "check_csrf",
    "csrf_exempt",
    "csrf_protect",
    "get_auth",
    "guard",
    "public",
    "require_recent_login",
    "require_roles",
]

F = TypeVar("F", bound=Callable[..., Any])
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def public(endpoint: F) -> F:
    """Mark a route as reachable without signing in."""
    setattr(endpoint, PUBLIC_ATTR, True)
    return endpoint


def csrf_exempt(endpoint: F) -> F:
    """Mark a route whose unsafe methods are authenticated by other means than the browser."""
    setattr(endpoint, CSRF_EXEMPT_ATTR, True)
    return endpoint


def get_auth(request: Request) -> ZitadelAuth:
    auth: ZitadelAuth = request.app.state.zitadel_auth
    return auth


async def _optional_session_of(scope: Scope) -> SessionData | None:
    return await context_of(scope).optional_session()


async def _session_of(scope: Scope) -> SessionData:
    data = await context_of(scope).session()
    if data is None:
        raise NotAuthenticated("sign in to see this page")
    return data


async def _optional_user_of(scope: Scope) -> UserProfile | None:
    data = await context_of(scope).optional_session()
    return data.profile if data is not None else None


async def _user_of(scope: Scope) -> UserProfile:
    context = context_of(scope)
    data = context.current if context.resolved_now() else await context.session()
    if data is None:
        raise NotAuthenticated("sign in to see this page")
    return data.profile


async def _bearer_of(scope: Scope) -> UserProfile:
    token = bearer_token(context_of(scope).authorization)
    if token is None:
        raise InvalidBearerToken("send an access token: Authorization: Bearer <token>")
    return await bearer_user(scope, token)


async def _any_user_of(scope: Scope) -> UserProfile:
    """The API client's token user when the request carries one, else the session's."""
    authorization = context_of(scope).authorization
    if authorization is not None and bearer_token(authorization) is not None:
        return await _bearer_of(scope)
    return await _user_of(scope)


# The dependencies proper: each takes the Request alone and reads the same values from its
# scope, so that routes led by them can skip FastAPI's solver (auth/fastpath.py).


async def _optional_session(request: Request) -> SessionData | None:
    return await _optional_session_of(request.scope)


async def _session(request: Request) -> SessionData:
    return await _session_of(request.scope)


async def _optional_user(request: Request) -> UserProfile | None:
    return await _optional_user_of(request.scope)


async def _user(request: Request) -> UserProfile:
    return await _user_of(request.scope)


async def _bearer(request: Request) -> UserProfile:
    return await _bearer_of(request.scope)


async def _any_user(request: Request) -> UserProfile:
    return await _any_user_of(request.scope)


for _dependency, _resolver in (
    (_optional_session, _optional_session_of),
    (_session, _session_of),
    (_optional_user, _optional_user_of),
    (_user, _user_of),
    (_bearer, _bearer_of),
    (_any_user, _any_user_of),
):
    fastpath.register(_dependency, _resolver)


CurrentSession = Annotated[SessionData, Depends(_session)]
OptionalSession = Annotated[SessionData | None, Depends(_optional_session)]
CurrentUser = Annotated[UserProfile, Depends(_user)]
OptionalUser = Annotated[UserProfile | None, Depends(_optional_user)]
#: The user of an API client's ``Authorization: Bearer`` token (introspected, or a JWT).
BearerUser = Annotated[UserProfile, Depends(_bearer)]
#: Either kind: the bearer token's user when one is sent, else the signed-in user.
AnyUser = Annotated[UserProfile, Depends(_any_user)]


def require_roles(*roles: str) -> Callable[[Request], Awaitable[UserProfile]]:
    """A dependency that admits users holding every one of ``roles`` (ZITADEL project roles):
    signed-in users, or API clients whose bearer token's user holds them."""

    async def dependency(request: Request) -> UserProfile:
        user = await _any_user(request)
        missing = [r for r in roles if not user.has_role(r)]
        if missing:
            raise Forbidden(f"this page needs the role {', '.join(missing)}")
        return user

    return dependency


def require_recent_login(max_age: int) -> Callable[[Request], Awaitable[UserProfile]]:
    """A dependency for pages that need a sign-in at most ``max_age`` seconds old (step-up):
    an older one is sent through the provider again with ``prompt=login`` and ``max_age``, and
    the new ID token's ``auth_time`` is checked when it comes back (OIDC Core 3.1.2.1)."""

    async def dependency(request: Request) -> UserProfile:
        session = await _session(request)
        auth_time = session.claims.get("auth_time")
        now = get_auth(request).sessions.clock()
        if not isinstance(auth_time, int | float) or now - auth_time > max_age:
            raise ReauthenticationRequired(
                f"this page needs a sign-in at most {max_age} s old", max_age=max_age
            )
        return session.profile

    return dependency


async def _csrf_token_of(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def csrf_protect(request: Request) -> None:
    """CSRF defence for unsafe methods: a same-origin Origin / Sec-Fetch-Site when the browser
    sends them, and a synchronizer token bound to this browser.

    The token must be bound to the live session when there is one (tokens issued before
    sign-in stop working at sign-in), else to the browser id. Runs once per request even
    when both the module's router and the host's :func:`guard` ask for it.
    """
    if request.method in SAFE_METHODS or request.scope.get(CSRF_CHECKED):
        return
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if getattr(endpoint, CSRF_EXEMPT_ATTR, False):
        return
    await check_csrf(request)


async def check_csrf(request: Request) -> None:
    """The CSRF checks of :func:`csrf_protect`, whatever the route's markings: for a route
    that is :func:`csrf_exempt` only until it knows there is something to protect."""
    context = context_of(request.scope)
    check_origin(
        request.headers.get("origin"), request.headers.get("sec-fetch-site"), context.public_origin
    )
    session = await context.optional_session()
    binding = context.session_id if session is not None else context.browser_id
    check_token(context.keyring, await _csrf_token_of(request), binding)
    request.scope[CSRF_CHECKED] = True


async def guard(request: Request) -> None:
    """The deny-by-default checks as a dependency: CSRF on unsafe methods, and a signed-in user
    unless the route is :func:`public`.

    ``ZitadelAuth.install(app)`` already runs them on every route of the app, before its
    dependencies and without FastAPI's dependency solver; use ``guard`` for an app installed
    with ``deny_by_default=False``, on the routers or routes that need it.
    """
    await csrf_protect(request)
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if not getattr(endpoint, PUBLIC_ATTR, False) and not request.scope.get(SIGNED_IN_CHECKED):
        await _session(request)
        request.scope[SIGNED_IN_CHECKED] = True
