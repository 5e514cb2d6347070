"""Baselines served under the app's uvicorn settings (uvloop, httptools, one worker, no access
log, no server header):

* ``GET /hello`` - a bare Starlette route returning a short text: the framework's own limit;
* ``GET /profile`` - the app's ``profile.html`` rendered with Jinja2 from the same claims the
  signed-in benchmark user has, with no middleware, no session and no auth;
* ``GET /fastapi/profile`` - the same handler as a FastAPI route (mounted): the framework's own
  per-request cost on top of the template, still without auth.

Run: ``python -m bench.baseline --port 8001`` (``BENCH_CLAIMS`` names a JSON file of claims).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import jinja2
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from zitadel_bff import UserProfile
from zitadel_bff.app.pages import TEMPLATES_DIR as APP_TEMPLATES
from zitadel_bff.auth import assets
from zitadel_bff.web import MemoryStaticFiles

__all__ = ["build_app", "uvicorn_settings"]

FAKE_CLAIMS: dict[str, Any] = {
    "sub": "301234567890123456",
    "name": "Ada Admin",
    "given_name": "Ada",
    "family_name": "Admin",
    "email": "admin@acme.localhost",
    "email_verified": True,
    "locale": "en",
    "preferred_username": "admin",
    "urn:zitadel:iam:org:project:roles": {
        "admin": {"301234567890123000": "acme.localhost"},
        "user": {"301234567890123000": "acme.localhost"},
    },
    "urn:zitadel:iam:user:resourceowner:id": "301234567890123000",
    "urn:zitadel:iam:user:resourceowner:name": "ACME",
    "urn:zitadel:iam:user:resourceowner:primary_domain": "acme.localhost",
    "urn:zitadel:iam:user:metadata": {"department": "cGxhdGZvcm0"},
}
FAKE_CSRF = "x" * 43


def uvicorn_settings() -> dict[str, Any]:
    """What ``zitadel-bff serve`` passes to uvicorn, with the auto choices made explicit."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "workers": 1,
        "access_log": False,
        "server_header": False,
        "log_level": "warning",
    }


def _claims() -> dict[str, Any]:
    path = os.environ.get("BENCH_CLAIMS")
    if path and Path(path).is_file():
        loaded: dict[str, Any] = json.loads(Path(path).read_text())
        return loaded
    return FAKE_CLAIMS


def build_app() -> Starlette:
    static = MemoryStaticFiles(assets.STATIC_DIR)
    loader = jinja2.FileSystemLoader([APP_TEMPLATES, assets.TEMPLATES_DIR])
    env = jinja2.Environment(loader=loader, autoescape=True)
    assets.add_template_helpers(env, static, dev_provider=True)
    template = env.get_template("profile.html")
    user = UserProfile.from_claims(_claims())

    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    async def profile(request: Request) -> Response:
        html = template.render(
            request=request,
            user=user,
            expires_at=time.time() + 3600,
            csrf_token=FAKE_CSRF,
            session=None,
        )
        return HTMLResponse(html)

    fastapi_app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    fastapi_app.add_api_route("/profile", profile, methods=["GET"])
    return Starlette(
        routes=[Route("/hello", hello), Route("/profile", profile), Mount("/fastapi", fastapi_app)]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(build_app(), host="127.0.0.1", port=args.port, **uvicorn_settings())


if __name__ == "__main__":
    main()
