"""Sessions, route protection and the security headers, over real HTTP and a real SQLite file."""

from __future__ import annotations

import json
import queue
import sqlite3
from contextlib import closing
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from devtools.flows import login
from devtools.provider import OPProcess

from tests.support.clients import browser_client, session_cookie
from tests.support.records import expire_record, read_session, stored_session
from tests.support.server import AppFactory, ThreadedServer
from tests.support.settings import TEST_SECRET
from tests.support.times import MovableClock
from zitadel_bff import ZitadelAuth
from zitadel_bff.sessions import SessionData
from zitadel_bff.sessions.manager import MAX_TOUCH_INTERVAL

ADMIN_SUB = "301234567890123456"
EXPIRED = "/auth/login?returnTo=%2Fprofile&error=session_expired"


def auth_of(server: ThreadedServer) -> ZitadelAuth:
    auth: ZitadelAuth = server.app.state.zitadel_auth
    return auth


def test_protected_page_redirects_html_and_401s_json(
    app: ThreadedServer, client: httpx.Client
) -> None:
    resp = client.get(app.url + "/profile?tab=x")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/auth/login?returnTo=%2Fprofile%3Ftab%3Dx"
    api = client.get(app.url + "/auth/userinfo", headers={"accept": "application/json"})
    assert api.status_code == 401
    assert api.json() == {"error": "not_authenticated", "message": "Please sign in"}


