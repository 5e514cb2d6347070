"""Deny by default (auth/gate.py), in-process: the app through httpx's ASGITransport, a memory
store, sessions created directly. No provider is needed for these checks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from zitadel_bff import (
    MemoryStore,
    SessionData,
    ZitadelAuth,
    csrf_exempt,
    guard,
    load_settings,
    public,
)
from zitadel_bff.auth.gate import MAX_FORM_BYTES

SECRET = "unit-test-session-secret-0123456789-abcdef"
JSON = {"accept": "application/json"}


@dataclass(frozen=True)
class Tokens:
    access_token: str = "at"
    id_token: str | None = "id"
    refresh_token: str | None = "rt"
    expires_at: float | None = None


def make_auth(port: int) -> ZitadelAuth:
    settings = load_settings(
        None,
        session_secret=SECRET,
        zitadel_domain="http://127.0.0.1:9",  # nothing listens: discovery fails fast
        zitadel_client_id="client",
        zitadel_callback_url=f"http://127.0.0.1:{port}/auth/callback",
        zitadel_post_logout_url=f"http://127.0.0.1:{port}/auth/logout/callback",
        zitadel_timeout=2,
    )
    auth = ZitadelAuth(settings, store=MemoryStore(), purge_interval=0)
    auth.open_sessions()
    return auth


def host_app(auth: ZitadelAuth, **install: Any) -> FastAPI:
    app = FastAPI()
    auth.install(app, **install)

    @app.get("/open")
    @public
    async def open_page() -> dict[str, str]:
        return {"page": "open"}

    @app.get("/closed")
    async def closed() -> dict[str, str]:
        return {"page": "closed"}

    @app.post("/open")
    @public
    async def open_post(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {"fields": sorted(form.keys()), "note": form.get("note")}

    @app.post("/hook")
    @public
    @csrf_exempt
    async def hook() -> dict[str, bool]:
        return {"ok": True}

    return app


async def signed_in(auth: ZitadelAuth) -> str:
    now = time.time()
    tokens = Tokens(expires_at=now + 3600)
    data = SessionData.from_tokens(tokens, sub="1", claims={"sub": "1"}, sid="s", now=now)
    return await auth.sessions.create(data)


@pytest.fixture
async def auth() -> AsyncIterator[ZitadelAuth]:
    auth = make_auth(3000)
    yield auth
    await auth.shutdown()


def client_for(app: FastAPI, port: int = 3000) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://127.0.0.1:{port}"
    )


async def test_routes_are_protected_unless_public(auth: ZitadelAuth) -> None:
    async with client_for(host_app(auth)) as client:
        assert (await client.get("/open", headers=JSON)).json() == {"page": "open"}
        resp = await client.get("/closed", headers=JSON)
        assert resp.status_code == 401 and resp.json()["error"] == "not_authenticated"
        page = await client.get("/closed?x=1", headers={"accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/login?returnTo=%2Fclosed%3Fx%3D1"
        client.cookies.set("zbff_session", await signed_in(auth))
        assert (await client.get("/closed", headers=JSON)).json() == {"page": "closed"}


async def test_routes_added_after_the_first_request_are_gated(auth: ZitadelAuth) -> None:
    app = host_app(auth)
    async with client_for(app) as client:
        assert (await client.get("/open", headers=JSON)).status_code == 200

        @app.get("/late")
        async def late() -> dict[str, str]:
            return {"page": "late"}

        assert (await client.get("/late", headers=JSON)).status_code == 401


async def test_routes_of_included_routers_are_gated_even_when_added_later(
    auth: ZitadelAuth,
) -> None:
    from fastapi import APIRouter

    app = host_app(auth)
    router = APIRouter(prefix="/api")

    @router.get("/early")
    async def early() -> dict[str, str]:
        return {"page": "early"}

    app.include_router(router)
    async with client_for(app) as client:
        assert (await client.get("/api/early", headers=JSON)).status_code == 401

        @router.get("/later")
        async def later() -> dict[str, str]:
            return {"page": "later"}

        assert (await client.get("/api/later", headers=JSON)).status_code == 401
        client.cookies.set("zbff_session", await signed_in(auth))
        assert (await client.get("/api/later", headers=JSON)).json() == {"page": "later"}


async def test_unsafe_methods_need_the_csrf_token(auth: ZitadelAuth) -> None:
    async with client_for(host_app(auth)) as client:
        page = await client.get("/auth/session", headers=JSON)
        token = page.json()["csrf_token"]
        assert (await client.post("/open", data={"note": "n"})).status_code == 403
        resp = await client.post("/open", data={"note": "hi", "csrf_token": token})
        assert resp.status_code == 200
        # The handler still reads the whole form: the body read for the token is replayed.
        assert resp.json() == {"fields": ["csrf_token", "note"], "note": "hi"}
        by_header = await client.post("/open", data={"note": "x"}, headers={"x-csrf-token": token})
        assert by_header.status_code == 200
        foreign = await client.post(
            "/open", data={"csrf_token": token}, headers={"origin": "https://evil.example"}
        )
        assert foreign.status_code == 403 and foreign.json()["error"] == "csrf_failed"
        assert (await client.post("/hook")).json() == {"ok": True}  # csrf_exempt


async def test_large_forms_must_send_the_token_in_the_header(auth: ZitadelAuth) -> None:
    async with client_for(host_app(auth)) as client:
        token = (await client.get("/auth/session", headers=JSON)).json()["csrf_token"]
        note = "x" * (MAX_FORM_BYTES - 10)  # the whole body is over the limit, the field not
        big = {"csrf_token": token, "note": note}
        assert (await client.post("/open", data=big)).status_code == 403
        ok = await client.post("/open", data=big, headers={"x-csrf-token": token})
        assert ok.status_code == 200 and ok.json()["note"] == note


async def test_a_wrong_method_is_405_before_any_check(auth: ZitadelAuth) -> None:
    async with client_for(host_app(auth)) as client:
        resp = await client.put("/closed", headers=JSON)
        assert resp.status_code == 405


async def test_opting_out_leaves_the_routes_to_the_host(auth: ZitadelAuth) -> None:
    app = host_app(auth, deny_by_default=False)

    @app.get("/guarded", dependencies=[Depends(guard)])
    async def guarded() -> dict[str, str]:
        return {"page": "guarded"}

    async with client_for(app) as client:
        assert (await client.get("/closed", headers=JSON)).status_code == 200
        assert (await client.get("/guarded", headers=JSON)).status_code == 401
        client.cookies.set("zbff_session", await signed_in(auth))
        assert (await client.get("/guarded", headers=JSON)).status_code == 200


async def test_apps_sharing_the_module_routes_keep_their_own_origin_and_keys() -> None:
    """The module's routers are module-level objects shared by every ZitadelAuth in a process:
    each app must still check against its own origin."""
    first, second = make_auth(3001), make_auth(3002)
    try:
        for auth, port in ((first, 3001), (second, 3002)):
            async with client_for(host_app(auth), port) as client:
                token = (await client.get("/auth/session", headers=JSON)).json()["csrf_token"]
                own = await client.post(
                    "/auth/signin",
                    data={"csrf_token": token},
                    headers={"origin": f"http://127.0.0.1:{port}", **JSON},
                )
                # Past the CSRF check: the (absent) provider is what fails now.
                assert own.status_code == 503 and own.json()["error"] == "provider_unavailable"
                other = 3003 - port + 3000
                foreign = await client.post(
                    "/auth/signin",
                    data={"csrf_token": token},
                    headers={"origin": f"http://127.0.0.1:{other}", **JSON},
                )
                assert foreign.status_code == 403
    finally:
        await first.shutdown()
        await second.shutdown()


async def test_a_malformed_form_body_is_a_bad_request(auth: ZitadelAuth) -> None:
    async with client_for(host_app(auth)) as client:
        headers = {**JSON, "content-type": "multipart/form-data; boundary=nope"}
        for path in ("/open", "/auth/signin"):
            resp = await client.post(path, content=b"--nope\r\nno headers, no end", headers=headers)
            assert resp.status_code == 400
            assert resp.json()["error"] == "bad_request"


async def test_head_is_the_get_without_its_body(auth: ZitadelAuth) -> None:
    async with client_for(host_app(auth)) as client:
        get = await client.get("/open", headers=JSON)
        head = await client.head("/open", headers=JSON)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == get.headers["content-length"]
        assert (await client.head("/closed", headers=JSON)).status_code == 401
