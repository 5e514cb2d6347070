"""Starting a sign-in: the options a request may carry, and the login transaction.

Options (query or form fields): ``returnTo`` (a path on this app), ``prompt`` (``login`` to
sign in again, ``create`` for ZITADEL's registration form, ``select_account``), ``max_age``
(seconds: the sign-in must be at most that old, OIDC Core 3.1.2.1), ``login_hint`` (passed
through), ``idp`` (ZITADEL's reserved scope ``urn:zitadel:iam:org:idp:id:{id}``, only for ids
listed in ZITADEL_IDP_HINTS). ``ui_locales`` comes from ZITADEL_UI_LOCALES, else from the
browser's Accept-Language. The organisation scope of ZITADEL_ORG_ID/_DOMAIN is always sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ...oidc import new_auth_request
from ...web import context_of, safe_return_to
from ..dependencies import get_auth
from .common import param, see_other

__all__ = ["BROWSER_NS", "LOGIN_TX_TTL", "SignInOptions", "sign_in_options", "start_sign_in"]

logger = logging.getLogger(__name__)

#: How long a started sign-in may take at the provider.
LOGIN_TX_TTL = 600
BROWSER_NS = "browser"
IDP_SCOPE = "urn:zitadel:iam:org:idp:id:"
PROMPTS = frozenset({"login", "create", "select_account"})
MAX_LOGIN_HINT = 256
MAX_MAX_AGE = 30 * 24 * 3600
MAX_UI_LOCALES = 5
#: One Accept-Language entry: a language tag and an optional quality (RFC 9110 12.5.4).
LANGUAGE_RANGE = re.compile(
    r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)\s*(?:;\s*q=([0-9.]{1,5}))?\s*"
)


@dataclass(frozen=True, slots=True)
class SignInOptions:
    return_to: str
    prompt: str | None = None
    max_age: int | None = None
    login_hint: str | None = None
    idp: str | None = None


def sign_in_options(request: Request, params: Mapping[str, Any]) -> SignInOptions:
    """The options of ``params`` that are acceptable; anything else is dropped, not an error
    (a stale or hand-made link still signs the user in)."""
    settings = get_auth(request).settings
    prompt = param(params, "prompt", 32)
    idp = param(params, "idp", 64)
    if idp is not None and idp not in settings.idp_hints:
        logger.info("ignoring an idp hint that ZITADEL_IDP_HINTS does not list")
        idp = None
    return SignInOptions(
        return_to=safe_return_to(param(params, "returnTo"), settings.zitadel_post_login_url),
        prompt=prompt if prompt in PROMPTS else None,
        max_age=_max_age(param(params, "max_age", 16)),
        login_hint=param(params, "login_hint", MAX_LOGIN_HINT) or None,
        idp=idp,
    )


def _max_age(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return min(int(value), MAX_MAX_AGE)


def ui_locales(request: Request) -> str | None:
    """ZITADEL_UI_LOCALES, else the browser's preferred languages (Accept-Language)."""
    configured = get_auth(request).settings.zitadel_ui_locales
    if configured:
        return configured
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(request.headers.get("accept-language", "").split(",")[:20]):
        match = LANGUAGE_RANGE.fullmatch(part)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if quality > 0:
            ranked.append((-quality, index, match.group(1)))
    tags = list(dict.fromkeys(tag for _, _, tag in sorted(ranked)))[:MAX_UI_LOCALES]
    return " ".join(tags) or None


async def start_sign_in(request: Request, options: SignInOptions) -> Response:
    """A one-time login transaction bound to this browser, then 303 to the authorize
    endpoint. Login CSRF stays impossible: the callback must come back to the same browser."""
    auth = get_auth(request)
    browser_id = context_of(request.scope).ensure_browser_id()
    req = new_auth_request()
    params = {"prompt": options.prompt, "login_hint": options.login_hint,
              "ui_locales": ui_locales(request)}
    if options.max_age is not None:
        params["max_age"] = str(options.max_age)
    extra_scopes = (IDP_SCOPE + options.idp,) if options.idp else ()
    url = await auth.oidc.authorization_url(
        req, extra_scopes=extra_scopes, **{k: v for k, v in params.items() if v}
    )
    transaction: dict[str, Any] = {
        "nonce": req.nonce,
        "verifier": req.code_verifier,
        "return_to": options.return_to,
        "browser": auth.keyring.lookup_key(BROWSER_NS, browser_id),
    }
    if options.max_age is not None:
        transaction["max_age"] = options.max_age
    await auth.sessions.put_transaction(req.state, transaction, LOGIN_TX_TTL)
    return see_other(url)