def test_tampered_cookie_is_signed_out_and_cleared(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    login(client, app.url)
    real = session_cookie(client)
    client.cookies.clear()  # replace the cookie, do not add a second one beside it
    client.cookies.set("zbff_session", real[:-2] + ("AA" if real[-2:] != "AA" else "BB"))
    resp = client.get(app.url + "/profile")
    assert resp.status_code == 303
    assert any(
        v.startswith("zbff_session=;") for k, v in resp.headers.multi_items() if k == "set-cookie"
    )
    for junk in [b"", b"x" * 5000, "\u00e9t\u00e9".encode(), b"a;b", b'"quoted"', b"\xff\xfe"]:
        with browser_client() as other:
            resp = other.get(app.url + "/profile", headers={b"cookie": b"zbff_session=" + junk})
            assert resp.status_code == 303


def test_session_record_is_encrypted_at_rest(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    login(client, app.url)
    db = tmp_path / f"sessions-{app.port}.db"
    rows = sqlite3.connect(db).execute("SELECT key, value FROM records").fetchall()
    blob = b"".join(bytes(v) for _, v in rows) + "".join(k for k, _ in rows).encode()
    cookie = session_cookie(client)
    for secret in [ADMIN_SUB.encode(), b"admin@acme.localhost", cookie.encode(), b"Ada"]:
        assert secret not in blob
    data = read_session(db, TEST_SECRET, cookie)
    assert data is not None and data.sub == ADMIN_SUB and data.refresh_token


# Lifetimes are checked without waiting for them to pass (a sleep against a one-second timeout
# races a loaded machine): the app's session manager gets a clock the test moves forward. The
# jumps stay far below the provider's 12 h tokens, so no refresh comes due on the way.
IDLE = 600
MAX_LIFETIME = 1000


def lifetimes_app(start_app: AppFactory, **settings: Any) -> tuple[ThreadedServer, MovableClock]:
    app = start_app(session_duration=IDLE, **settings)
    clock = MovableClock()
    auth_of(app).sessions.clock = clock
    return app, clock


def signed_in_record(
    client: httpx.Client, app: ThreadedServer, tmp_path: Path, clock: MovableClock
) -> tuple[Path, str, SessionData]:
    """Sign in; the database, the cookie and the record, which must expire after IDLE s."""
    before = clock()
    login(client, app.url)
    after = clock()
    db = tmp_path / f"sessions-{app.port}.db"
    cookie = session_cookie(client)
    record = stored_session(db, TEST_SECRET, cookie)
    assert before + IDLE <= record.expires_at <= after + IDLE
    return db, cookie, record


def assert_expired_message(
    client: httpx.Client, app: ThreadedServer, resp: httpx.Response
) -> None:
    """The session-expired answer: back to sign-in with a message, the cookie cleared."""
    assert resp.status_code == 303 and resp.headers["location"] == EXPIRED
    page = client.get(app.url + resp.headers["location"])
    assert "Your session has expired" in page.text
    assert client.cookies.get("zbff_session") is None
    again = client.get(app.url + "/profile")  # once told, not told again
    assert again.status_code == 303
    assert again.headers["location"] == "/auth/login?returnTo=%2Fprofile"


def test_idle_timeout_ends_the_session_with_a_message(
    start_app: AppFactory, client: httpx.Client, tmp_path: Path
) -> None:
    app, clock = lifetimes_app(start_app)
    db, cookie, record = signed_in_record(client, app, tmp_path, clock)
    clock.set(record.expires_at)  # IDLE seconds without a request
    assert_expired_message(client, app, client.get(app.url + "/profile"))
    assert read_session(db, TEST_SECRET, cookie) is None  # ended, not only refused


def test_a_record_the_store_dropped_at_expiry_asks_to_sign_in_again(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    db = tmp_path / f"sessions-{app.port}.db"
    login(client, app.url)
    cookie = session_cookie(client)
    assert client.get(app.url + "/profile").status_code == 200
    expire_record(db, TEST_SECRET, cookie)  # its expiry passed: the store no longer returns it
    assert_expired_message(client, app, client.get(app.url + "/profile"))


def test_activity_extends_the_idle_timeout(
    start_app: AppFactory, client: httpx.Client, tmp_path: Path
) -> None:
    app, clock = lifetimes_app(start_app)
    db, cookie, first = signed_in_record(client, app, tmp_path, clock)
    clock.set(first.expires_at - IDLE / 2)  # a request half way through the idle time...
    used_at = clock()
    assert client.get(app.url + "/profile").status_code == 200
    moved = stored_session(db, TEST_SECRET, cookie).expires_at
    assert used_at + IDLE <= moved <= clock() + IDLE  # ...restarts it
    clock.set(first.expires_at + IDLE / 4)  # past the first expiry, not past the new one
    assert client.get(app.url + "/profile").status_code == 200
    assert stored_session(db, TEST_SECRET, cookie).expires_at > moved  # and again
    clock.set(stored_session(db, TEST_SECRET, cookie).expires_at)
    assert_expired_message(client, app, client.get(app.url + "/profile"))


def test_the_idle_expiry_is_written_at_most_once_per_touch_interval(
    start_app: AppFactory, client: httpx.Client, tmp_path: Path
) -> None:
    app, clock = lifetimes_app(start_app)
    db, cookie, first = signed_in_record(client, app, tmp_path, clock)
    interval = auth_of(app).sessions.touch_interval
    assert interval == min(MAX_TOUCH_INTERVAL, IDLE / 10)
    clock.set(first.expires_at - IDLE + interval / 2)  # well within the interval: no write
    assert client.get(app.url + "/profile").status_code == 200
    assert stored_session(db, TEST_SECRET, cookie).expires_at == first.expires_at
    clock.set(first.expires_at - IDLE + interval)  # a full interval later: written
    assert client.get(app.url + "/profile").status_code == 200
    assert stored_session(db, TEST_SECRET, cookie).expires_at >= first.expires_at + interval


def test_absolute_lifetime_ends_an_active_session(
    start_app: AppFactory, client: httpx.Client, tmp_path: Path
) -> None:
    app, clock = lifetimes_app(start_app, session_max_lifetime=MAX_LIFETIME)
    db, cookie, record = signed_in_record(client, app, tmp_path, clock)
    cap = record.created_at + MAX_LIFETIME
    for at in (cap - IDLE + 100, cap - 100):  # active all along: the idle timeout never ends it
        clock.set(at)
        assert client.get(app.url + "/profile").status_code == 200
    # activity no longer moves the expiry past the cap
    assert stored_session(db, TEST_SECRET, cookie).expires_at == cap
    clock.set(cap)
    assert_expired_message(client, app, client.get(app.url + "/profile"))


def test_expired_records_are_purged(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    import asyncio

    from zitadel_bff.sessions import SQLiteStore

    login(client, app.url)
    db = tmp_path / f"sessions-{app.port}.db"
    with closing(sqlite3.connect(db)) as con:
        with con:
            records = con.execute("SELECT count(*) FROM records").fetchone()[0]
            con.execute("UPDATE records SET expires_at = 0")

        async def purge() -> int:
            store = SQLiteStore(db)
            try:
                return await store.purge_expired()
            finally:
                await store.close()

        assert records >= 1 and asyncio.run(purge()) == records
        assert con.execute("SELECT count(*) FROM records").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM tags").fetchone()[0] == 0


def test_userinfo_endpoint(app: ThreadedServer, client: httpx.Client, op: OPProcess) -> None:
    login(client, app.url)
    resp = client.get(app.url + "/auth/userinfo", headers={"accept": "application/json"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["sub"] == ADMIN_SUB
    assert set(body["urn:zitadel:iam:org:project:roles"]) == {"admin", "user"}
    assert resp.headers["cache-control"] == "no-store"


def test_session_endpoint_for_spas(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    anon = client.get(app.url + "/auth/session").json()
    assert anon["authenticated"] is False and anon["csrf_token"]
    login(client, app.url)
    body = client.get(app.url + "/auth/session").json()
    assert body["authenticated"] is True
    assert body["user"]["sub"] == ADMIN_SUB and body["user"]["roles"] == ["admin", "user"]
    # the token works as the X-CSRF-Token header for unsafe calls
    resp = client.post(app.url + "/auth/logout", headers={"x-csrf-token": body["csrf_token"]})
    assert resp.status_code == 303


def test_admin_role_guard(app: ThreadedServer, op: OPProcess) -> None:
    with browser_client() as admin:
        login(admin, app.url, username="admin")
        page = admin.get(app.url + "/admin")
        assert page.status_code == 200 and "<h1>Admin</h1>" in page.text
    with browser_client() as alice:
        login(alice, app.url, username="alice")
        page = alice.get(app.url + "/admin")
        assert page.status_code == 403 and "have access to this page" in page.text
        api = alice.get(app.url + "/admin", headers={"accept": "application/json"})
        assert api.status_code == 403 and api.json()["error"] == "forbidden"
        profile = alice.get(app.url + "/profile")
        assert "Alice Example" in profile.text and "not verified" in profile.text


def test_health_and_readiness(app: ThreadedServer, client: httpx.Client) -> None:
    assert client.get(app.url + "/healthz").json() == {"status": "ok"}
    ready = client.get(app.url + "/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert {k: body[k] for k in ("status", "store", "provider")} == {
        "status": "ok", "store": "ok", "provider": "ok"
    }
    assert set(body["checks"]) == {"store", "provider"}


def test_security_headers(app: ThreadedServer, client: httpx.Client) -> None:
    resp = client.get(app.url + "/")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "same-origin"
    assert "camera=()" in resp.headers["permissions-policy"]
    assert resp.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in resp.headers  # http


def test_static_files_are_cached_with_etags(app: ThreadedServer, client: httpx.Client) -> None:
    page = client.get(app.url + "/")
    href = page.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert href.startswith("/auth/static/app.css?v=")
    css = client.get(app.url + href)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = client.get(app.url + href, headers={"if-none-match": css.headers["etag"]})
    assert again.status_code == 304
    assert client.get(app.url + "/auth/static/nope.css").status_code == 404
    assert client.get(app.url + "/auth/static/../pyproject.toml").status_code == 404


def test_not_found_page_and_json(app: ThreadedServer, client: httpx.Client) -> None:
    page = client.get(app.url + "/does-not-exist")
    assert page.status_code == 404 and "Page not found" in page.text
    api = client.get(app.url + "/does-not-exist", headers={"accept": "application/json"})
    assert api.status_code == 404 and api.json()["error"] == "not_found"


# The provider's user "mallory" carries markup in every claim the profile shows.
MALLORY_SUB = "301234567890123458"
MALLORY_NAME = "<script>alert(1)</script>"
MALLORY_GIVEN = '"><img src=x onerror=alert(1)>'
MALLORY_FAMILY = "'><svg onload=alert(1)>"
MALLORY_NOTE = "<b onmouseover=alert(1)>hi</b>"


class PageScan(HTMLParser):
    """The elements of a page, and its text with the element each piece of text is in."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                      "source", "track", "wbr"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, str]] = []
        self._open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        if data.strip() and self._open:
            self.texts.append((self._open[-1], data.strip()))


def test_claims_are_escaped(app: ThreadedServer, client: httpx.Client, op: OPProcess) -> None:
    login(client, app.url, username="mallory")
    resp = client.get(app.url + "/profile")
    assert resp.status_code == 200
    page = PageScan(resp.text)
    # every value is shown, as text, where the profile shows it...
    assert ("h1", MALLORY_NAME) in page.texts
    assert ("dd", MALLORY_NAME) in page.texts
    assert ("td", MALLORY_GIVEN) in page.texts and ("td", MALLORY_FAMILY) in page.texts
    assert ("dd", MALLORY_NOTE) in page.texts
    blocks = [json.loads(text) for tag, text in page.texts if tag == "pre"]
    [raw_json] = [b for b in blocks if isinstance(b, dict) and "sub" in b]  # "Raw JSON"
    assert raw_json["sub"] == MALLORY_SUB and raw_json["name"] == MALLORY_NAME
    assert raw_json["given_name"] == MALLORY_GIVEN
    # ...and none of it became markup: no element or attribute the claims could have made
    assert not [e for e in page.elements if e[0] in {"svg", "b"}]
    # The one script is the module's own file (times in the viewer's zone), not from a claim.
    scripts = [e for e in page.elements if e[0] == "script"]
    assert [str(attrs.get("src")).split("?")[0] for _, attrs in scripts] == [
        "/auth/static/local-time.js"
    ]
    assert not [e for e in page.elements if e[0] == "img" and e[1].get("src") == "x"]
    assert not [(tag, a) for tag, attrs in page.elements for a in attrs if a.startswith("on")]
    for raw in (MALLORY_NAME, MALLORY_GIVEN, MALLORY_FAMILY, MALLORY_NOTE, "<img src=x"):
        assert raw not in resp.text


def test_db_file_and_data_dir_are_created(
    start_app: AppFactory, tmp_path: Path, client: httpx.Client
) -> None:
    db = tmp_path / "nested" / "dir" / "s.db"
    app = start_app(session_store=f"sqlite:///{db}")
    assert client.get(app.url + "/readyz").status_code == 200
    assert Path(db).is_file()


def test_https_public_url_means_secure_host_cookies_and_hsts(
    start_app: AppFactory, client: httpx.Client, port_pool: queue.Queue[int]
) -> None:
    port = port_pool.get_nowait()
    try:
        app = start_app(
            port=port,
            zitadel_callback_url=f"https://127.0.0.1:{port}/auth/callback",
            zitadel_post_logout_url=f"https://127.0.0.1:{port}/auth/logout/callback",
        )
        resp = client.get(app.url + "/auth/login")
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith("__Host-zbff_browser=") and "; Secure" in cookie
        assert resp.headers["strict-transport-security"].startswith("max-age=")
    finally:
        port_pool.put(port)
