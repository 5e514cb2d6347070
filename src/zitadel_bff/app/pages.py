"""The demo app's own pages: a public landing page, the profile and an admin page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..fastapi import CurrentSession, OptionalUser, public, render, require_roles
from ..oidc.claims import UserProfile

__all__ = ["router"]

router = APIRouter()


@router.get("/")
@public
async def landing(request: Request, user: OptionalUser) -> Response:
    return render(request, "index.html", user=user)


@router.get("/profile")
async def profile(request: Request, session: CurrentSession) -> Response:
    return render(
        request,
        "profile.html",
        user=session.profile,
        expires_at=session.expires_at,
    )


@router.get("/admin")
async def admin(
    request: Request, user: Annotated[UserProfile, Depends(require_roles("admin"))]
) -> Response:
    return render(request, "admin.html", user=user)
