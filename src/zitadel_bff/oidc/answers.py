"""What the provider's answers must be for us to read them: a JSON object, and from the token
endpoint a token whose expiry is a number. Anything else is refused in words a person can act
on (:mod:`zitadel_bff.oidc.failures`), never with the body."""

from __future__ import annotations

from typing import Any

import httpx
from authlib.oauth2.rfc6749 import OAuth2Token

from ..errors import ProviderMisconfigured
from .failures import describe_not_json, without_credentials

__all__ = ["TOKEN_ANSWER_HOOKS", "json_object", "usable_token_answer"]

#: Authlib's compliance hooks for the token endpoint's answers: code exchange and refresh.
TOKEN_ANSWER_HOOKS = ("access_token_response", "refresh_token_response")


def json_object(resp: httpx.Response) -> dict[str, Any] | None:
    """The answer's body if it is a JSON object; None for anything else."""
    try:
        data = resp.json()
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return None
    return data if isinstance(data, dict) else None


def usable_token_answer(resp: httpx.Response) -> httpx.Response:
    """Refuse, with ProviderMisconfigured, a token endpoint success that Authlib cannot read:
    for a body that is no JSON object Authlib raises a bare ValueError, for an expiry that is
    no number int()'s TypeError, ValueError or OverflowError. Error statuses are Authlib's to
    read (the OAuth error, else the status). Runs as an Authlib compliance hook."""
    if not resp.is_success:
        return resp
    method, url = resp.request.method, str(resp.request.url)
    token = json_object(resp)
    if token is None:
        raise ProviderMisconfigured(describe_not_json(method, url, resp))
    if "error" not in token and not _expiry_readable(token):
        raise ProviderMisconfigured(
            f"{method} {without_credentials(url)} answered a token response whose expires_in "
            "or expires_at is no number"
        )
    return resp


def _expiry_readable(token: dict[str, Any]) -> bool:
    """Whether Authlib can wrap ``token`` as it wraps every token it returns, which turns
    expires_in and expires_at into whole seconds."""
    try:
        OAuth2Token(dict(token))
    except (TypeError, ValueError, OverflowError):
        return False
    return True
