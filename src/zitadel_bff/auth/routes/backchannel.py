"""OIDC Back-Channel Logout 1.0: the provider tells us a session ended elsewhere."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...errors import BadRequest, InvalidLogoutToken
from ...observability import audit
from ..dependencies import csrf_exempt, get_auth, public
from .common import form_of

__all__ = ["router"]

router = APIRouter()


@router.post("/auth/backchannel-logout")
@public
@csrf_exempt  # authenticated by the signed logout token, not by a browser
async def backchannel_logout(request: Request) -> Response:
    """A valid logout token -> 200 and the sessions of its sid (or else its sub) end;
    anything else -> 400 (section 2.8)."""
    auth = get_auth(request)
    try:
        ended = await _end_sessions(request)
    except InvalidLogoutToken:
        auth.metrics.backchannel("rejected")
        raise
    auth.metrics.backchannel("accepted")
    audit("backchannel_logout", ended=ended)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})


async def _end_sessions(request: Request) -> int:
    """Validate the logout token and end its sessions; how many ended."""
    auth = get_auth(request)
    try:
        token = (await form_of(request)).get("logout_token")
    except BadRequest as exc:
        raise InvalidLogoutToken("the request body is not a form") from exc
    if not isinstance(token, str) or not token:
        raise InvalidLogoutToken("logout_token missing")
    claims = await auth.oidc.validator.logout_token(token)
    # Remember the jti as long as the token could still be accepted: exp plus the clock skew.
    replay_until = float(claims["exp"]) + auth.settings.zitadel_clock_skew
    if not await auth.sessions.first_use("jti", str(claims["jti"]), replay_until):
        raise InvalidLogoutToken("logout token replayed")
    sid = claims.get("sid")
    if isinstance(sid, str) and sid:
        # Only that provider session: the user's other browsers stay signed in (a provider that
        # sends sid in logout tokens sends it in ID tokens too, BCL 1.0 section 2.4).
        ended = await auth.sessions.end_by_sid(sid)
    else:
        ended = await auth.sessions.end_by_sub(claims["sub"])
    return ended
