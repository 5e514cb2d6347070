"""The demo app's own pages: a public landing page, the profile, an admin page and a
single-page view that calls the demo API through the BFF."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from .. import (
    CurrentSession,
    OptionalUser,
    UserProfile,
    ZitadelAuth,
    public,
    render,
    require_recent_login,
    require_roles,
)

__all__ = [
    "DEMO_API_PREFIX",
    "STATIC_DIR",
    "STATIC_PREFIX",
    "TEMPLATES_DIR",
    "add_pages",
    "app_static",
]

#: The demo pages' templates; they extend the module's base.html.
TEMPLATES_DIR = Path(__file__).parent / "templates"
#: The module's icon, which the pages link to at its versioned URL.
FAVICON = "favicon.svg"
#: The demo pages' own assets (the SPA's script), served at STATIC_PREFIX.
STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"
#: Where the SPA expects the demo API (`make demo` routes it there with API_ROUTES).
DEMO_API_PREFIX = "/api/demo"

@public
async def landing(request: Request, user: OptionalUser) -> Response:
    return await render(request, "index.html", user=user)


@public
async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page says; send them to the SVG icon at the
    versioned URL the pages link to, which may be cached for good. The redirect itself is not
    cached (a 302, and no-store like every dynamic response), so a new icon is found at once."""
    url: str = request.app.state.favicon_url
    return RedirectResponse(url, status_code=302)


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


async def admin(
    request: Request,
    user: Annotated[UserProfile, Depends(require_roles("admin"))],
    _: Annotated[None, Depends(recent_admin_login)],  # after the role: no sign-in for a 403
) -> Response:
    return await render(request, "admin.html", user=user)


@functools.cache
def app_static(name: str) -> str:
    """The versioned URL of one of the demo's own assets."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:16]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


@public
async def spa(request: Request) -> Response:
    """The SPA's page; the script reads the session and calls the API itself."""
    return await render(request, "spa.html", api_prefix=DEMO_API_PREFIX, app_static=app_static)


def add_pages(app: FastAPI, auth: ZitadelAuth) -> None:
    """The pages as routes of ``app`` itself: FastAPI finds an app's own routes faster than
    those of an included router (one match each instead of a walk through the inclusion)."""
    app.state.favicon_url = auth.static.url(FAVICON)
    app.add_api_route("/", landing, methods=["GET"])
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.add_api_route("/profile", profile, methods=["GET"])
    app.add_api_route("/admin", admin, methods=["GET"])
    app.add_api_route("/spa", spa, methods=["GET"])
