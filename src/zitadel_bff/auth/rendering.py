"""Rendering pages and errors: HTML for browsers, JSON for API clients."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ..errors import BFFError
from ..sessions import SessionData
from ..web import context_of
from .dependencies import get_auth
from .messages import message_for

__all__ = ["csrf_token_for", "error_response", "render", "wants_json"]


def wants_json(request: Request) -> bool:
    """Browsers navigating ask for text/html; fetch(), curl and API clients do not."""
    return "text/html" not in request.headers.get("accept", "")


def csrf_token_for(request: Request) -> str:
    """The CSRF token for forms on this page, bound to the session or to the browser id."""
    binding = context_of(request.scope).csrf_binding()
    return get_auth(request).keyring.csrf_token(binding)


class LazyCSRFToken:
    """The page's CSRF token, made only if the template prints it: a page without a form sets
    no browser-id cookie and computes no HMAC."""

    __slots__ = ("_request", "_value")

    def __init__(self, request: Request) -> None:
        self._request = request
        self._value: str | None = None

    def __str__(self) -> str:
        if self._value is None:
            self._value = csrf_token_for(self._request)
        return self._value

    def __html__(self) -> str:
        return str(self)  # url-safe base64: nothing to escape


async def _viewer(request: Request) -> SessionData | None:
    """The signed-in session to show on a page, or None; a page about a failing store or
    provider still renders (as signed out) instead of failing again."""
    context = context_of(request.scope)
    try:
        return await context.optional_session()
    except BFFError:
        return context.current


async def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page from the module's templates (or the app's, see ``ZitadelAuth(templates_dir=)``)
    with ``user``, ``session``, ``csrf_token``, ``settings`` and ``static_url`` available.

    Every page shows the real signed-in state: the session is resolved if it was not yet.
    """
    session = await _viewer(request)
    auth = get_auth(request)
    context.setdefault("user", session.profile if session is not None else None)
    context.setdefault("csrf_token", LazyCSRFToken(request))
    context.setdefault("session", session)
    context.setdefault("settings", auth.settings)
    return auth.templates.TemplateResponse(request, template, context, status_code=status)


async def error_response(request: Request, code: str, *, status: int | None = None) -> Response:
    message = message_for(code)
    status = status or message.status
    if wants_json(request):
        return JSONResponse({"error": code, "message": message.title}, status_code=status)
    return await render(request, "error.html", status, code=code, message=message)
