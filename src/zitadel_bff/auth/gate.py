"""Deny by default, without FastAPI's dependency solver on the hot path.

:class:`RouteGate` gives every route of an app (its own routes and those of included routers)
the module's checks, run just before the route's handler:

- unsafe methods: a same-origin Origin / Sec-Fetch-Site when the browser sends them, and the
  CSRF token (``X-CSRF-Token``, or the ``csrf_token`` field of a form body) bound to this
  browser, unless the endpoint is :func:`~zitadel_bff.csrf_exempt`;
- a signed-in user, unless the endpoint is :func:`~zitadel_bff.public`;
- or, for an API client sending ``Authorization: Bearer``, a valid access token instead of
  both (auth/bearer.py).

A failure raises the module's exception (NotAuthenticated, SessionEnded, CSRFError), which the
app's exception handler turns into a 303 to sign in, a 401 or a 403. The same checks are what the
``guard`` dependency runs; a request is checked once however many of them ask.

Routes are gated when the app first serves a request, and again whenever its route table
changes. Mounted sub-applications are not routes of this app and are not gated (as with a
``guard`` dependency): protect them in their own app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from ..errors import BadRequest, CSRFError, NotAuthenticated
from ..oidc import UserProfile
from ..web import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, check_origin, check_token, context_of
from . import fastpath
from .bearer import bearer_token

__all__ = [
    "CSRF_CHECKED",
    "CSRF_EXEMPT_ATTR",
    "MAX_FORM_BYTES",
    "PUBLIC_ATTR",
    "SIGNED_IN_CHECKED",
    "RouteGate",
    "bearer_user",
    "check_request",
]

logger = logging.getLogger(__name__)

PUBLIC_ATTR = "__zitadel_bff_public__"
CSRF_EXEMPT_ATTR = "__zitadel_bff_csrf_exempt__"
CSRF_CHECKED = "zitadel_bff.csrf_checked"
SIGNED_IN_CHECKED = "zitadel_bff.signed_in_checked"
BEARER_USER = "zitadel_bff.bearer_user"
GATED_ATTR = "_zitadel_bff_gated"
#: FastAPI's change counter of a route table, where it keeps one (route objects can be
#: replaced without changing the table's size).
VERSION_ATTR = "_routes_version"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: A form body is read (and replayed to the handler) to find its CSRF token only up to this
#: size; larger unsafe requests must send the token in the X-CSRF-Token header.
MAX_FORM_BYTES = 1024 * 1024

Handle = Callable[[Scope, Receive, Send], Awaitable[None]]


async def check_request(
    scope: Scope, receive: Receive, *, public: bool, csrf_exempt: bool
) -> Receive:
    """Run the gate's checks for one request; returns the ``receive`` the handler must use
    (a replay of the body when it had to be read for its CSRF token).

    Everything app-specific (keys, origin, sessions) comes from the request's AuthContext, so
    a route shared by several apps (a module-level router) is checked by each app's rules.
    """
    context = context_of(scope)
    token = None if context.authorization is None else bearer_token(context.authorization)
    if token is not None:
        # An API client: the token authenticates the request, and no browser sends an
        # Authorization header by itself, so there is no CSRF to check (RFC 6750).
        if not public:
            await bearer_user(scope, token)
        return receive
    method = scope["method"]
    if method not in SAFE_METHODS and not csrf_exempt and not scope.get(CSRF_CHECKED):
        receive = await _check_csrf(scope, receive)
    if not public and not scope.get(SIGNED_IN_CHECKED):
        if await context.session() is None:
            raise NotAuthenticated("sign in to see this page")
        scope[SIGNED_IN_CHECKED] = True
    return receive


def _signed_in_at_once(scope: Scope) -> bool:
    """What :func:`check_request` concludes for a safe method on a route that needs a user,
    when that is known without I/O (the hot path): a browser (no Authorization header) whose
    session the store vouches for at once. False means: let check_request decide."""
    context = context_of(scope)
    if context.authorization is not None or not context.resolved_now():
        return False
    if context.current is None:
        return False
    scope[SIGNED_IN_CHECKED] = True
    return True


async def bearer_user(scope: Scope, token: str) -> UserProfile:
    """The user of a bearer token, validated once per request (see auth/bearer.py)."""
    user: UserProfile | None = scope.get(BEARER_USER)
    if user is None:
        user = await scope["app"].state.zitadel_auth.bearer.user(token)
        scope[BEARER_USER] = user
    return user


async def _check_csrf(scope: Scope, receive: Receive) -> Receive:
    context = context_of(scope)
    headers = _headers(scope)
    check_origin(headers.get("origin"), headers.get("sec-fetch-site"), context.public_origin)
    session = await context.optional_session()
    binding = context.session_id if session is not None else context.browser_id
    token = headers.get(CSRF_HEADER)
    if not token and headers.get("content-type", "").startswith(FORM_TYPES):
        body = await _read_body(receive)
        receive = _replay(body)
        token = await _form_token(scope, body)
    check_token(context.keyring, token or None, binding)
    scope[CSRF_CHECKED] = True
    return receive


def _headers(scope: Scope) -> Mapping[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("the client went away while sending the form")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise CSRFError("a form this large must send its CSRF token in X-CSRF-Token")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _form_token(scope: Scope, body: bytes) -> str | None:
    request = Request(scope, _replay(body))
    try:
        form = await request.form()
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body
        raise BadRequest("the request body is not a valid form") from exc
    try:
        value = form.get(CSRF_FIELD)
    finally:
        await form.close()
    return value if isinstance(value, str) else None


class RouteGate:
    """Gates every APIRoute of ``app`` (see the module docstring). Call :meth:`sync` before
    the app serves a request: it is a cheap check unless the route table changed.

    The wrapper holds only what belongs to the route (public, csrf_exempt, its methods): a
    route object shared by several apps is gated once and serves each app correctly.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        #: Each route table gated so far, with its size and FastAPI's change counter then.
        self._tables: list[tuple[Any, int, object]] = []

    def sync(self) -> None:
        """Gate the routes added since the last call (a few comparisons when there are none)."""
        for router, size, version in self._tables:
            if len(router.routes) != size or getattr(router, VERSION_ATTR, None) != version:
                break
        else:
            if self._tables:
                return
        routers = [self.app.router]
        count = self._gate_routes(self.app.router.routes, {id(self.app.router)}, routers)
        if count:
            logger.debug("gated %d route(s)", count)
        self._tables = [(router, len(router.routes), _version(router)) for router in routers]

    def _gate_routes(self, routes: list[Any], seen: set[int], routers: list[Any]) -> int:
        count = 0
        for route in routes:
            if isinstance(route, APIRoute):
                count += self._gate(route)
                continue
            included = getattr(route, "original_router", None)  # FastAPI's included routers
            if included is not None and id(included) not in seen:
                seen.add(id(included))
                routers.append(included)
                count += self._gate_routes(included.routes, seen, routers)
        return count

    def _gate(self, route: APIRoute) -> int:
        if getattr(route, GATED_ATTR, False):
            return 0
        original: Handle = route.handle
        methods = frozenset(route.methods or ())
        public = bool(getattr(route.endpoint, PUBLIC_ATTR, False))
        exempt = bool(getattr(route.endpoint, CSRF_EXEMPT_ATTR, False))

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["method"] == "HEAD" and "HEAD" not in methods and "GET" in methods:
                # HEAD is the GET without its body (RFC 9110 9.3.2); FastAPI routes only GET.
                scope = {**scope, "method": "GET"}
                send = _without_body(send)
            method = scope["method"]
            if method not in methods:
                await original(scope, receive, send)  # its 405, before any check
                return
            if method not in SAFE_METHODS or (not public and not _signed_in_at_once(scope)):
                receive = await check_request(scope, receive, public=public, csrf_exempt=exempt)
            await original(scope, receive, send)

        route.handle = handle  # type: ignore[method-assign]
        fastpath.install(route)
        setattr(route, GATED_ATTR, True)
        return 1


def _version(router: Any) -> object:
    return getattr(router, VERSION_ATTR, None)


def _without_body(send: Send) -> Send:
    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return  # every chunk but the last is dropped; the last goes out empty
            message = {"type": "http.response.body", "body": b""}
        await send(message)

    return send_headers_only
