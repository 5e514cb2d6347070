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
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from ..config import Settings
from ..errors import BFFError
from ..observability import NO_METRICS, Metrics, MetricsServer, multiprocess_dir
from ..observability.metrics import NullMetrics
from ..oidc import OIDCClient
from ..sessions import Keyring, SessionManager, Store, store_from_url
from ..sessions.stores import InstrumentedStore
from ..web import (
    AuthMiddleware,
    CookiePolicy,
    RequestLogMiddleware,
    ReverseProxy,
    security_headers,
)
from .assets import build_assets
from .bearer import BearerValidator
from .proxy import ProxyConfig

__all__ = ["ZitadelAuth"]

logger = logging.getLogger(__name__)

PURGE_INTERVAL = 300.0
#: The longest a readiness probe waits for one dependency (seconds).
READY_TIMEOUT = 2.0


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
        self.keyring = Keyring(
            settings.session_secret.get_secret_value(), settings.previous_secrets
        )
        self.cookies = CookiePolicy(
            secure=settings.secure_cookies, session_max_age=settings.session_max_lifetime
        )
        #: Prometheus metrics when METRICS_PORT is set; otherwise a recorder of nothing.
        self.metrics: NullMetrics = Metrics() if settings.metrics_port else NO_METRICS
        self._metrics_server: MetricsServer | None = None
        self.oidc = OIDCClient.from_settings(settings, transport=transport, metrics=self.metrics)
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
        return self._manager()

    def _manager(self) -> SessionManager:
        manager = self._sessions
        if manager is None:
            raise RuntimeError("ZitadelAuth.startup() has not run (is the lifespan wired?)")
        return manager

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
        from .proxy import api_routes, install_proxy
        from .routes import MODULE_PATHS, MODULE_PREFIX, build_module_app

        app.state.zitadel_auth = self
        gate = RouteGate(app).sync if deny_by_default else None
        # Request ids and the access log only when wanted: the plain middleware otherwise.
        middleware: type[AuthMiddleware] = AuthMiddleware
        logging_options: dict[str, Any] = {}
        if self.settings.request_log:
            middleware = RequestLogMiddleware
            logging_options["trust_request_id"] = bool(self.settings.trusted_proxies)
        app.add_middleware(
            middleware,  # type: ignore[arg-type]
            **logging_options,
            sessions=self._manager,
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
            api=api_routes(self),
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
            if self.metrics.enabled and not isinstance(store, InstrumentedStore):
                store = InstrumentedStore(store, self.metrics)
            self._store = store
            self._sessions = SessionManager(
                store=store,
                keyring=self.keyring,
                refresher=self.oidc,
                idle_timeout=self.settings.session_duration,
                max_lifetime=self.settings.session_max_lifetime,
                metrics=self.metrics,
            )
        return self._sessions

    async def startup(self) -> None:
        self.open_sessions()
        port = self.settings.metrics_port
        if isinstance(self.metrics, Metrics) and port and multiprocess_dir() is None:
            # One process: it serves its own metrics. With several workers the supervisor
            # serves the sum of theirs (zitadel-bff serve --workers).
            self._metrics_server = MetricsServer(
                port, self.settings.host, registry=self.metrics.registry
            )
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
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
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

    async def ready(self) -> dict[str, dict[str, Any]]:
        """Readiness of each dependency: the store answers, the provider's discovery is
        loaded. Each check says ``status`` (``ok`` or ``unavailable`` with the error code) and
        how long it took (``latency_ms``); none waits longer than READY_TIMEOUT."""
        store, provider = await asyncio.gather(
            _check(self.sessions.store.ping()), _check(self.oidc.metadata())
        )
        return {"store": store, "provider": provider}


async def _check(probe: Awaitable[Any]) -> dict[str, Any]:
    start = time.perf_counter()
    result: dict[str, Any] = {"status": "ok"}
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await probe
    except BFFError as exc:
        result = {"status": "unavailable", "error": exc.code}
    except TimeoutError:
        result = {"status": "unavailable", "error": "timeout"}
    result["latency_ms"] = round((time.perf_counter() - start) * 1000, 3)
    return result
