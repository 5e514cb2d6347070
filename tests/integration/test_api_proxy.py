"""The API proxy (API_ROUTES) against a real echo upstream on loopback, with real sessions from
the ZITADEL-shaped provider: what reaches the upstream, and what is refused before it."""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from devtools.demo_api import fingerprint
from devtools.flows import login
from devtools.provider import OPProcess, free_port

from tests.support.clients import browser_client, session_cookie
from tests.support.records import read_session
from tests.support.server import AppFactory, ThreadedServer
from tests.support.settings import TEST_SECRET, settings_for
from tests.support.times import MovableClock
from tests.support.upstream import JSON, Echo, access_token, raw_request, token_print

ADMIN_SUB = "301234567890123456"


@pytest.fixture
def api_app(start_app: AppFactory, echo: Echo) -> ThreadedServer:
    return start_app(api_routes=f"/api/orders={echo.url}/v1,/api/users={echo.url}")


@contextmanager
def signed_in(app: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        login(client, app.url)
        yield client


def cookie_of(client: httpx.Client) -> str:
    return session_cookie(client)


def csrf(client: httpx.Client, app: ThreadedServer) -> str:
    token: str = client.get(app.url + "/auth/session", headers=JSON).json()["csrf_token"]
    return token


def test_get_is_forwarded_with_the_sessions_bearer_token(
    api_app: ThreadedServer,
    echo: Echo,
    tmp_path: Path,
) -> None:
    with signed_in(api_app) as client:
        cookie = cookie_of(client)
        resp = client.get(api_app.url + "/api/orders/42?x=1&y=%2F", headers=JSON)
    assert resp.status_code == 200
    got = resp.json()
    assert (got["method"], got["path"], got["query"]) == ("GET", "/v1/42", "x=1&y=%2F")
    assert got["bearer_fingerprint"] == token_print(api_app, tmp_path, cookie)
    assert got["cookie_received"] is False
    headers = got["headers"]
    assert headers["host"] == echo.url.removeprefix("http://")
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == api_app.url.removeprefix("http://")
    assert "x-csrf-token" not in headers


def test_the_browsers_credentials_and_hop_by_hop_headers_stay_behind(
    api_app: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(api_app) as client:
        resp = client.get(
            api_app.url + "/api/users/me",
            headers={
                **JSON,
                "authorization": "Bearer forged-by-the-browser",
                "proxy-authorization": "Basic eDp5",
                "connection": "keep-alive, x-hop",
                "x-hop": "listed in Connection",
                "te": "trailers",
                "x-kept": "an ordinary header",
            },
        )
    headers = resp.json()["headers"]
    assert headers["authorization"] != f"Bearer {fingerprint('forged-by-the-browser')}"
    assert headers["authorization"].startswith("Bearer sha256:")
    for name in ("cookie", "proxy-authorization", "x-hop", "te", "connection"):
        assert name not in headers, name
    assert headers["x-kept"] == "an ordinary header"


# Not X-Forwarded-For/-Proto: the test server's uvicorn trusts them from loopback (its default
# forwarded_allow_ips), as `zitadel-bff serve` does from TRUSTED_PROXIES; the proxy then sends
# the client address uvicorn worked out.
FORGED = {
    "x-forwarded-user": "evil",
    "x_forwarded_user": "evil",
    "x-forwarded-email": "evil@example.com",
    "x-forwarded-groups": "admin",
    "x-forwarded-access-token": "evil",
    "x-forwarded-host": "evil.example",
    "x-auth-request-user": "evil",
    "forwarded": "for=6.6.6.6;host=evil.example",
    "x-real-ip": "6.6.6.6",
}


def test_forged_identity_and_origin_headers_never_arrive(
    api_app: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(api_app) as client:
        got = client.get(api_app.url + "/api/users/x", headers={**JSON, **FORGED}).json()
    headers = got["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == api_app.url.removeprefix("http://")
    for name in FORGED:
        if name != "x-forwarded-host":
            assert name not in headers, name
    assert "evil" not in str(headers)


def test_signed_out_gets_401_json_and_nothing_is_forwarded(
    api_app: ThreadedServer,
    echo: Echo,
    client: httpx.Client,
) -> None:
    for method in ("GET", "POST", "DELETE"):
        resp = client.request(method, api_app.url + "/api/orders/1", headers=JSON)
        assert resp.status_code == 401
        assert resp.json() == {"error": "not_authenticated", "message": "Please sign in"}
    # A browser navigating there is an API client of this route too: JSON, no redirect.
    resp = client.get(api_app.url + "/api/orders/1")
    assert resp.status_code == 401 and resp.headers["content-type"] == "application/json"
    assert echo.received == []


def test_unsafe_methods_need_the_csrf_header_and_a_same_origin(
    api_app: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(api_app) as client:
        token = csrf(client, api_app)
        url = api_app.url + "/api/orders/7"
        refused = [
            client.post(url, headers=JSON, json={"n": 1}),
            client.post(url, headers={**JSON, "x-csrf-token": "wrong"}, json={"n": 1}),
            client.post(url, headers={**JSON, "x-csrf-token": token,
                                      "origin": "https://evil.example"}, json={"n": 1}),
            client.put(url, headers={**JSON, "x-csrf-token": token,
                                     "sec-fetch-site": "cross-site"}, json={"n": 1}),
            client.delete(url, headers={**JSON, "x-csrf-token": token,
                                        "sec-fetch-site": "same-site"}),
        ]
        assert [r.status_code for r in refused] == [403] * 5
        assert {r.json()["error"] for r in refused} == {"csrf_failed"}
        assert echo.received == []
        ok = client.post(
            url,
            headers={**JSON, "x-csrf-token": token, "origin": api_app.url,
                     "sec-fetch-site": "same-origin"},
            json={"n": 1},
        )
    assert ok.status_code == 200
    got = ok.json()
    assert (got["method"], got["path"], got["body"]) == ("POST", "/v1/7", '{"n":1}')
    assert got["headers"]["content-type"] == "application/json"
    assert got["headers"]["content-length"] == "7"


@pytest.mark.parametrize(
    ("path", "upstream_path"),
    [
        ("/api/orders", "/v1"),
        ("/api/orders/", "/v1/"),
        ("/api/orders/a/b/", "/v1/a/b/"),
        ("/api/orders/%6Frders%20x", "/v1/%6Frders%20x"),
        ("/api/users", "/"),
        ("/api/users/7", "/7"),
    ],
)
def test_paths_join_the_base_path(
    api_app: ThreadedServer,
    echo: Echo,
    path: str,
    upstream_path: str,
) -> None:
    with signed_in(api_app) as client:
        status, _ = raw_request(api_app.port, "GET", path, {
            "cookie": f"zbff_session={cookie_of(client)}", **JSON})
    assert status == 200
    assert echo.received[-1]["raw_path"] == upstream_path


def test_a_prefix_matches_only_at_a_segment_boundary(
    api_app: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(api_app) as client:
        for path in ("/api/ordersX", "/api/orders.json", "/api/usersandmore/1"):
            resp = client.get(api_app.url + path, headers=JSON)
            assert resp.status_code == 404, path
    assert echo.received == []


TRAVERSALS = [
    "/api/orders/../admin",
    "/api/orders/./x",
    "/api/orders/%2e%2e/admin",
    "/api/orders/%2E%2E",
    "/api/orders/.%2e/x",
    "/api/orders/%2e",
    "/api/orders/%252e%252e/x",
    "/api/orders/..%2Fadmin",
    "/api/orders/a%2fb",
    "/api/orders/a%5Cb",
    "/api/orders/%5c..",
    "/api/orders//evil.example/x",
    "/api/orders/x//y",
    "/api/orders/%00",
    "/api/orders/%0d%0aX-Injected:%201",
    "/api/orders/%ff",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_and_smuggling_attempts_are_refused(
    api_app: ThreadedServer,
    echo: Echo,
    target: str,
) -> None:
    with signed_in(api_app) as client:
        cookie = cookie_of(client)
        status, body = raw_request(api_app.port, "GET", target,
                                   {"cookie": f"zbff_session={cookie}", **JSON})
    assert status == 400
    assert body == {"error": "bad_request", "message": "Bad request"}
    assert echo.received == []


@pytest.mark.parametrize("connection", ["content-length", "close, Content-Length"])
def test_a_body_stays_one_request_whatever_the_connection_header_lists(
    api_app: ThreadedServer,
    echo: Echo,
    connection: str,
) -> None:
    # A client's Connection header may name Content-Length as hop-by-hop: were the proxy to
    # drop it and still send the body, the upstream would read the body as a second request
    # (request smuggling, with forged identity headers in it).
    smuggled = b"GET /admin HTTP/1.1\r\nhost: x\r\nx-forwarded-user: admin\r\n\r\n"
    with signed_in(api_app) as client:
        resp = client.request("GET", api_app.url + "/api/users/x", content=smuggled,
                              headers={**JSON, "connection": connection})
    assert resp.status_code == 200
    assert [(r["path"], r["body_bytes"]) for r in echo.received] == [("/x", len(smuggled))]
    assert echo.received[0]["headers"]["content-length"] == str(len(smuggled))


def test_a_refused_path_is_logged_on_one_line(
    api_app: ThreadedServer,
    echo: Echo,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="zitadel_bff.auth.proxy")
    with signed_in(api_app) as client:
        cookie = cookie_of(client)
        status, _ = raw_request(api_app.port, "GET", "/api/orders/x%0d%0aFAKE%20record%1b[31m",
                                {"cookie": f"zbff_session={cookie}", **JSON})
    assert status == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "zitadel_bff.auth.proxy"]
    assert len(lines) == 1, lines
    assert "\r" not in lines[0] and "\n" not in lines[0] and "\x1b" not in lines[0]
    assert "/api/orders/x\\r\\nFAKE" in lines[0]


def test_an_absolute_form_target_cannot_reach_another_host(
    api_app: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(api_app) as client:
        cookie = cookie_of(client)
        status, got = raw_request(api_app.port, "GET", "http://evil.example/api/orders/1",
                                  {"cookie": f"zbff_session={cookie}", **JSON})
    assert status == 200
    assert isinstance(got, dict)
    assert got["raw_path"] == "/v1/1"
    assert got["headers"]["host"] == echo.url.removeprefix("http://")


def test_upstream_cookies_may_not_touch_the_bffs_own(
    api_app: ThreadedServer,
    echo: Echo,
) -> None:
    with signed_in(api_app) as client:
        cookie = cookie_of(client)
        resp = client.get(
            api_app.url + "/api/users/x",
            params=[("set_cookie", "zbff_session=stolen"), ("set_cookie", "theirs=1"),
                    ("set_cookie", " zbff_browser =x")],
            headers=JSON,
        )
        assert resp.headers.get_list("set-cookie") == ["theirs=1"]
        assert cookie_of(client) == cookie


def test_unreachable_upstream_is_502_json(start_app: AppFactory, client: httpx.Client) -> None:
    closed = free_port()  # nothing listens there
    app = start_app(api_routes=f"/api/down=http://127.0.0.1:{closed}")
    with browser_client() as user:
        login(user, app.url)
        resp = user.get(app.url + "/api/down/x", headers=JSON)
    assert resp.status_code == 502
    assert resp.json() == {"error": "upstream_unavailable",
                           "message": "The application is unavailable"}


def test_no_answer_within_api_timeout_is_504_json(start_app: AppFactory, echo: Echo) -> None:
    app = start_app(api_routes=f"/api/slow={echo.url}", api_timeout=0.3)
    with signed_in(app) as client:
        started = time.monotonic()
        resp = client.get(app.url + "/api/slow/__hang", headers=JSON)
        elapsed = time.monotonic() - started
        assert resp.status_code == 504
        assert resp.json() == {"error": "upstream_timeout",
                               "message": "The application did not answer in time"}
        assert 0.3 <= elapsed < 5
        # The next request is served: the timed-out connection was not left in the pool.
        assert client.get(app.url + "/api/slow/ok", headers=JSON).status_code == 200


async def _concurrent_gets(url: str, cookie: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(cookies={"zbff_session": cookie}, timeout=30) as client:
        return list(await asyncio.gather(*[client.get(url, headers=JSON) for _ in range(count)]))


def test_a_due_token_is_refreshed_once_and_the_new_one_forwarded(
    start_app: AppFactory,
    echo: Echo,
    op: OPProcess,
    tmp_path: Path,
) -> None:
    # Sessions that outlive the 12 h tokens, so the clock can be moved past their refresh.
    app = start_app(api_routes=f"/api/users={echo.url}", session_duration=86400,
                    session_max_lifetime=2 * 86400)
    with signed_in(app) as client:
        cookie = cookie_of(client)
    before = access_token(app, tmp_path, cookie)
    auth = app.app.state.zitadel_auth
    clock = MovableClock()
    auth.sessions.clock = clock
    record = read_session(tmp_path / f"sessions-{app.port}.db", TEST_SECRET, cookie)
    assert record is not None and record.refresh_at is not None
    op.reset_stats()
    clock.set(record.refresh_at + 1)
    responses = asyncio.run(_concurrent_gets(app.url + "/api/users/x", cookie, 8))
    assert [r.status_code for r in responses] == [200] * 8
    assert op.stats()["token_requests"]["refresh_token"] == 1
    after = access_token(app, tmp_path, cookie)
    assert after != before
    assert {r.json()["bearer_fingerprint"] for r in responses} == {fingerprint(after)}


def test_routes_declared_in_code_forward_in_a_library_app(
    op: OPProcess,
    port_pool: queue.Queue[int],
    tmp_path: Path,
    echo: Echo,
) -> None:
    from fastapi import FastAPI

    from tests.support.server import ThreadedServer
    from zitadel_bff import ZitadelAuth

    port = port_pool.get_nowait()
    settings = settings_for(port, op.issuer, f"sqlite:///{tmp_path}/sessions-{port}.db")
    auth = ZitadelAuth(settings, api_routes={"/api/orders": f"{echo.url}/v1"})
    auth.add_api_route("/api/users", echo.url)
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)
    server = ThreadedServer(app, port).start()
    try:
        with signed_in(server) as client:
            cookie = cookie_of(client)
            orders = client.get(server.url + "/api/orders/1", headers=JSON).json()
            users = client.get(server.url + "/api/users/2", headers=JSON).json()
        assert (orders["path"], users["path"]) == ("/v1/1", "/2")
        assert orders["bearer_fingerprint"] == token_print(server, tmp_path, cookie)
    finally:
        server.stop()
        port_pool.put(port)
