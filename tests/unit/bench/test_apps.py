"""The benchmark's own apps answer what the benchmark expects (`make bench` starts them as
servers; a template or API change that breaks them should fail here, not an hour later)."""

from __future__ import annotations

import httpx
from bench.baseline import build_app
from bench.library import ME, build_plain


async def test_the_baselines_serve_the_profile_template_and_hello() -> None:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        assert (await client.get("/hello")).text == "hello"
        for path in ("/profile", "/fastapi/profile"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert "Claims" in page.text


async def test_the_plain_app_has_the_library_examples_routes() -> None:
    transport = httpx.ASGITransport(app=build_plain())
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        assert (await client.get("/api/public")).json() == ME
        assert (await client.get("/api/me")).json() == ME
        assert (await client.get("/api/admin")).json() == {"ok": True}
