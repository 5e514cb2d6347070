"""Gateway mode (UPSTREAM_URL, PUBLIC_PATHS, UPSTREAM_PASS_ACCESS_TOKEN) and forward-auth
(GET /auth/check), against the real echo upstream and real sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from devtools.flows import login
from devtools.provider import free_port

from tests.support.clients import BROWSER_HEADERS, session_cookie
from tests.support.server import AppFactory, ThreadedServer
from tests.support.upstream import JSON, Echo, token_print

ADMIN_SUB = "301234567890123456"
ALICE_SUB = "301234567890123457"
IDENTITY = ("x-forwarded-user", "x-forwarded-email", "x-forwarded-preferred-username",
            "x-forwarded-groups", "x-forwarded-access-token")
FORGED = {
    "x-forwarded-user": "evil",
    "X_Forwarded_User": "evil",
    "x-forwarded-groups": "admin",
    "x-forwarded-email": "evil@example.com",
    "x-forwarded-preferred-username": "evil",
    "x-forwarded-access-token": "evil",
}


@contextmanager
def signed_in(app: ThreadedServer, username: str = "admin") -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        login(client, app.url, username=username)
        yield client


@pytest.fixture
def gateway(start_app: AppFactory, echo: Echo) -> ThreadedServer:
    return start_app(upstream_url=echo.url, public_paths="/,/public")


def identity_of(headers: dict[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in IDENTITY if name in headers}


def test_signed_in_requests_carry_the_identity_not_the_forged_one(
    gateway: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(gateway) as client:
        resp = client.get(gateway.url + "/reports/7?q=1", headers={**JSON, **FORGED})
    assert resp.status_code == 200
    got = resp.json()
    assert (got["path"], got["query"]) == ("/reports/7", "q=1")
    assert identity_of(got["headers"]) == {
        "x-forwarded-user": ADMIN_SUB,
        "x-forwarded-email": "admin@acme.localhost",
        "x-forwarded-preferred-username": "admin",
        "x-forwarded-groups": "admin,user",
    }
    assert "x_forwarded_user" not in got["headers"]
    assert got["cookie_received"] is False
    assert got["bearer_token"] is False  # the gateway sends identity, not the token


def test_public_paths_are_forwarded_without_identity(
    gateway: ThreadedServer,
    echo: Echo,
    client: httpx.Client,
) -> None:
    for path in ("/", "/public", "/public/a.css"):
        resp = client.get(gateway.url + path, headers={**JSON, **FORGED})
        assert resp.status_code == 200, path
        assert identity_of(resp.json()["headers"]) == {}, path
    # Signed in too: a public path never carries identity.
    with signed_in(gateway) as user:
        got = user.get(gateway.url + "/public/x", headers=JSON).json()
    assert identity_of(got["headers"]) == {}


def test_signed_out_browsers_sign_in_and_api_clients_get_401(
    gateway: ThreadedServer,
    echo: Echo,
    client: httpx.Client,
) -> None:
    resp = client.get(gateway.url + "/reports?q=1")  # the client fixture asks for text/html
    assert resp.status_code == 303
    assert resp.headers["location"] == "/auth/login?returnTo=%2Freports%3Fq%3D1"
    for path in ("/reports", "/publicity", "/public2/x"):  # prefixes at segment boundaries
        resp = client.get(gateway.url + path, headers=JSON)
        assert resp.status_code == 401, path
        assert resp.json()["error"] == "not_authenticated"
    assert echo.received == []


def test_the_bff_still_serves_its_own_paths(gateway: ThreadedServer, echo: Echo) -> None:
    with signed_in(gateway) as client:
        echo.received.clear()  # the sign-in ended on the upstream's /profile
        session = client.get(gateway.url + "/auth/session", headers=JSON).json()
        assert session["authenticated"] is True
        assert client.get(gateway.url + "/healthz").json() == {"status": "ok"}
        css = client.get(gateway.url + "/auth/static/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        # The demo pages are not mounted: /profile and /spa are the upstream's.
        for path in ("/profile", "/spa", "/static/spa.js"):
            assert client.get(gateway.url + path, headers=JSON).json()["path"] == path
    assert [r["path"] for r in echo.received] == ["/profile", "/spa", "/static/spa.js"]


def test_gateway_answers_keep_the_upstreams_own_headers(
    gateway: ThreadedServer,
    echo: Echo,
    start_app: AppFactory,
) -> None:
    with signed_in(gateway) as client:
        page = client.get(gateway.url + "/x", headers=BROWSER_HEADERS)
    assert page.status_code == 200 and "<h1>Echo upstream</h1>" in page.text
    assert "content-security-policy" not in page.headers
    assert "cache-control" not in page.headers
    api = start_app(api_routes=f"/api/x={echo.url}")
    with signed_in(api) as client:
        resp = client.get(api.url + "/api/x/1", headers=JSON)
    assert resp.headers["cache-control"] == "no-store"  # API answers get the module's defaults
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_unsafe_methods_need_a_same_origin_but_no_bff_token(
    gateway: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(gateway) as client:
        echo.received.clear()
        refused = client.post(gateway.url + "/form", data={"a": "1"},
                              headers={**JSON, "origin": "https://evil.example"})
        assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
        ok = client.post(gateway.url + "/form", headers={**JSON, "origin": gateway.url},
                         data={"a": "1"})
    assert ok.status_code == 200
    assert (ok.json()["method"], ok.json()["body"]) == ("POST", "a=1")
    assert len(echo.received) == 1


def test_pass_access_token_adds_the_sessions_token(
    start_app: AppFactory,
    echo: Echo,
    tmp_path: Path,
) -> None:
    app = start_app(upstream_url=echo.url, upstream_pass_access_token=True)
    with signed_in(app) as client:
        cookie = session_cookie(client)
        got = client.get(app.url + "/x", headers={**JSON, **FORGED}).json()
    assert got["headers"]["x-forwarded-access-token"] == token_print(app, tmp_path, cookie)


def test_gateway_traversal_is_refused(gateway: ThreadedServer, echo: Echo) -> None:
    from tests.support.upstream import raw_request

    for target in ("/public/../admin", "/public/%2e%2e/admin", "//evil.example/x"):
        status, body = raw_request(gateway.port, "GET", target, JSON)
        assert status == 400, target
        assert isinstance(body, dict) and body["error"] == "bad_request"
    assert echo.received == []


def test_unreachable_upstream_is_a_502_page_for_browsers(
    start_app: AppFactory,
    client: httpx.Client,
) -> None:
    app = start_app(upstream_url=f"http://127.0.0.1:{free_port()}", public_paths="/")
    page = client.get(app.url + "/")
    assert page.status_code == 502 and "The application is unavailable" in page.text
    resp = client.get(app.url + "/", headers=JSON)
    assert resp.status_code == 502 and resp.json()["error"] == "upstream_unavailable"


# /auth/check ------------------------------------------------------------------------------


def test_check_signed_out_is_401_with_the_sign_in_address(
    app: ThreadedServer,
    client: httpx.Client,
) -> None:
    resp = client.get(app.url + "/auth/check")
    assert resp.status_code == 401
    assert resp.headers["x-auth-request-sign-in"] == "/auth/login?returnTo=%2F"
    resp = client.get(app.url + "/auth/check", headers={"x-original-uri": "/page?x=1&y=2"})
    assert resp.headers["x-auth-request-sign-in"] == (
        "/auth/login?returnTo=%2Fpage%3Fx%3D1%26y%3D2"
    )
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        resp = client.get(app.url + "/auth/check", headers={"x-forwarded-uri": evil})
        assert resp.headers["x-auth-request-sign-in"] == "/auth/login?returnTo=%2F", evil
    assert "x-auth-request-user" not in resp.headers


def test_check_signed_in_names_the_user(app: ThreadedServer) -> None:
    with signed_in(app) as client:
        resp = client.get(app.url + "/auth/check")
        head = client.head(app.url + "/auth/check")
    assert resp.status_code == 200 and head.status_code == 200
    for answer in (resp, head):
        assert answer.headers["x-auth-request-user"] == ADMIN_SUB
        assert answer.headers["x-auth-request-email"] == "admin@acme.localhost"
        assert answer.headers["x-auth-request-preferred-username"] == "admin"
        assert answer.headers["x-auth-request-groups"] == "admin,user"
        assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("username", "allowed", "status"),
    [
        ("admin", "admin", 200),
        ("alice", "admin", 403),
        ("alice", "admin,user", 200),
        ("alice", " auditor , user ", 200),
        ("admin", "auditor", 403),
        ("alice", "", 200),
    ],
)
def test_check_allowed_roles(
    app: ThreadedServer,
    username: str,
    allowed: str,
    status: int,
) -> None:
    with signed_in(app, username) as client:
        resp = client.get(app.url + "/auth/check", params={"allowed_roles": allowed})
    assert resp.status_code == status
    if status == 403:
        assert resp.json()["error"] == "forbidden"
        assert "x-auth-request-user" not in resp.headers


def test_check_takes_no_unsafe_method(app: ThreadedServer, client: httpx.Client) -> None:
    assert client.post(app.url + "/auth/check").status_code == 405


def test_websockets_are_not_proxied(gateway: ThreadedServer, echo: Echo) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as refused:
        connect(gateway.url.replace("http://", "ws://") + "/socket", open_timeout=10)
    assert refused.value.response.status_code == 403
    assert echo.received == []


def test_head_requests_pass_without_a_body(start_app: AppFactory, echo: Echo) -> None:
    api = start_app(api_routes=f"/api/x={echo.url}")
    with signed_in(api) as client:
        resp = client.head(api.url + "/api/x/1", headers=JSON)
    assert resp.status_code == 200 and resp.content == b""
    assert int(resp.headers["content-length"]) > 0  # the upstream's length for a GET
    assert echo.received[-1]["method"] == "HEAD"


def test_check_says_when_the_session_ended(app: ThreadedServer, tmp_path: Path) -> None:
    from tests.support.records import expire_record
    from tests.support.settings import TEST_SECRET

    with signed_in(app) as client:
        expire_record(tmp_path / f"sessions-{app.port}.db", TEST_SECRET, session_cookie(client))
        resp = client.get(app.url + "/auth/check", headers={"x-original-uri": "/reports"})
    assert resp.status_code == 401
    assert resp.headers["x-auth-request-sign-in"] == (
        "/auth/login?returnTo=%2Freports&error=session_expired"
    )
