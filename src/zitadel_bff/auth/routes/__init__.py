"""The module's routes (DESIGN.md's route table), one module per concern, collected here into
the module's own small app, which the middleware answers ``/auth/...``, ``/healthz`` and
``/readyz`` with, before the host's router.

Being its own app, the module keeps its CSRF and origin checks and its error pages whatever the
host installs, and the host's router never has to look past the module's routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from ..gate import RouteGate
from ..handlers import install_error_pages, install_exception_handlers
from . import backchannel, forward_auth, health, session, signin, signout

if TYPE_CHECKING:
    from ..module import ZitadelAuth

__all__ = ["MODULE_PATHS", "MODULE_PREFIX", "build_module_app"]

#: Paths the module answers itself: everything under the prefix, and the exact paths.
MODULE_PREFIX = "/auth/"
MODULE_PATHS = frozenset({"/healthz", "/readyz"})


def build_module_app(auth: ZitadelAuth) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.zitadel_auth = auth
    install_exception_handlers(app)
    install_error_pages(app)
    for module in (signin, signout, session, forward_auth, backchannel, health):
        app.include_router(module.router)
    app.mount(auth.static.prefix, auth.static, name="zitadel_bff_static")
    # CSRF and origin checks on the unsafe routes, a session for the non-public ones.
    RouteGate(app).sync()
    return app
