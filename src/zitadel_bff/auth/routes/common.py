"""What the route modules share: reading parameters safely, and 303 redirects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from ...errors import BadRequest

__all__ = ["MAX_CODE", "MAX_PARAM", "form_of", "param", "see_other"]

#: Callback parameters, returnTo and states longer than this are refused or dropped.
MAX_PARAM = 2048
#: Error codes in ``?error=``.
MAX_CODE = 64
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def see_other(url: str) -> RedirectResponse:
    """303: the browser follows with a GET, whatever the method of the request was."""
    return RedirectResponse(url, status_code=303)


def param(params: Mapping[str, Any], name: str, max_length: int = MAX_PARAM) -> str | None:
    """A text parameter, or None when absent, not text, or longer than ``max_length``.

    The module's routes read their parameters with this instead of FastAPI's validation, so
    that an oversized ``returnTo`` is dropped for the default rather than answered with a
    validation error the host app would have to render.
    """
    value = params.get(name)
    return value if isinstance(value, str) and len(value) <= max_length else None


async def form_of(request: Request) -> Mapping[str, Any]:
    """The request's form fields; empty for a body that is not a form."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return {}
    try:
        return await request.form()
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body
        raise BadRequest("the request body is not a valid form") from exc
