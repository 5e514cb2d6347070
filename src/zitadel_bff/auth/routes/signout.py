"""Signing out: the local session ends at once, the refresh token is revoked, and the browser
goes to the provider's end_session and back (RP-Initiated Logout 1.0)."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...errors import ProviderError
from ...observability import audit
from ...web import AuthContext, context_of
from ..dependencies import check_csrf, csrf_exempt, get_auth, public
from ..rendering import render
from .common import param, see_other

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()

#: How long the state of a sign-out in progress at the provider is kept in its cookie.
LOGOUT_STATE_TTL = 600
ALREADY_SIGNED_OUT = "/auth/logout/success?already=1"
STATE_BYTES = 32


@router.get("/auth/logout")
@public
async def logout_page(request: Request) -> Response:
    """Typed into the address bar: a page with the sign-out button (sign-out is a POST)."""
    if await context_of(request.scope).optional_session() is None:
        return see_other(ALREADY_SIGNED_OUT)
    return await render(request, "logout.html")


@router.post("/auth/logout")
@public
@csrf_exempt  # checked below, once there is a session to protect
async def logout(request: Request) -> Response:
    context = context_of(request.scope)
    session = await context.optional_session()
    if session is None or context.session_id is None:
        # Nothing to end (a second, stale tab; a session that already expired): no form to
        # protect either, so no "this form has expired" for a sign-out that is already done.
        context.end_session()
        return see_other(ALREADY_SIGNED_OUT)
    await check_csrf(request)
    auth = get_auth(request)
    await auth.sessions.delete(context.session_id)
    context.end_session()
    auth.metrics.sign_out()
    audit("sign_out")
    url = await _end_session_url(request, session.refresh_token, session.id_token, context)
    return see_other(url or "/auth/logout/success")


@router.get("/auth/logout/callback")
@public
async def logout_callback(request: Request) -> Response:
    state = param(request.query_params, "state")
    context = context_of(request.scope)
    expected = context.logout_state
    context.clear_logout_state()
    if state and expected and secrets.compare_digest(state, expected):
        return see_other("/auth/logout/success")
    logger.info("logout callback with a missing or wrong state")
    return see_other("/auth/logout/error")


@router.get("/auth/logout/success")
@public
async def logout_success(request: Request) -> Response:
    already = request.query_params.get("already") == "1"
    return await render(request, "logout_success.html", already=already)


@router.get("/auth/logout/error")
@public
async def logout_error(request: Request) -> Response:
    return await render(request, "logout_error.html", 400)


async def _end_session_url(
    request: Request, refresh_token: str | None, id_token: str | None, context: AuthContext
) -> str | None:
    """Revoke the refresh token (RFC 7009) and build the end_session URL with a fresh state;
    None when the provider cannot be reached or has no end_session: the local sign-out is
    already done, and that is all we can do."""
    auth = get_auth(request)
    state = secrets.token_urlsafe(STATE_BYTES)
    try:
        if refresh_token:
            await auth.oidc.revoke(refresh_token)
        url = await auth.oidc.end_session_url(
            id_token_hint=id_token,
            post_logout_redirect_uri=auth.settings.zitadel_post_logout_url,
            state=state,
        )
    except ProviderError as exc:
        logger.warning("could not reach the provider at logout: %s", exc)
        return None
    if url is not None:
        context.set_logout_state(state, LOGOUT_STATE_TTL)
    return url
