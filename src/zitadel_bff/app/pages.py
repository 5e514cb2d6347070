"""The demo app's own pages: a public landing page, the profile and an admin page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .. import (
    CurrentSession,
    OptionalUser,
    UserProfile,
    public,
    render,
    require_recent_login,
    require_roles,
)

__all__ = ["TEMPLATES_DIR", "router"]

#: The demo pages' templates; they extend the module's base.html.
TEMPLATES_DIR = Path(__file__).parent / "templates"

router = APIRouter()


@router.get("/")
@public
async def landing(request: Request, user: OptionalUser) -> Response:
    return await render(request, "index.html", user=user)


@router.get("/profile")
async def profile(request: Request, session: CurrentSession) -> Response:
    return await render(
        request,
        "profile.html",
        user=session.profile,
        expires_at=session.expires_at,
    )


async def recent_admin_login(request: Request) -> None:
    """Step-up for /admin: a sign-in at most ADMIN_MAX_AGE seconds old (0 turns it off)."""
    max_age: int = request.app.state.admin_max_age
    if max_age > 0:
        await require_recent_login(max_age)(request)


@router.get("/admin")
async def admin(
    request: Request,
    user: Annotated[UserProfile, Depends(require_roles("admin"))],
    _: Annotated[None, Depends(recent_admin_login)],  # after the role: no sign-in for a 403
) -> Response:
    return await render(request, "admin.html", user=user)
