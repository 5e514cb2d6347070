"""The auth module inside a host app that opts out of deny-by-default and keeps its own /static,
its own error handlers and its own validation errors."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest
from devtools.flows import form_token, login
from devtools.provider import OPProcess
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from tests.support.clients import browser_client
from tests.support.server import ThreadedServer
from tests.support.settings import settings_for
from zitadel_bff import OptionalUser, Settings, ZitadelAuth

JSON = {"accept": "application/json"}
FOREIGN = "https://evil.example"


def build(settings: Settings) -> FastAPI:
    auth = ZitadelAuth(settings)
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app, deny_by_default=False)  # the host protects its own routes itself

    @app.exception_handler(HTTPException)
    async def teapot_errors(request: Request, exc: HTTPException) -> Response:
        return JSONResponse({"host_error": exc.status_code}, status_code=exc.status_code)

    @app.get("/static/mine.js")
    async def host_asset() -> Response:
        return PlainTextResponse("console.log('host');", media_type="text/javascript")

    @app.get("/items/{item_id}")
    async def item(item_id: int, user: OptionalUser) -> dict[str, object]:
        return {"item": item_id, "user": user.sub if user else None}

    return app


@pytest.fixture
def host_app(
    op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path
) -> Iterator[ThreadedServer]:
    port = port_pool.get_nowait()
    server = ThreadedServer(
        build(settings_for(port, op.issuer, f"sqlite:///{tmp_path}/host.db")), port
    ).start()
    yield server
    server.stop()
    port_pool.put(port)


def test_module_routes_keep_their_csrf_and_origin_checks(host_app: ThreadedServer) -> None:
    with browser_client() as client:
        login(client, host_app.url)
        token = client.get(host_app.url + "/auth/session", headers=JSON).json()["csrf_token"]
        cross = client.post(
            host_app.url + "/auth/logout", data={"csrf_token": token}, headers={"origin": FOREIGN}
        )
        assert cross.status_code == 403
        assert client.post(host_app.url + "/auth/logout").status_code == 403  # no token
        signin = client.post(host_app.url + "/auth/signin", data={"csrf_token": "forged"})
        assert signin.status_code == 403
        session = client.get(host_app.url + "/auth/session", headers=JSON).json()
        assert session["authenticated"] is True
        ok = client.post(host_app.url + "/auth/logout", data={"csrf_token": token})
        assert ok.status_code == 303


def test_host_keeps_its_static_path_and_error_handlers(host_app: ThreadedServer) -> None:
    with browser_client() as client:
        asset = client.get(host_app.url + "/static/mine.js")
        assert asset.status_code == 200 and asset.text == "console.log('host');"
        missing = client.get(host_app.url + "/static/app.css", headers=JSON)
        assert missing.status_code == 404 and missing.json() == {"host_error": 404}
        invalid = client.get(host_app.url + "/items/not-a-number", headers=JSON)
        assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == [
            "path",
            "item_id",
        ]
        ours = client.get(host_app.url + "/auth/logout/success")
        css = ours.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
        assert css.startswith("/auth/static/app.css?v=")
        assert client.get(host_app.url + css).status_code == 200


def test_a_csrf_token_from_before_sign_in_is_refused_after_it(host_app: ThreadedServer) -> None:
    with browser_client() as client:
        before = form_token(client, host_app.url)
        login(client, host_app.url)
        stale = client.post(host_app.url + "/auth/logout", data={"csrf_token": before})
        assert stale.status_code == 403
        session = client.get(host_app.url + "/auth/session", headers=JSON).json()
        assert session["authenticated"] is True and session["csrf_token"] != before
        ok = client.post(host_app.url + "/auth/logout", data={"csrf_token": session["csrf_token"]})
        assert ok.status_code == 303


def test_module_param_limits_do_not_need_the_hosts_error_handlers(host_app: ThreadedServer) -> None:
    with browser_client() as client:
        page = client.get(
            host_app.url + "/auth/login?error=session_expired&returnTo=/" + "x" * 3000
        )
        assert page.status_code == 200
        assert 'name="returnTo" value="/profile"' in page.text  # dropped for the default
        flow = client.get(host_app.url + "/auth/login?returnTo=/" + "x" * 3000)
        assert flow.status_code == 303  # straight to the provider, with the default target
