"""Exception handlers: every failure becomes a clear page or JSON body and one log line."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    BFFError,
    InvalidBearerToken,
    LoginError,
    NotAuthenticated,
    ReauthenticationRequired,
    SessionEnded,
)
from ..observability import shown
from .messages import message_for
from .rendering import error_response, wants_json

__all__ = ["install_error_pages", "install_exception_handlers", "login_redirect"]

logger = logging.getLogger(__name__)

HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


def login_redirect(
    request: Request, error: str | None = None, *, max_age: int | None = None
) -> Response:
    """303 to sign in, coming back to this page; with ``max_age`` a fresh sign-in is asked for
    (``prompt=login``)."""
    params = {}
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params["returnTo"] = target
    if error:
        params["error"] = error
    if max_age is not None:
        params.update(prompt="login", max_age=str(max_age))
    url = "/auth/login" + (f"?{urlencode(params)}" if params else "")
    return RedirectResponse(url, status_code=303)


def _path(request: Request) -> str:
    # The client writes the path, percent-decoded into any character at all.
    return shown(request.url.path)


async def _bff_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BFFError)
    level = logging.ERROR if exc.status >= 500 else logging.INFO
    logger.log(level, "%s %s -> %s: %s", request.method, _path(request), exc.code, exc)
    if isinstance(exc, NotAuthenticated):
        return _not_authenticated(request, exc)
    if isinstance(exc, LoginError) and not wants_json(request):
        return RedirectResponse(f"/auth/error?{urlencode({'error': exc.code})}", status_code=303)
    return await error_response(request, exc.code, status=exc.status)


def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
    max_age = exc.max_age if isinstance(exc, ReauthenticationRequired) else None
    if isinstance(exc, InvalidBearerToken):
        # An API client: JSON, and the challenge of RFC 6750 section 3.
        return JSONResponse(
            {"error": exc.code, "message": message_for(exc.code).title},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if wants_json(request):
        body: dict[str, object] = {"error": exc.code, "message": message_for(exc.code).title}
        if max_age is not None:
            body["max_age"] = max_age
        return JSONResponse(body, status_code=401)
    error = exc.code if isinstance(exc, SessionEnded) else None
    return login_redirect(request, error, max_age=max_age)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "bad_request")
    response = await error_response(request, code, status=exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    logger.info("%s %s -> bad_request", request.method, _path(request))
    return await error_response(request, "bad_request", status=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, _path(request), exc_info=exc)
    return await error_response(request, "internal_error", status=500)


def install_exception_handlers(app: FastAPI) -> None:
    """The module's own exceptions: always."""
    app.add_exception_handler(BFFError, _bff_error)


def install_error_pages(app: FastAPI) -> None:
    """The app's 404/405, validation and unexpected errors as the module's pages: opt-in."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
