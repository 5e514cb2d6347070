"""The auth tax: the README's library example against the same app without the module.

* ``library``: the README's example (``ZitadelAuth``, deny by default), with a public
  ``GET /api/public`` returning a small dict and ``GET /api/me`` for the signed-in user
  (``CurrentUser``);
* ``plain``: the same app without the module: the same ``FastAPI()`` defaults (its docs
  routes included) and the same routes in the same order, each returning the same dict, so
  that the difference is the module and nothing else (route matching in FastAPI is linear).

Run: ``python -m bench.library plain --port 8002`` or ``python -m bench.library library --port
8003`` (configured by the environment, like ``zitadel-bff serve``), under the app's uvicorn
settings.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import Depends, FastAPI

from zitadel_bff import CurrentUser, ZitadelAuth, load_settings, public, require_roles

from .baseline import uvicorn_settings

__all__ = ["build_library", "build_plain"]

ME: dict[str, object] = {"sub": "301234567890123456", "roles": ["admin", "user"]}


def build_plain() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/api/public")
    async def public_me() -> dict[str, object]:
        return ME

    @app.get("/api/me")
    async def me() -> dict[str, object]:
        return {"sub": ME["sub"], "roles": ME["roles"]}

    @app.get("/api/admin")
    async def admin_only() -> dict[str, bool]:
        return {"ok": True}

    return app


def build_library() -> FastAPI:
    """The README's example, as written there, plus a public JSON route."""
    auth = ZitadelAuth(load_settings())
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)  # deny by default: every route needs a signed-in user unless @public

    @app.get("/")
    @public
    async def home() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/api/public")
    @public
    async def public_me() -> dict[str, object]:
        return ME

    @app.get("/api/me")
    async def me(user: CurrentUser) -> dict[str, object]:
        return {"sub": user.sub, "roles": sorted(user.roles)}

    @app.get("/api/admin", dependencies=[Depends(require_roles("admin"))])
    async def admin_only() -> dict[str, bool]:
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["plain", "library"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = build_plain() if args.which == "plain" else build_library()
    uvicorn.run(app, host="127.0.0.1", port=args.port, **uvicorn_settings())


if __name__ == "__main__":
    main()
