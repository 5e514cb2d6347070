"""ZitadelAuth: everything the auth module needs, built once per app and installed on it.

    auth = ZitadelAuth(load_settings(".env"))
    app = FastAPI(dependencies=[Depends(guard)], lifespan=auth.lifespan)  # deny by default
    auth.install(app)       # the middleware, the module's error handling, /auth/* routes

Nothing here runs at import; the store, purge task and discovery are set up in ``startup``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from ..config import Settings
from ..errors import BFFError
from ..oidc import OIDCClient
from ..sessions import Keyring, SessionManager, Store, store_from_url
from ..web import AuthMiddleware, CookiePolicy, ReverseProxy, security_headers
from .assets import build_assets
from .bearer import BearerValidator
from .proxy import ProxyConfig

__all__ = ["ZitadelAuth"]

logger = logging.getLogger(__name__)

PURGE_INTERVAL = 300.0


class ZitadelAuth:
    """The auth module for one app: settings, provider client, session manager, cookies."""

    def __init__(
        self,
        settings: Settings,
        *,
        templates_dir: str | Path | None = None,
        store: Store | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        purge_interval: float = PURGE_INTERVAL,
        api_routes: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.templates, self.static = build_assets(
            settings, Path(templates_dir) if templates_dir else None
        )
        self.keyring = Keyring(settings.session_secret.get_secret_value())
        self.cookies = CookiePolicy(
            secure=settings.secure_cookies, session_max_age=settings.session_max_lifetime
        )
        self.oidc = OIDCClient.from_settings(settings, transport=transport)
        #: Validates ``Authorization: Bearer`` tokens of API clients (see auth/bearer.py).
        self.bearer = BearerValidator(
            self.oidc,
            audiences=settings.api_audiences,
            jwt_tokens=settings.zitadel_jwt_access_tokens,
        )
        self._store = store
        self._sessions: SessionManager | None = None
        self._purge_interval = purge_interval
        self._purge_task: asyncio.Task[None] | None = None
        self._warned: set[str] = set()
        # API_ROUTES, routes declared in code, and the gateway (UPSTREAM_URL): see auth/proxy.py.
        self.proxy_config = ProxyConfig(settings, api_routes)
        self.proxy = ReverseProxy(
            timeout=settings.api_timeout,
            protected_cookies=frozenset(name.encode() for name in self.cookies.names),
        )

    def warn_once(self, topic: str, message: str) -> None:
        """Log a configuration problem seen at run time once per process, not per request."""
        if topic not in self._warned:
            self._warned.add(topic)
            logger.warning("%s", message)

    def add_api_route(self, prefix: str, url: str) -> None:
        """Forward ``prefix`` (and the paths under it) to ``url`` with the user's access token,
        like an API_ROUTES entry; call before :meth:`install`. Raises ValueError when the
        prefix or URL is unusable."""
        self.proxy_config.add(prefix, url)

    @property
    def sessions(self) -> SessionManager:
        if self._sessions is None:
            raise RuntimeError("ZitadelAuth.startup() has not run (is the lifespan wired?)")
        return self._sessions

    def install(
        self, app: FastAPI, *, deny_by_default: bool = True, error_pages: bool = False
    ) -> None:
        """Add the middleware, the module's error handling and the /auth routes to ``app``.

        ``deny_by_default``: every route of ``app`` needs a signed-in user unless marked
        :func:`~zitadel_bff.public`, and its unsafe methods a CSRF token unless marked
        :func:`~zitadel_bff.csrf_exempt` (see :mod:`zitadel_bff.auth.gate`); with False, the
        app protects its routes itself (``guard``, ``CurrentUser``, ``require_roles``).

        The module handles its own exceptions (:class:`BFFError`) only. With
        ``error_pages=True`` it also renders the app's 404/405, validation and unexpected
        errors as its pages (HTML for browsers, JSON for API clients); by default the host's
        own handlers for those stay in place.
        """
        from .gate import RouteGate
        from .handlers import install_error_pages, install_exception_handlers
        from .proxy import install_proxy
        from .routes import MODULE_PATHS, MODULE_PREFIX, build_module_app

        app.state.zitadel_auth = self
        gate = RouteGate(app).sync if deny_by_default else None
        app.add_middleware(
            AuthMiddleware,
            sessions=lambda: self.sessions,
            policy=self.cookies,
            keyring=self.keyring,
            public_origin=self.settings.public_origin,
            headers=security_headers(
                form_targets=[self.settings.issuer_origin], https=self.settings.secure_cookies
            ),
            static=self.static,
            module=build_module_app(self),
            module_prefix=MODULE_PREFIX,
            module_paths=MODULE_PATHS,
            before_app=gate,
        )
        # The host's own routes raise the module's errors (guard, CurrentUser, require_roles).
        install_exception_handlers(app)
        if error_pages:
            install_error_pages(app)
        install_proxy(self, app)

    def open_sessions(self) -> SessionManager:
        """The session manager on the configured store (opened now if not given), without
        contacting the provider: for the app's start, and for tools such as the CLI."""
        if self._sessions is None:
            store = self._store or store_from_url(self.settings.session_store)
            self._store = store
            self._sessions = SessionManager(
                store=store,
                keyring=self.keyring,
                refresher=self.oidc,
                idle_timeout=self.settings.session_duration,
                max_lifetime=self.settings.session_max_lifetime,
            )
        return self._sessions

    async def startup(self) -> None:
        self.open_sessions()
        try:
            meta = await self.oidc.metadata()
            logger.info("provider discovery loaded for %s", meta.issuer)
        except BFFError as exc:
            # Start anyway: /readyz reports it and sign-in shows a clear page until it recovers.
            logger.error("provider discovery failed at start: %s", exc)
        if self._purge_interval > 0:
            self._purge_task = asyncio.create_task(self._purge_loop())
        if self.proxy_config.active:
            await self.proxy.start()

    async def shutdown(self) -> None:
        if self._purge_task is not None:
            self._purge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purge_task
        if self._store is not None:
            await self._store.close()
        await self.oidc.aclose()
        await self.proxy.close()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(self._purge_interval)
            try:
                purged = await self.sessions.store.purge_expired()
            except BFFError as exc:
                logger.warning("purging expired sessions failed: %s", exc)
                continue
            if purged:
                logger.info("purged %d expired record(s)", purged)

    async def ready(self) -> dict[str, str]:
        """Readiness: the store answers and discovery is loaded. Raises BFFError if not."""
        await self.sessions.store.ping()
        await self.oidc.metadata()
        return {"store": "ok", "provider": "ok"}
