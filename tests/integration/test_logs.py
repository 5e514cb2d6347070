"""Logs as operators get them from ``zitadel-bff serve``: LOG_FORMAT=json parsed line by line,
text too; at DEBUG, through a sign-in, a refresh, a sign-out and a back-channel logout, no line
carries a token, a code, a state, a verifier, a nonce, a cookie or a secret; and hostile text
sent where the app repeats it forges no line."""

from __future__ import annotations

import json
import queue
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlencode, urljoin

import httpx
import pytest
from devtools.flows import FlowResult, follow, login, logout, query_of
from devtools.provider import CLIENT_SECRET, OPProcess

from tests.support.clients import JSON_HEADERS, browser_client, session_cookie
from tests.support.hostile import HOSTILE, LONG, check_json_log, check_text_log, unsigned_jwt
from tests.support.records import read_session
from tests.support.serve import Served, serve_env
from tests.support.settings import TEST_SECRET
from zitadel_bff.sessions import Keyring

ADMIN_SUB = "301234567890123456"
DUE = 2.2  # the short provider's tokens are due 2 s after they were issued
AUDITED = {"sign_in", "session_refreshed", "sign_out", "backchannel_logout"}


def transaction_secrets(db: Path, state: str) -> list[str]:
    """The PKCE verifier and the nonce of the sign-in in progress under ``state``."""
    key = Keyring(TEST_SECRET).lookup_key("tx", state)
    row = sqlite3.connect(db).execute("SELECT value FROM records WHERE key = ?", (key,)).fetchone()
    payload = json.loads(Keyring(TEST_SECRET).open(bytes(row[0]), aad=key.encode()))
    return [payload["verifier"], payload["nonce"]]


def journey(app: Served, db: Path, op: OPProcess) -> list[str]:
    """Everything a user and the provider do; returns every secret value that went by."""
    seen = [TEST_SECRET, CLIENT_SECRET]
    with browser_client() as client:
        result = login(client, app.url, stop_at=app.url + "/auth/callback")
        callback = urljoin(app.url, result.response.headers["location"])
        params = query_of(callback)
        seen += [params["code"], params["state"], *transaction_secrets(db, params["state"])]
        follow(client, client.get(callback), FlowResult(result.response))
        cookie = session_cookie(client)
        seen += [cookie, client.cookies.get("zbff_browser") or ""]
        record = read_session(db, TEST_SECRET, cookie)
        assert record is not None and record.refresh_token
        seen += [record.access_token, record.refresh_token, record.id_token or ""]
        time.sleep(DUE)  # the tokens come due (real tokens, real time)
        assert client.get(app.url + "/profile").status_code == 200
        fresh = read_session(db, TEST_SECRET, cookie)
        assert fresh is not None and fresh.refresh_token
        assert fresh.access_token != record.access_token
        seen += [fresh.access_token, fresh.refresh_token, fresh.id_token or ""]
        logout(client, app.url)
    with browser_client() as client:
        login(client, app.url)
        token = op.logout_token(sub=ADMIN_SUB)
        seen.append(token)
        posted = client.post(app.url + "/auth/backchannel-logout", data={"logout_token": token},
                             headers=JSON_HEADERS)
        assert posted.status_code == 200
    return [value for value in seen if value]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_logs_at_debug_carry_no_secret(
    log_format: str, short_op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path
) -> None:
    port = port_pool.get_nowait()
    db = tmp_path / "logs.db"
    env = serve_env(short_op.issuer, port, f"sqlite:///{db}", LOG_LEVEL="DEBUG",
                    LOG_FORMAT=log_format, ACCESS_LOG="true")
    try:
        with Served(env, tmp_path) as app:
            secrets = journey(app, db, short_op)
            with httpx.Client() as plain:
                echoed = plain.get(app.url + "/healthz").headers["x-request-id"]
        output = app.output()
    finally:
        port_pool.put(port)
    assert len(secrets) >= 14
    for value in secrets:
        assert value not in output, f"a secret of {len(value)} characters is in the log"
    assert "Traceback" not in output
    if log_format == "json":
        check_json_lines(output, echoed)
    else:
        assert "GET /healthz 200 " in output and f"request_id={echoed}" in output
        for event in AUDITED:
            assert f"zitadel_bff.audit: {event}" in output


def check_json_lines(output: str, echoed: str) -> None:
    entries = [json.loads(line) for line in output.splitlines()]  # every line is one object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    access = [e for e in entries if e["logger"] == "zitadel_bff.access"]
    assert access and all(
        {"request_id", "method", "route", "status", "duration_ms"} <= set(e) for e in access
    )
    healthz = [e for e in access if e["request_id"] == echoed]
    assert [(e["method"], e["route"], e["status"]) for e in healthz] == [("GET", "/healthz", 200)]
    callback = [e for e in access if e["route"] == "/auth/callback"]
    assert callback and all(e["status"] == 303 for e in callback)
    events = {e["event"] for e in entries if e["logger"] == "zitadel_bff.audit"}
    assert events >= AUDITED
    # Records logged while serving a request carry its id.
    audit = [e for e in entries if e.get("event") == "sign_in"]
    assert audit and all(e["request_id"] in {a["request_id"] for a in access} for e in audit)


def hostile_requests(app: Served) -> None:
    """A browser back from the provider with a hostile ``?error=``, and a stranger's logout
    token with a hostile header."""
    with browser_client() as client:
        started = client.get(app.url + "/auth/login")
        state = query_of(started.headers["location"])["state"]
        query = urlencode(
            {"error": HOSTILE + LONG[:1500], "error_description": HOSTILE + LONG, "state": state}
        )
        back = client.get(app.url + "/auth/callback?" + query)
        assert back.headers["location"] == "/auth/error?error=login_failed"
        token = unsigned_jwt({"alg": HOSTILE + LONG, "typ": "JWT"}, {"sub": ADMIN_SUB})
        posted = client.post(app.url + "/auth/backchannel-logout", data={"logout_token": token},
                             headers=JSON_HEADERS)
        assert posted.status_code == 400


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_hostile_text_forges_no_log_line(
    log_format: str, short_op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path
) -> None:
    port = port_pool.get_nowait()
    env = serve_env(short_op.issuer, port, f"sqlite:///{tmp_path / 'hostile.db'}",
                    LOG_FORMAT=log_format, ACCESS_LOG="true")
    try:
        with Served(env, tmp_path) as app:
            hostile_requests(app)
        output = app.output()
    finally:
        port_pool.put(port)
    lines = check_json_log(output) if log_format == "json" else check_text_log(output)
    assert any("the provider answered error 'invalid_grant\\r\\n2030-01-01" in line
               for line in lines)
    assert any("logout token rejected: alg 'invalid_grant\\r\\n2030-01-01" in line
               for line in lines)
