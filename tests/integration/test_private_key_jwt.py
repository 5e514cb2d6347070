"""private_key_jwt with ZITADEL's application key file, against a provider whose client is
registered with the key's public half (it verifies every assertion)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devtools.flows import login, logout
from devtools.keys import ApplicationKey, write_application_key
from devtools.provider import CLIENT_ID, OPProcess, free_port

from tests.support.clients import browser_client

ADMIN_SUB = "301234567890123456"


@pytest.fixture(scope="module")
def app_key(tmp_path_factory: pytest.TempPathFactory) -> ApplicationKey:
    return write_application_key(tmp_path_factory.mktemp("keys"), CLIENT_ID)


@pytest.fixture(scope="module")
def key_op(app_ports: list[int], app_key: ApplicationKey) -> Iterator[OPProcess]:
    env = {
        "OP_CLIENT_AUTH": "private_key_jwt",
        "OP_CLIENT_JWKS_FILE": str(app_key.public_jwks),
        "OP_CLIENT_SECRET": "",
    }
    proc = OPProcess(port=free_port(), app_ports=app_ports, env=env).start()
    yield proc
    proc.stop()


def assertions(op: OPProcess) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = op.stats()["client_assertions"]
    return found


def test_sign_in_refresh_and_logout_authenticate_with_the_key(
    start_app: Any, key_op: OPProcess, app_key: ApplicationKey
) -> None:
    app = start_app(
        issuer=key_op.issuer,
        zitadel_client_secret="",
        zitadel_client_key_file=str(app_key.key_file),
    )
    key_op.reset_stats()
    sessions = app.app.state.zitadel_auth.sessions
    with browser_client() as client:
        with key_op.access_token_ttl(600):
            login(client, app.url)
        assert client.get(app.url + "/profile").status_code == 200
        # Past the refresh point of that 10-minute token, without waiting: the app's clock.
        sessions.clock = lambda: time.time() + 600
        try:
            assert client.get(app.url + "/profile").status_code == 200
        finally:
            sessions.clock = time.time
        logout(client, app.url)
    sent = assertions(key_op)
    endpoints = [a["endpoint"] for a in sent]
    assert endpoints == ["/oauth/v2/token", "/oauth/v2/token", "/oauth/v2/revoke"]
    assert key_op.stats()["token_requests"] == {"authorization_code": 1, "refresh_token": 1}
    for assertion in sent:
        assert assertion["type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        assert assertion["header"]["alg"] == "RS256"
        assert assertion["header"]["kid"] == app_key.key_id
        claims = assertion["payload"]
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert claims["aud"] == key_op.issuer
        assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert len({a["payload"]["jti"] for a in sent}) == len(sent)  # a fresh jti each time


def test_bearer_token_introspection_authenticates_with_the_key(
    start_app: Any, key_op: OPProcess, app_key: ApplicationKey, tmp_path: Path
) -> None:
    from tests.support.records import read_session
    from tests.support.settings import TEST_SECRET

    app = start_app(
        issuer=key_op.issuer,
        zitadel_client_secret="",
        zitadel_client_key_file=str(app_key.key_file),
    )
    with browser_client() as client:
        login(client, app.url)
        cookie = client.cookies.get("zbff_session")
    assert cookie is not None
    record = read_session(tmp_path / f"sessions-{app.port}.db", TEST_SECRET, cookie)
    assert record is not None
    key_op.reset_stats()
    resp = httpx.get(
        app.url + "/auth/userinfo",
        headers={"accept": "application/json", "authorization": f"Bearer {record.access_token}"},
    )
    # The gate introspected the token (with an assertion); userinfo itself needs a session.
    assert resp.status_code == 401
    sent = [a for a in assertions(key_op) if a["endpoint"] == "/oauth/v2/introspect"]
    assert len(sent) == 1 and sent[0]["header"]["kid"] == app_key.key_id
    assert sent[0]["payload"]["aud"] == key_op.issuer


def test_a_key_the_provider_does_not_know_fails_the_sign_in_cleanly(
    start_app: Any, key_op: OPProcess, tmp_path: Path
) -> None:
    other = write_application_key(tmp_path, CLIENT_ID)  # not registered at the provider
    app = start_app(
        issuer=key_op.issuer, zitadel_client_secret="", zitadel_client_key_file=str(other.key_file)
    )
    with browser_client() as client:
        result = login(client, app.url)
    assert result.url_of(app.url + "/auth/error") == (
        app.url + "/auth/error?error=token_exchange_failed"
    )
    assert json.loads(other.key_file.read_text())["type"] == "application"
