"""Bearer-token APIs beside the browser session, against the development provider's RFC 7662
introspection (answering like ZITADEL: aud = [client id, project id], roles included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devtools.flows import login
from devtools.provider import OPProcess
from fastapi import Depends, FastAPI

from tests.support.clients import browser_client
from tests.support.records import read_session
from tests.support.server import ThreadedServer
from tests.support.settings import TEST_SECRET, settings_for
from zitadel_bff import AnyUser, BearerUser, ZitadelAuth, require_roles

JSON = {"accept": "application/json"}


def build(settings: Any) -> FastAPI:
    auth = ZitadelAuth(settings)
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)

    @app.get("/api/data")
    async def data(user: AnyUser) -> dict[str, object]:
        return {"sub": user.sub, "roles": sorted(user.roles)}

    @app.get("/api/token-only")
    async def token_only(user: BearerUser) -> dict[str, str]:
        return {"sub": user.sub}

    @app.post("/api/orders")
    async def orders(user: AnyUser) -> dict[str, str]:
        return {"created_by": user.sub}

    @app.get("/api/admin", dependencies=[Depends(require_roles("admin"))])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    return app


@pytest.fixture
def api(op: OPProcess, port_pool: Any, tmp_path: Path) -> Iterator[ThreadedServer]:
    port = port_pool.get_nowait()
    settings = settings_for(port, op.issuer, f"sqlite:///{tmp_path}/api.db")
    server = ThreadedServer(build(settings), port).start()
    yield server
    server.stop()
    port_pool.put(port)


def access_token_of(api: ThreadedServer, tmp_path: Path, username: str) -> str:
    """A real access token for ``username``, issued to this app by the provider."""
    with browser_client() as client:
        login(client, api.url, username=username, return_to="/api/data")
        cookie = client.cookies.get("zbff_session")
    assert cookie is not None
    record = read_session(tmp_path / "api.db", TEST_SECRET, cookie)
    assert record is not None
    return record.access_token


def bearer(token: str) -> dict[str, str]:
    return {**JSON, "authorization": f"Bearer {token}"}


def test_an_active_token_is_a_user_with_roles(api: ThreadedServer, tmp_path: Path) -> None:
    token = access_token_of(api, tmp_path, "admin")
    with httpx.Client(base_url=api.url) as client:
        data = client.get("/api/data", headers=bearer(token))
        assert data.status_code == 200
        assert data.json() == {"sub": "301234567890123456", "roles": ["admin", "user"]}
        assert client.get("/api/token-only", headers=bearer(token)).status_code == 200
        assert client.get("/api/admin", headers=bearer(token)).json() == {"admin": True}
        # No cookie, no CSRF token: a bearer token is not something a browser sends by itself.
        created = client.post("/api/orders", headers=bearer(token))
        assert created.json() == {"created_by": "301234567890123456"}


def test_role_guards_refuse_a_token_without_the_role(api: ThreadedServer, tmp_path: Path) -> None:
    token = access_token_of(api, tmp_path, "alice")
    with httpx.Client(base_url=api.url) as client:
        resp = client.get("/api/admin", headers=bearer(token))
        assert resp.status_code == 403 and resp.json()["error"] == "forbidden"


def refused(resp: httpx.Response) -> None:
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_token"
    assert resp.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_inactive_forged_and_foreign_tokens_are_refused(
    api: ThreadedServer, tmp_path: Path, op: OPProcess
) -> None:
    revoked = access_token_of(api, tmp_path, "admin")
    assert op.revoke_access_token(revoked) == 1
    foreign = access_token_of(api, tmp_path, "admin")
    with httpx.Client(base_url=api.url) as client:
        refused(client.get("/api/data", headers=bearer(revoked)))
        refused(client.get("/api/data", headers=bearer("not-a-token")))
        with op.introspection_aud("another-client@project", "999999999999999999"):
            refused(client.get("/api/data", headers=bearer(foreign)))
        resp = client.get("/api/token-only", headers=JSON)  # no credentials: deny by default
        assert resp.status_code == 401 and resp.json()["error"] == "not_authenticated"


def test_a_browser_session_still_works_beside_tokens(api: ThreadedServer) -> None:
    with browser_client() as client:
        login(client, api.url, return_to="/api/data")
        assert client.get(api.url + "/api/data", headers=JSON).status_code == 200
        resp = client.get(api.url + "/api/token-only", headers=JSON)
        assert resp.status_code == 401 and resp.json()["error"] == "invalid_token"
