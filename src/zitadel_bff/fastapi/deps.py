"""FastAPI dependencies: the session, the user, role guards, and the deny-by-default guard.

Every route needs a signed-in user unless its endpoint is marked :func:`public`; every unsafe
method needs a CSRF token unless the endpoint is marked :func:`csrf_exempt` (only the back-channel
logout endpoint, which is authenticated by its signed logout token instead).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request

from ..errors import Forbidden, NotAuthenticated, SessionEnded
from ..oidc.claims import UserProfile
from ..security.csrf import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_origin, check_token
from ..sessions.cookies import SCOPE_KEY, RequestAuth
from ..sessions.session import SessionData

if TYPE_CHECKING:
    from .auth import ZitadelAuth

__all__ = [
    "CurrentSession",
    "CurrentUser",
    "OptionalUser",
    "csrf_exempt",
    "csrf_protect",
    "get_auth",
    "guard",
    "load_session",
    "public",
    "request_auth",
    "require_roles",
]

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC_ATTR = "__zitadel_bff_public__"
CSRF_EXEMPT_ATTR = "__zitadel_bff_csrf_exempt__"


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


def request_auth(request: Request) -> RequestAuth:
    state: RequestAuth = request.scope[SCOPE_KEY]
    return state


async def load_session(request: Request) -> SessionData | None:
    """The request's live session (refreshed if due), loaded once per request.

    Raises SessionEnded when the session just timed out or its refresh was refused, so the
    user is told why they must sign in again; the cookie is cleared either way.
    """
    state = request_auth(request)
    if state.loaded:
        return state.session
    state.loaded = True
    if state.session_id is None:
        return None
    manager = get_auth(request).sessions
    try:
        data = await manager.load(state.session_id)
        if data is not None:
            data = await manager.ensure_fresh(state.session_id, data)
    except SessionEnded:
        state.end_session()
        raise
    if data is None:
        # The browser holds a session cookie the store no longer knows: the session timed out
        # (the store drops records at expiry) or was ended elsewhere. Say so, and clear it.
        state.end_session()
        raise SessionEnded("the session is no longer known")
    state.session = data
    return data


async def _session(request: Request) -> SessionData:
    data = await load_session(request)
    if data is None:
        raise NotAuthenticated("sign in to see this page")
    return data


async def _optional_user(request: Request) -> UserProfile | None:
    try:
        data = await load_session(request)
    except SessionEnded:
        return None
    return data.profile if data else None


async def _user(session: Annotated[SessionData, Depends(_session)]) -> UserProfile:
    return session.profile


CurrentSession = Annotated[SessionData, Depends(_session)]
CurrentUser = Annotated[UserProfile, Depends(_user)]
OptionalUser = Annotated[UserProfile | None, Depends(_optional_user)]


def require_roles(*roles: str) -> Callable[..., Awaitable[UserProfile]]:
    """A dependency that admits users holding every one of ``roles`` (ZITADEL project roles)."""

    async def dependency(user: CurrentUser) -> UserProfile:
        missing = [r for r in roles if not user.has_role(r)]
        if missing:
            raise Forbidden(f"this page needs the role {', '.join(missing)}")
        return user

    return dependency


async def _csrf_token_of(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


CSRF_CHECKED = "zitadel_bff.csrf_checked"


async def csrf_protect(request: Request) -> None:
    """CSRF defence for unsafe methods: a same-origin Origin / Sec-Fetch-Site when the browser
    sends them, and a synchronizer token bound to this browser.

    The token must be bound to the live session when there is one (tokens issued before
    sign-in stop working at sign-in), else to the browser id. Runs once per request even
    when both the module's router and the host's :func:`guard` ask for it.
    """
    if request.method in SAFE_METHODS or request.scope.get(CSRF_CHECKED):
        return
    route = request.scope.get("route")
    if getattr(getattr(route, "endpoint", None), CSRF_EXEMPT_ATTR, False):
        return
    auth = get_auth(request)
    check_origin(
        request.headers.get("origin"),
        request.headers.get("sec-fetch-site"),
        auth.settings.public_origin,
    )
    state = request_auth(request)
    try:
        session = await load_session(request)
    except SessionEnded:
        session = None
    binding = state.session_id if session is not None else state.browser_id
    check_token(auth.keyring, await _csrf_token_of(request), binding)
    request.scope[CSRF_CHECKED] = True


async def guard(request: Request) -> None:
    """Installed on every route: CSRF on unsafe methods, a session unless the route is public."""
    await csrf_protect(request)
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if not getattr(endpoint, PUBLIC_ATTR, False):
        await _session(request)
