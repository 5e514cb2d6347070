"""The /auth routes (DESIGN.md's route table), plus /healthz and /readyz."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..errors import (
    AccessTokenRefused,
    BadRequest,
    BFFError,
    InvalidCallback,
    InvalidLogoutToken,
    LoginError,
    ProviderDenied,
    ProviderError,
    ProviderUnavailable,
    RefreshRefused,
    SessionEnded,
    UserinfoMismatch,
)
from ..oidc.client import AuthRequest, new_auth_request
from ..security.redirects import safe_return_to
from ..sessions.session import SessionData
from .deps import (
    CurrentSession,
    csrf_exempt,
    csrf_protect,
    get_auth,
    load_session,
    public,
    request_auth,
)
from .messages import MESSAGES, message_for
from .rendering import csrf_token_for, render

__all__ = ["build_router"]

logger = logging.getLogger(__name__)

LOGIN_TX_TTL = 600
LOGOUT_STATE_TTL = 600
MAX_PARAM = 2048
MAX_CODE = 64
MAX_LOGIN_HINT = 256
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BROWSER_NS = "browser"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def build_router() -> APIRouter:  # noqa: C901 - a flat list of small route functions
    # The module protects its own unsafe routes, whether or not the host installs `guard`.
    router = APIRouter(dependencies=[Depends(csrf_protect)])

    @router.get("/auth/login")
    @public
    async def login_page(request: Request) -> Response:
        settings = get_auth(request).settings
        error = _param(request.query_params, "error", MAX_CODE)
        target = safe_return_to(
            _param(request.query_params, "returnTo", MAX_PARAM), settings.zitadel_post_login_url
        )
        try:
            session = await load_session(request)
        except SessionEnded:
            session = None
        if session is not None and error is None:
            return _see_other(target)
        message = MESSAGES.get(error) if error else None
        return render(request, "login.html", return_to=target, message=message, error=error)

    @router.post("/auth/signin")
    @public
    async def signin(request: Request) -> Response:
        auth = get_auth(request)
        form = await _form(request)
        target = safe_return_to(
            _param(form, "returnTo", MAX_PARAM), auth.settings.zitadel_post_login_url
        )
        login_hint = _param(form, "login_hint", MAX_LOGIN_HINT)
        browser_id = request_auth(request).ensure_browser_id()
        req = new_auth_request()
        extra = {"login_hint": login_hint} if login_hint else {}
        url = await auth.oidc.authorization_url(req, **extra)
        await auth.sessions.put_transaction(
            req.state,
            {
                "nonce": req.nonce,
                "verifier": req.code_verifier,
                "return_to": target,
                "browser": auth.keyring.lookup_key(BROWSER_NS, browser_id),
                "started": auth.sessions.clock(),
            },
            LOGIN_TX_TTL,
        )
        return _see_other(url)

    @router.get("/auth/callback")
    @public
    async def callback(request: Request) -> Response:
        try:
            return await _complete_login(request)
        except (LoginError, ProviderError) as exc:
            logger.warning("sign-in failed: %s (%s)", exc.code, exc)
            return _see_other(f"/auth/error?error={exc.code}")

    @router.get("/auth/error")
    @public
    async def auth_error(request: Request) -> Response:
        error = _param(request.query_params, "error", MAX_CODE)
        code = error if error in MESSAGES else "login_failed"
        message = message_for(code)
        status = message.status if message.status >= 500 else 400
        return render(request, "error.html", status, code=code, message=message, retry=True)

    @router.get("/auth/session")
    @public
    async def session_info(request: Request) -> Response:
        """For SPAs: am I signed in, who am I, and the CSRF token for unsafe calls."""
        try:
            session = await load_session(request)
        except SessionEnded:
            session = None
        body: dict[str, Any] = {"authenticated": session is not None}
        if session is not None:
            profile = session.profile
            body["user"] = {
                "sub": profile.sub,
                "name": profile.name,
                "email": profile.email,
                "roles": sorted(profile.roles),
            }
            body["expires_at"] = int(session.expires_at)
        body["csrf_token"] = csrf_token_for(request)
        return JSONResponse(body)

    @router.get("/auth/userinfo")
    async def userinfo(request: Request, session: CurrentSession) -> Response:
        return JSONResponse(await _userinfo(request, session))

    @router.post("/auth/logout")
    @public
    async def logout(request: Request) -> Response:
        return await _logout(request)

    @router.get("/auth/logout/callback")
    @public
    async def logout_callback(request: Request) -> Response:
        state = _param(request.query_params, "state", MAX_PARAM)
        auth_state = request_auth(request)
        expected = auth_state.logout_state
        auth_state.clear_logout_state()
        if state and expected and secrets.compare_digest(state, expected):
            return _see_other("/auth/logout/success")
        logger.info("logout callback with a missing or wrong state")
        return _see_other("/auth/logout/error")

    @router.get("/auth/logout/success")
    @public
    async def logout_success(request: Request) -> Response:
        return render(request, "logout_success.html")

    @router.get("/auth/logout/error")
    @public
    async def logout_error(request: Request) -> Response:
        return render(request, "logout_error.html", 400)

    @router.post("/auth/backchannel-logout")
    @public
    @csrf_exempt
    async def backchannel_logout(request: Request) -> Response:
        return await _backchannel_logout(request)

    @router.get("/healthz")
    @public
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz")
    @public
    async def readyz(request: Request) -> Response:
        try:
            checks = await get_auth(request).ready()
        except BFFError as exc:
            return JSONResponse({"status": "unavailable", "error": exc.code}, status_code=503)
        return JSONResponse({"status": "ok", **checks})

    return router


def _param(params: Mapping[str, Any], name: str, max_length: int) -> str | None:
    """A text parameter, or None when absent, not text, or longer than ``max_length`` (an
    oversized returnTo is dropped for the default, not answered with an error)."""
    value = params.get(name)
    return value if isinstance(value, str) and len(value) <= max_length else None


async def _form(request: Request) -> Mapping[str, Any]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(FORM_TYPES):
        return {}
    try:
        return await request.form()
    except (ValueError, AssertionError, KeyError) as exc:
        raise BadRequest("the request body is not a valid form") from exc


def _callback_params(request: Request) -> tuple[str, str]:
    params = request.query_params
    state, code, error = params.get("state"), params.get("code"), params.get("error")
    for value in (state, code, error, params.get("iss")):
        if value is not None and len(value) > MAX_PARAM:
            raise InvalidCallback("a callback parameter is too long", code="invalid_request")
    if error is not None:
        raise ProviderDenied(
            f"provider error {error[:64]!r}",
            code="access_denied" if error == "access_denied" else "login_failed",
        )
    if not state or not code:
        raise InvalidCallback("code or state missing", code="invalid_request")
    return state, code


async def _complete_login(request: Request) -> Response:
    auth = get_auth(request)
    state_cookie = request_auth(request)
    try:
        state, code = _callback_params(request)
    except ProviderDenied:
        # The provider ended this attempt: spend its transaction so the state cannot be reused.
        if request.query_params.get("state"):
            await auth.sessions.take_transaction(request.query_params["state"][:MAX_PARAM])
        raise
    tx = await auth.sessions.take_transaction(state)
    browser = state_cookie.browser_id
    if tx is None or not browser or not secrets.compare_digest(
        str(tx.get("browser", "")), auth.keyring.lookup_key(BROWSER_NS, browser)
    ):
        raise InvalidCallback("unknown, used, expired or foreign state")
    iss = request.query_params.get("iss")
    if iss is not None and iss != auth.oidc.validator.issuer:
        # RFC 9207: a response from another issuer is a mix-up attack.
        raise InvalidCallback("iss parameter names another issuer", code="invalid_request")
    req = AuthRequest(state=state, nonce=str(tx["nonce"]), code_verifier=str(tx["verifier"]))
    tokens = await auth.oidc.exchange_code(code, req)
    sub = str(tokens.id_claims["sub"])
    claims: dict[str, Any] = dict(tokens.id_claims)
    try:
        claims.update(await auth.oidc.userinfo(tokens.access_token, expected_sub=sub))
    except AccessTokenRefused as exc:
        raise UserinfoMismatch("userinfo refused the new access token") from exc
    sid = tokens.id_claims.get("sid")
    data = SessionData.from_tokens(
        tokens,
        sub=sub,
        claims=claims,
        sid=sid if isinstance(sid, str) else None,
        now=auth.sessions.clock(),
    )
    if state_cookie.session_id:
        await auth.sessions.delete(state_cookie.session_id)
    session_id = await auth.sessions.create(data)
    state_cookie.start_session(session_id, data)
    logger.info("signed in a user (session created)")
    target = safe_return_to(str(tx.get("return_to") or ""), auth.settings.zitadel_post_login_url)
    return _see_other(target)


async def _userinfo(request: Request, session: SessionData) -> dict[str, Any]:
    """ZITADEL's userinfo with the session's access token, refreshed once if it is refused.

    An access token that expired because the provider could not refresh it means the provider
    is unavailable (503), not that the user is signed out: the session is still valid.
    """
    auth = get_auth(request)
    state = request_auth(request)
    assert state.session_id is not None
    if session.access_token_expired(auth.sessions.clock()) and session.refresh_token:
        raise ProviderUnavailable("the access token expired and could not be refreshed yet")
    try:
        return await auth.oidc.userinfo(session.access_token, expected_sub=session.sub)
    except AccessTokenRefused:
        logger.info("the provider refused a session's access token; refreshing once")
    try:
        fresh = await auth.sessions.refresh_refused_token(state.session_id, session)
        return await auth.oidc.userinfo(fresh.access_token, expected_sub=session.sub)
    except AccessTokenRefused as exc:
        await auth.sessions.delete(state.session_id)
        state.end_session()
        raise RefreshRefused("the provider refused the refreshed access token too") from exc
    except SessionEnded:
        state.end_session()
        raise


async def _logout(request: Request) -> Response:
    auth = get_auth(request)
    state = request_auth(request)
    try:
        session = await load_session(request)
    except SessionEnded:
        session = None
    if session is None or state.session_id is None:
        state.end_session()
        return _see_other("/auth/logout/success")
    await auth.sessions.delete(state.session_id)
    state.end_session()
    logout_state = secrets.token_urlsafe(32)
    try:
        if session.refresh_token:
            await auth.oidc.revoke(session.refresh_token)
        url = await auth.oidc.end_session_url(
            id_token_hint=session.id_token,
            post_logout_redirect_uri=auth.settings.zitadel_post_logout_url,
            state=logout_state,
        )
    except ProviderError as exc:
        # The local session is already gone; without the provider, that is all we can do.
        logger.warning("could not reach the provider at logout: %s", exc)
        url = None
    if url is None:
        return _see_other("/auth/logout/success")
    state.set_logout_state(logout_state, LOGOUT_STATE_TTL)
    logger.info("signed out a user locally; sending them to end the provider session")
    return _see_other(url)


async def _backchannel_logout(request: Request) -> Response:
    auth = get_auth(request)
    headers = {"Cache-Control": "no-store"}
    try:
        form = await request.form()
    except (ValueError, AssertionError, KeyError) as exc:
        raise InvalidLogoutToken("the request body is not a form") from exc
    token = form.get("logout_token")
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
    logger.info("back-channel logout ended %d session(s)", ended)
    return Response(status_code=200, headers=headers)
