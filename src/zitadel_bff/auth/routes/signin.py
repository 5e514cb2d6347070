"""Signing in: the sign-in page, the start of the flow, the callback and its error page."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...errors import (
    AccessTokenRefused,
    InvalidCallback,
    LoginError,
    MalformedCallback,
    ProviderDenied,
    ProviderError,
    StaleAuthentication,
    UserinfoMismatch,
)
from ...observability import audit, shown
from ...oidc import AuthRequest
from ...sessions import SessionData
from ...web import context_of, safe_return_to
from ..dependencies import get_auth, public
from ..messages import MESSAGES, message_for
from ..rendering import render
from .common import MAX_CODE, form_of, param, see_other
from .flow import BROWSER_NS, sign_in_options, start_sign_in

__all__ = ["check_auth_time", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()



@router.get("/auth/login")
@public
async def login_page(request: Request) -> Response:
    """One click to the provider: 303 to ZITADEL's login at once (a signed-in browser goes on
    to ``returnTo`` instead, unless ``prompt``/``max_age`` ask for a fresh sign-in). With a
    message to show (``?error=``, e.g. an expired session), the sign-in page instead.

    Login CSRF stays impossible: the flow is bound to this browser (see flow.py)."""
    error = param(request.query_params, "error", MAX_CODE)
    options = sign_in_options(request, request.query_params)
    if error is None:
        fresh = options.prompt is not None or options.max_age is not None
        if not fresh and await context_of(request.scope).optional_session() is not None:
            return see_other(options.return_to)
        return await start_sign_in(request, options)
    await context_of(request.scope).optional_session()  # clears a stale cookie, shows the state
    return await render(
        request,
        "login.html",
        return_to=options.return_to,
        message=MESSAGES.get(error),
        error=error,
        options=options,
    )


@router.post("/auth/signin")
@public
async def signin(request: Request) -> Response:
    """Start the flow (options: see flow.py): 303 to the authorize endpoint."""
    return await start_sign_in(request, sign_in_options(request, await form_of(request)))


@router.post("/auth/signup")
@public
async def signup(request: Request) -> Response:
    """Start the flow with ``prompt=create``: ZITADEL shows its registration form first."""
    options = sign_in_options(request, await form_of(request))
    return await start_sign_in(request, replace(options, prompt="create"))


@router.get("/auth/callback")
@public
async def callback(request: Request) -> Response:
    """Finish the flow; every failure goes to the error page, never a 5xx."""
    try:
        response = await _complete_login(request)
    except InvalidCallback as exc:
        # A used or stale callback URL revisited (back button, a bookmark) by a browser that
        # is signed in: nothing failed for this user, so go on instead of showing an error.
        if await context_of(request.scope).optional_session() is not None:
            return see_other(get_auth(request).settings.zitadel_post_login_url)
        return _failed(request, exc)
    except (LoginError, ProviderError) as exc:
        return _failed(request, exc)
    get_auth(request).metrics.sign_in()
    audit("sign_in")
    return response


def _failed(request: Request, exc: LoginError | ProviderError) -> Response:
    logger.warning("sign-in failed: %s (%s)", exc.code, exc)
    get_auth(request).metrics.sign_in_failed(exc.code)
    audit("sign_in_failed", code=exc.code)
    return see_other(f"/auth/error?error={exc.code}")


@router.get("/auth/error")
@public
async def auth_error(request: Request) -> Response:
    error = param(request.query_params, "error", MAX_CODE)
    code = error if error in MESSAGES else "login_failed"
    message = message_for(code)
    status = message.status if message.status >= 500 else 400
    return await render(request, "error.html", status, code=code, message=message, retry=True)


def _callback_params(request: Request) -> tuple[str, str]:
    params = request.query_params
    state, code, error = params.get("state"), params.get("code"), params.get("error")
    if any(param(params, name) is None for name in ("state", "code", "error", "iss")
           if name in params):
        raise MalformedCallback("a callback parameter is too long")
    if error is not None:
        if error == "access_denied":
            raise ProviderDenied("the user or the provider cancelled the sign-in")
        raise LoginError(f"the provider answered error {shown(repr(error), MAX_CODE)}")
    if not state or not code:
        raise MalformedCallback("code or state missing")
    return state, code


async def _complete_login(request: Request) -> Response:
    auth = get_auth(request)
    context = context_of(request.scope)
    try:
        state, code = _callback_params(request)
    except (ProviderDenied, LoginError):
        # The provider ended this attempt: spend its transaction so the state cannot be reused.
        spent = param(request.query_params, "state")
        if spent:
            await auth.sessions.take_transaction(spent)
        raise
    tx = await auth.sessions.take_transaction(state)
    browser = context.browser_id
    if tx is None or not browser or not auth.keyring.lookup_matches(
        BROWSER_NS, browser, str(tx.get("browser", ""))
    ):
        raise InvalidCallback("unknown, used, expired or foreign state")
    iss = request.query_params.get("iss")
    if iss is not None and iss != auth.oidc.validator.issuer:
        # RFC 9207: a response from another issuer is a mix-up attack.
        raise MalformedCallback("the iss parameter names another issuer")
    req = AuthRequest(state=state, nonce=str(tx["nonce"]), code_verifier=str(tx["verifier"]))
    data = await _new_session(request, code, req)
    if isinstance(tx.get("max_age"), int):
        check_auth_time(
            data.claims.get("auth_time"),
            max_age=tx["max_age"],
            now=auth.sessions.clock(),
            leeway=auth.settings.zitadel_clock_skew,
        )
    if context.session_id:
        await auth.sessions.delete(context.session_id)
    context.start_session(await auth.sessions.create(data), data)
    if not data.profile.roles_asserted:
        auth.warn_once(
            "roles",
            "ZITADEL sent no roles claim: role guards will refuse everyone. Ask for the scope "
            "urn:zitadel:iam:org:projects:roles and enable the project's setting \"Assert Roles "
            "on Authentication\" in the ZITADEL console.",
        )
    target = safe_return_to(str(tx.get("return_to") or ""), auth.settings.zitadel_post_login_url)
    return see_other(target)


def check_auth_time(auth_time: object, *, max_age: int, now: float, leeway: int) -> None:
    """OIDC Core 3.1.2.1: when max_age was asked for, the ID token's auth_time must be there
    and at most max_age old (plus the clock skew)."""
    if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
        raise StaleAuthentication("max_age was asked for, but the ID token has no auth_time")
    if auth_time < now - max_age - leeway:
        raise StaleAuthentication("the ID token's auth_time is older than the max_age asked for")


async def _new_session(request: Request, code: str, req: AuthRequest) -> SessionData:
    """Exchange the code, validate, fetch userinfo (its sub must match): the session's data."""
    auth = get_auth(request)
    tokens = await auth.oidc.exchange_code(code, req)
    sub = str(tokens.id_claims["sub"])
    claims: dict[str, Any] = dict(tokens.id_claims)
    try:
        claims.update(await auth.oidc.userinfo(tokens.access_token, expected_sub=sub))
    except AccessTokenRefused as exc:
        raise UserinfoMismatch("userinfo refused the new access token") from exc
    sid = tokens.id_claims.get("sid")
    return SessionData.from_tokens(
        tokens,
        sub=sub,
        claims=claims,
        sid=sid if isinstance(sid, str) else None,
        now=auth.sessions.clock(),
    )
