"""The README's example: the auth module included in another FastAPI app, via the public API."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from devtools.flows import login
from devtools.provider import OPProcess
from fastapi import Depends, FastAPI

from tests.support.clients import browser_client
from tests.support.server import ThreadedServer
from tests.support.settings import settings_for
from zitadel_bff import CurrentUser, Settings, ZitadelAuth, guard, public, require_roles


def build(settings: Settings) -> FastAPI:
    auth = ZitadelAuth(settings)
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)  # deny by default: every route needs a signed-in user unless @public

    @app.get("/")
    @public
    async def home() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/api/me")
    async def me(user: CurrentUser) -> dict[str, object]:
        return {"sub": user.sub, "roles": sorted(user.roles)}

    @app.get("/api/admin", dependencies=[Depends(require_roles("admin"))])
    async def admin_only() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/api/echo")
    async def echo(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    return app


@pytest.fixture
def library_app(
    op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path
) -> Iterator[ThreadedServer]:
    port = port_pool.get_nowait()
    settings = settings_for(port, op.issuer, f"sqlite:///{tmp_path}/lib.db")
    server = ThreadedServer(build(settings), port).start()
    yield server
    server.stop()
    port_pool.put(port)


JSON = {"accept": "application/json"}


def test_library_app_protects_by_default(library_app: ThreadedServer, client: httpx.Client) -> None:
    assert client.get(library_app.url + "/", headers=JSON).json() == {"hello": "world"}
    resp = client.get(library_app.url + "/api/me", headers=JSON)
    assert resp.status_code == 401 and resp.json()["error"] == "not_authenticated"


def test_library_app_signs_in_and_guards_roles(library_app: ThreadedServer, op: OPProcess) -> None:
    with browser_client() as admin:
        login(admin, library_app.url, username="admin")
        me = admin.get(library_app.url + "/api/me", headers=JSON).json()
        assert me == {"sub": "301234567890123456", "roles": ["admin", "user"]}
        assert admin.get(library_app.url + "/api/admin", headers=JSON).json() == {"ok": True}
        token = admin.get(library_app.url + "/auth/session", headers=JSON).json()["csrf_token"]
        assert admin.post(library_app.url + "/api/echo", headers=JSON).status_code == 403
        ok = admin.post(library_app.url + "/api/echo", headers={**JSON, "x-csrf-token": token})
        assert ok.json() == {"sub": "301234567890123456"}
    with browser_client() as alice:
        login(alice, library_app.url, username="alice")
        resp = alice.get(library_app.url + "/api/admin", headers=JSON)
        assert resp.status_code == 403 and resp.json()["error"] == "forbidden"


def test_custom_templates_dir_overrides_pages(
    op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path, client: httpx.Client
) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "logout_success.html").write_text("<p>custom goodbye</p>")
    port = port_pool.get_nowait()
    settings = settings_for(port, op.issuer, f"sqlite:///{tmp_path}/lib2.db")
    auth = ZitadelAuth(settings, templates_dir=tmp_path / "pages")
    app = FastAPI(dependencies=[Depends(guard)], lifespan=auth.lifespan)
    auth.install(app)
    server = ThreadedServer(app, port).start()
    try:
        assert "custom goodbye" in client.get(server.url + "/auth/logout/success").text
        page = client.get(server.url + "/auth/login?error=session_expired")
        assert "Your session has expired" in page.text  # the package's sign-in page
    finally:
        server.stop()
        port_pool.put(port)
