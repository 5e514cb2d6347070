"""Rendering pages and errors: HTML for browsers, JSON for API clients."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .deps import get_auth, request_auth
from .messages import message_for

__all__ = ["csrf_token_for", "error_response", "render", "wants_json"]


def wants_json(request: Request) -> bool:
    """Browsers navigating ask for text/html; fetch(), curl and API clients do not."""
    return "text/html" not in request.headers.get("accept", "")


def csrf_token_for(request: Request) -> str:
    """The CSRF token for forms on this page, bound to the session or to the browser id."""
    state = request_auth(request)
    binding = state.session_id if state.session is not None else None
    if binding is None:
        binding = state.ensure_browser_id()
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


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    state = request_auth(request)
    auth = get_auth(request)
    context.setdefault("user", state.session.profile if state.session is not None else None)
    context.setdefault("csrf_token", LazyCSRFToken(request))
    context.setdefault("session", state.session)
    context.setdefault("settings", auth.settings)
    return auth.templates.TemplateResponse(request, template, context, status_code=status)


def error_response(request: Request, code: str, *, status: int | None = None) -> Response:
    message = message_for(code)
    status = status or message.status
    if wants_json(request):
        return JSONResponse({"error": code, "message": message.title}, status_code=status)
    return render(request, "error.html", status, code=code, message=message)
