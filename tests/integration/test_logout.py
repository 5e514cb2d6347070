"""RP-initiated logout and back-channel logout, end to end against the provider."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from devtools.flows import FlowResult, csrf_token, follow, form_token, login, logout, query_of
from devtools.provider import CLIENT_ID, OPProcess

from tests.support.backchannel import (
    post_logout_token,
    refusals,
    session_alive,
    sid_of,
    signed_in,
)
from tests.support.clients import browser_client, session_cookie
from tests.support.records import read_session, stored_session
from tests.support.server import AppFactory, ThreadedServer
from tests.support.settings import TEST_SECRET
from tests.support.times import FromNow, resolve

ADMIN_SUB = "301234567890123456"


def test_logout_ends_local_and_provider_sessions_and_revokes(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    # The provider is shared by the whole run: count this test's session, not everyone's.
    provider_sessions = op.sessions(ADMIN_SUB) + 1
    login(client, app.url)
    cookie = session_cookie(client)
    db = tmp_path / f"sessions-{app.port}.db"
    record = stored_session(db, TEST_SECRET, cookie)
    assert record.refresh_token is not None
    assert op.sessions(ADMIN_SUB) == provider_sessions
    assert op.token_active(record.refresh_token)

    page = client.get(app.url + "/profile")
    resp = client.post(app.url + "/auth/logout", data={"csrf_token": csrf_token(page.text)})
    assert resp.status_code == 303
    end_session = resp.headers["location"]
    assert end_session.startswith(op.issuer + "/oidc/v1/end_session?")
    params = query_of(end_session)
    assert params["id_token_hint"] == record.id_token
    assert params["client_id"] == CLIENT_ID
    assert params["post_logout_redirect_uri"] == f"{app.url}/auth/logout/callback"
    assert len(params["state"]) >= 43
    # the local session is gone before the browser even reaches the provider
    assert read_session(db, TEST_SECRET, cookie) is None
    assert not op.token_active(record.refresh_token)

    result = FlowResult(resp)
    final = follow(client, resp, result)
    assert str(final.request.url) == f"{app.url}/auth/logout/success"
    assert final.status_code == 200 and "signed out" in final.text
    assert op.sessions(ADMIN_SUB) == provider_sessions - 1
    profile = client.get(app.url + "/profile")
    assert profile.status_code == 303 and profile.headers["location"].startswith("/auth/login")


def test_logout_needs_csrf_and_keeps_the_session_without_it(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    login(client, app.url)
    assert client.post(app.url + "/auth/logout").status_code == 403
    assert client.post(app.url + "/auth/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get(app.url + "/profile").status_code == 200


def test_logout_without_a_session_goes_to_success(
    app: ThreadedServer, client: httpx.Client
) -> None:
    token = form_token(client, app.url)
    resp = client.post(app.url + "/auth/logout", data={"csrf_token": token})
    assert resp.status_code == 303
    assert resp.headers["location"] == "/auth/logout/success?already=1"


@pytest.mark.parametrize("state", ["", "state=forged", "state="])
def test_logout_callback_with_wrong_state_is_an_error(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, state: str
) -> None:
    login(client, app.url)
    page = client.get(app.url + "/profile")
    client.post(app.url + "/auth/logout", data={"csrf_token": csrf_token(page.text)})
    resp = client.get(f"{app.url}/auth/logout/callback?{state}")
    assert resp.status_code == 303 and resp.headers["location"] == "/auth/logout/error"
    page = client.get(app.url + "/auth/logout/error")
    assert page.status_code == 400 and "could not be confirmed" in page.text


def test_logout_helper_journey(app: ThreadedServer, client: httpx.Client, op: OPProcess) -> None:
    login(client, app.url)
    result = logout(client, app.url)
    assert str(result.response.request.url) == f"{app.url}/auth/logout/success"


# Back-channel logout ---------------------------------------------------------------------


def test_backchannel_logout_by_sid_ends_only_that_session(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    first = signed_in(app)
    second = signed_in(app)
    sid = sid_of(app, first, tmp_path)
    resp = post_logout_token(client, app, op.logout_token(sub=ADMIN_SUB, sid=sid))
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    assert not session_alive(app, first)
    assert session_alive(app, second)


def test_backchannel_logout_by_sub_ends_every_session_of_the_user(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    first = signed_in(app)
    second = signed_in(app)
    resp = post_logout_token(client, app, op.logout_token(sub=ADMIN_SUB, sid=None))
    assert resp.status_code == 200
    assert not session_alive(app, first) and not session_alive(app, second)


def test_provider_initiated_backchannel_logout(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    cookie = signed_in(app)
    sid = sid_of(app, cookie, tmp_path)
    status = op.control("POST", "backchannel", params={"sub": ADMIN_SUB, "sid": sid})["status"]
    assert status == 200
    assert not session_alive(app, cookie)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "logout token rejected: wrong aud"),
        ({"iss": "https://evil.example"}, "logout token rejected: wrong iss"),
        ({"nonce": "n"}, "logout token rejected: nonce present"),
        ({"events": None}, "logout token rejected: events claim wrong"),
        (
            {"events": {"http://schemas.openid.net/event/other": {}}},
            "logout token rejected: events claim wrong",
        ),
        (
            {"events": {"http://schemas.openid.net/event/backchannel-logout": "yes"}},
            "logout token rejected: events claim wrong",
        ),
        ({"iat": None}, "logout token rejected: iat missing"),
        (
            {"exp": FromNow(-3600), "iat": FromNow(-4000)},
            "logout token rejected: expired or exp missing",
        ),
        ({"iat": FromNow(3600), "exp": FromNow(4000)}, "logout token rejected: iat in the future"),
        ({"jti": None}, "logout token rejected: jti missing"),
        ({"sid": None, "sub": None}, "logout token rejected: neither sid nor sub"),
        ({"sid": 42}, "logout token rejected: sid is not a string"),
        ({"sid": ["x"]}, "logout token rejected: sid is not a string"),
        ({"sub": 301234567890123456, "sid": None}, "logout token rejected: sub is not a string"),
        (
            {"key": "rotated"},
            "logout token rejected: signature does not verify with any provider key",
        ),
        ({"typ": "at+jwt"}, "logout token has an unexpected typ"),
    ],
)
def test_invalid_logout_tokens_are_refused(
    app: ThreadedServer,
    client: httpx.Client,
    op: OPProcess,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    claims: dict[str, Any],
    reason: str,
) -> None:
    caplog.set_level(logging.INFO, logger="zitadel_bff")
    cookie = signed_in(app)
    base = {"sub": ADMIN_SUB, "sid": sid_of(app, cookie, tmp_path)}
    resp = post_logout_token(client, app, op.logout_token(**{**base, **resolve(claims)}))
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_logout_token"
    assert refusals(caplog) == [reason]
    assert session_alive(app, cookie)


@pytest.mark.parametrize("body", [b"", b"logout_token=", b"logout_token=a.b.c", b"x=1"])
def test_malformed_backchannel_requests_are_refused(
    app: ThreadedServer, client: httpx.Client, body: bytes
) -> None:
    resp = client.post(
        app.url + "/auth/backchannel-logout",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
    )
    assert resp.status_code == 400


def test_logout_token_replay_is_refused(
    app: ThreadedServer,
    client: httpx.Client,
    op: OPProcess,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="zitadel_bff")
    cookie = signed_in(app)
    token = op.logout_token(sub=ADMIN_SUB, sid=sid_of(app, cookie, tmp_path))
    assert post_logout_token(client, app, token).status_code == 200
    assert post_logout_token(client, app, token).status_code == 400
    assert refusals(caplog) == ["logout token replayed"]


def test_logout_token_with_typ_logout_jwt_is_accepted(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    cookie = signed_in(app)
    token = op.logout_token(sub=ADMIN_SUB, sid=sid_of(app, cookie, tmp_path), typ="logout+jwt")
    assert post_logout_token(client, app, token).status_code == 200
    assert not session_alive(app, cookie)


def test_logout_with_the_provider_down_still_ends_the_local_session(
    start_app: AppFactory, op: OPProcess
) -> None:
    from tests.support.faults import Unreachable, provider_transport

    app = start_app()
    with browser_client() as client:
        login(client, app.url)
        page = client.get(app.url + "/profile")
        auth = app.app.state.zitadel_auth
        auth.oidc._metadata = None  # as after a restart while the provider is down
        with provider_transport(app, lambda real: Unreachable()):
            resp = client.post(
                app.url + "/auth/logout", data={"csrf_token": csrf_token(page.text)}
            )
        assert resp.status_code == 303 and resp.headers["location"] == "/auth/logout/success"
        assert client.get(app.url + "/profile").status_code == 303
