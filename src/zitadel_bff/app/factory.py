"""create_app: the web application, built from settings (nothing happens at import)."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from .. import Settings, Store, ZitadelAuth, configure_logging, load_settings
from .pages import STATIC_DIR, STATIC_PREFIX, TEMPLATES_DIR, add_pages

__all__ = ["ENV_FILE_VARIABLE", "app_from_environment", "create_app"]

#: The env file ``zitadel-bff serve --workers N`` read, passed on to its workers.
ENV_FILE_VARIABLE = "ZITADEL_BFF_ENV_FILE"


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The demo app: the landing, profile, admin and SPA pages on the auth module, deny by
    default. In gateway mode (UPSTREAM_URL) the demo pages are left out: every path the module
    does not serve goes to the upstream app."""
    auth = ZitadelAuth(settings, templates_dir=TEMPLATES_DIR, store=store, transport=transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with auth.lifespan(app):
            # Everything alive now (modules, the app) lives as long as the process: keep it out
            # of the garbage collector's scans, which otherwise grow with the heap (~3%/request).
            gc.freeze()
            yield

    app = FastAPI(
        title="zitadel-bff",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.admin_max_age = settings.admin_max_age
    if not settings.upstream_url:
        # The pages first: FastAPI tries routes in order, so the hot ones should not wait behind
        # the module's routes.
        add_pages(app, auth)
        app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    auth.install(app, error_pages=True)  # deny by default: the pages opt out with @public
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker of ``zitadel-bff serve --workers N``: the settings from the
    environment and the env file the command read, its logging set up as the command's."""
    settings = load_settings(os.environ.get(ENV_FILE_VARIABLE, ".env"))
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
