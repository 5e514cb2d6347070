"""For single-page apps: the session as JSON, and ZITADEL's userinfo through the BFF."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ...errors import AccessTokenRefused, ProviderUnavailable, RefreshRefused, SessionEnded
from ...sessions import SessionData
from ...web import context_of
from ..dependencies import CurrentSession, get_auth, public
from ..rendering import csrf_token_for

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()


@router.get("/auth/session")
@public
async def session_info(request: Request) -> Response:
    """Am I signed in, who am I, until when, and the CSRF token for unsafe calls."""
    session = await context_of(request.scope).optional_session()
    body: dict[str, Any] = {"authenticated": session is not None}
    if session is not None:
        profile = session.profile
        body["user"] = {
            "sub": profile.sub,
            "name": profile.name,
            "email": profile.email,
            "roles": sorted(profile.roles),
            "organisation": (
                {
                    "id": profile.organisation.id,
                    "name": profile.organisation.name,
                    "primary_domain": profile.organisation.primary_domain,
                }
                if profile.organisation is not None
                else None
            ),
        }
        body["expires_at"] = int(session.expires_at)
    body["csrf_token"] = csrf_token_for(request)
    return JSONResponse(body)


@router.get("/auth/userinfo")
async def userinfo(request: Request, session: CurrentSession) -> Response:
    return JSONResponse(await _userinfo(request, session))


async def _userinfo(request: Request, session: SessionData) -> dict[str, Any]:
    """ZITADEL's userinfo with the session's access token, refreshed once if it is refused.

    An access token that expired because the provider could not refresh it means the provider
    is unavailable (503), not that the user is signed out: the session is still valid.
    """
    auth = get_auth(request)
    context = context_of(request.scope)
    assert context.session_id is not None
    if session.access_token_expired(auth.sessions.clock()) and session.refresh_token:
        raise ProviderUnavailable("the access token expired and could not be refreshed yet")
    try:
        return await auth.oidc.userinfo(session.access_token, expected_sub=session.sub)
    except AccessTokenRefused:
        logger.info("the provider refused a session's access token; refreshing once")
    try:
        fresh = await auth.sessions.refresh_refused_token(context.session_id, session)
        return await auth.oidc.userinfo(fresh.access_token, expected_sub=session.sub)
    except AccessTokenRefused as exc:
        await auth.sessions.delete(context.session_id)
        context.end_session()
        raise RefreshRefused("the provider refused the refreshed access token too") from exc
    except SessionEnded:
        context.end_session()
        raise
