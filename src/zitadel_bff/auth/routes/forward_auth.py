"""Forward-auth for reverse proxies: nginx ``auth_request``, Traefik ForwardAuth, Caddy
``forward_auth``. The proxy asks ``/auth/check`` with the browser's cookies before it serves a
request, and passes the identity headers on to its upstream."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ...errors import BFFError, Forbidden, NotAuthenticated, SessionEnded
from ...observability import shown
from ...web import context_of, safe_return_to
from ..dependencies import public
from ..messages import message_for
from ..proxy import identity_headers
from .common import param

__all__ = ["SIGN_IN_HEADER", "router"]

router = APIRouter()

#: The sign-in address for the original request, sent with 401 (``returnTo`` URL-encoded, which
#: nginx cannot do itself); nginx reads it as ``$upstream_http_x_auth_request_sign_in``.
SIGN_IN_HEADER = "X-Auth-Request-Sign-In"
#: Where proxies say what the original request was: nginx (by convention), Traefik and Caddy.
ORIGINAL_URI_HEADERS = ("x-original-uri", "x-forwarded-uri")


@router.api_route("/auth/check", methods=["GET", "HEAD"])
@public
async def check(request: Request) -> Response:
    """Signed in -> 200 with ``X-Auth-Request-User/-Email/-Preferred-Username/-Groups``;
    signed out -> 401 (with :data:`SIGN_IN_HEADER`); ``?allowed_roles=a,b`` -> 403 unless the
    user holds one of them."""
    context = context_of(request.scope)
    try:
        session = await context.session()
        if session is None:
            raise NotAuthenticated("sign in to use this address")
        allowed = _allowed_roles(request)
        if allowed and not allowed & session.profile.roles.keys():
            roles = shown(", ".join(sorted(allowed)))  # the query's, so anybody's
            raise Forbidden(f"this address needs one of the roles {roles}")
    except BFFError as exc:
        return _refusal(request, exc)
    response = Response(status_code=200)
    for name, value in identity_headers(session):
        # UTF-8 on the wire (names may hold any character); proxies pass the bytes on.
        response.raw_headers.append(
            (f"x-auth-request-{name.lower()}".encode(), value.encode("utf-8"))
        )
    return response


def _allowed_roles(request: Request) -> set[str]:
    raw = param(request.query_params, "allowed_roles") or ""
    return {role.strip() for role in raw.split(",") if role.strip()}


def _refusal(request: Request, exc: BFFError) -> Response:
    body = {"error": exc.code, "message": message_for(exc.code).title}
    response = JSONResponse(body, status_code=exc.status)
    if isinstance(exc, NotAuthenticated):
        response.headers[SIGN_IN_HEADER] = _sign_in_url(request, exc)
    return response


def _sign_in_url(request: Request, exc: NotAuthenticated) -> str:
    original = next(
        (value for name in ORIGINAL_URI_HEADERS if (value := request.headers.get(name))), None
    )
    params = {"returnTo": safe_return_to(param({"uri": original}, "uri"), "/")}
    if isinstance(exc, SessionEnded):
        params["error"] = exc.code
    return "/auth/login?" + urlencode(params)
