"""create_app: the web application, built from settings (nothing happens at import)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI
from fastapi.templating import Jinja2Templates

from ..config import Settings, is_loopback_host
from ..fastapi import ZitadelAuth, guard
from ..sessions.stores import Store
from .pages import router as pages_router
from .static import MemoryStaticFiles, StaticShortcut

__all__ = ["create_app"]

HERE = Path(__file__).parent


def _datetime(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    static = MemoryStaticFiles(HERE / "static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["static_url"] = static.url
    templates.env.filters["datetime"] = _datetime
    templates.env.globals["dev_provider"] = is_loopback_host(urlsplit(settings.issuer).hostname)
    auth = ZitadelAuth(settings, templates=templates, store=store, transport=transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with auth.lifespan():
            yield

    app = FastAPI(
        title="zitadel-bff",
        lifespan=lifespan,
        dependencies=[Depends(guard)],  # deny by default: routes opt out with @public
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # Added before auth.install, so it runs inside the security-headers and cookie middleware.
    app.add_middleware(StaticShortcut, static=static)
    auth.install(app)
    app.include_router(pages_router)
    app.mount("/static", static, name="static")
    return app
