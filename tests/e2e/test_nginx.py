"""Debian's real nginx in front of an upstream app, asking /auth/check before every request
(auth_request), with the configuration docs/nginx.md documents, in a real Chromium."""

from __future__ import annotations

import os
import queue
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from devtools.nginx import NginxProcess, nginx_binary
from devtools.provider import OPProcess, free_port
from playwright.sync_api import Page, expect

from tests.e2e.browser import sign_in_at_provider
from tests.support.server import ThreadedServer
from tests.support.settings import settings_for
from tests.support.upstream import Echo
from zitadel_bff.app import create_app

pytestmark = pytest.mark.e2e

ADMIN_SUB = "301234567890123456"
ALICE_SUB = "301234567890123457"
ROOT = Path(__file__).resolve().parents[2]
NGINX_DOC = ROOT / "docs" / "nginx.md"
FENCE = re.compile(r"```nginx\n(.*?)```", re.S)


def documented_config(bff: int, app: int, listen: int, workdir: Path) -> str:
    """docs/nginx.md's server configuration with this test's addresses."""
    blocks: list[str] = FENCE.findall(NGINX_DOC.read_text())
    server, identity = blocks
    identity_file = workdir / "zitadel_identity.conf"
    identity_file.write_text(identity)
    replaced = (
        server.replace("server 127.0.0.1:3000;", f"server 127.0.0.1:{bff};")
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app};")
        .replace("listen 8080;", f"listen 127.0.0.1:{listen};")
        .replace("/etc/nginx/zitadel_identity.conf", str(identity_file))
    )
    assert replaced.count(str(bff)) == 1 and replaced.count(str(app)) == 1
    return replaced


@pytest.fixture
def nginx_site(
    op: OPProcess, port_pool: queue.Queue[int], echo: Echo, tmp_path: Path
) -> Iterator[str]:
    """nginx on a port the provider knows, zitadel-bff and the echo app behind it."""
    if nginx_binary() is None:
        if os.environ.get("E2E_REQUIRED"):
            pytest.fail("E2E_REQUIRED is set but nginx is not installed")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    listen = port_pool.get_nowait()
    bff_port = free_port()
    settings = settings_for(listen, op.issuer, f"sqlite:///{tmp_path}/nginx.db",
                            zitadel_post_login_url="/", trusted_proxies="127.0.0.1")
    bff = ThreadedServer(create_app(settings), bff_port).start()
    workdir = tmp_path / "nginx"
    workdir.mkdir()
    nginx = NginxProcess(documented_config(bff_port, echo.server.port, listen, workdir),
                         workdir, [listen])
    try:
        nginx.start()
        yield f"http://127.0.0.1:{listen}"
    finally:
        nginx.stop()
        bff.stop()
        port_pool.put(listen)
    assert "[emerg]" not in nginx.log() and "[alert]" not in nginx.log(), nginx.log()


def test_nginx_auth_request_signs_in_and_passes_the_identity(
    page: Page,
    nginx_site: str,
    echo: Echo,
) -> None:
    page.goto(nginx_site + "/reports/2026?x=1&y=two")  # nginx -> /auth/login -> the provider
    assert echo.received == []
    sign_in_at_provider(page, "admin")
    page.wait_for_url(nginx_site + "/reports/2026?x=1&y=two")
    expect(page.get_by_role("heading", level=1)).to_have_text("Echo upstream")
    expect(page.locator("#user")).to_have_text(ADMIN_SUB)
    expect(page.locator("#groups")).to_have_text("admin,user")
    expect(page.locator("#path")).to_have_text("/reports/2026")
    got = next(r for r in echo.received if r["path"] == "/reports/2026")
    assert got["query"] == "x=1&y=two"
    assert got["headers"]["x-forwarded-email"] == "admin@acme.localhost"
    assert got["headers"]["x-forwarded-preferred-username"] == "admin"

    # A role-protected location: admin passes, alice is refused by nginx with 403.
    page.goto(nginx_site + "/admin/")
    expect(page.locator("#path")).to_have_text("/admin/")
    page.context.clear_cookies()
    page.goto(nginx_site + "/")
    sign_in_at_provider(page, "alice")
    page.wait_for_url(nginx_site + "/")
    # (not navigated to: nginx's own 403 page is not one of the app's pages)
    forbidden = page.context.request.get(nginx_site + "/admin/")
    assert forbidden.status == 403
    assert page.context.request.get(nginx_site + "/").status == 200


def test_nginx_forged_identity_headers_do_not_pass(
    page: Page,
    nginx_site: str,
    echo: Echo,
) -> None:
    forged = {"X-Forwarded-User": "evil", "X-Forwarded-Groups": "admin"}
    page.context.set_extra_http_headers(forged)
    page.goto(nginx_site + "/")
    sign_in_at_provider(page, "alice")
    page.wait_for_url(nginx_site + "/")
    expect(page.locator("#user")).to_have_text(ALICE_SUB)
    expect(page.locator("#groups")).to_have_text("user")
