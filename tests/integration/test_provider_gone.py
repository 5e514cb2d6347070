"""What the logs say when the provider goes away in the middle of things: a sign-in waiting for
its callback, a session due for a refresh, a sign-out revoking its refresh token. Each names the
endpoint and the address that refused, not just an exception's class.

The provider is a process of this test alone, stopped for real: its port refuses connections.
"""

from __future__ import annotations

import logging
import time

import pytest
from devtools.flows import login, query_of
from devtools.provider import OPProcess, free_port

from tests.support.clients import JSON_HEADERS, browser_client
from tests.support.server import AppFactory

#: Access tokens live 4 s, so a refresh is due after 2 s (halfway, as 4 s is under the skew).
TOKEN_TTL = "4"
#: How far ahead the app's clock is moved: past the refresh point, before the expiry.
REFRESH_DUE = 2.5


def test_each_failed_call_logs_the_refused_address(
    start_app: AppFactory, app_ports: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    op = OPProcess(port=free_port(), app_ports=app_ports, env={"OP_ACCESS_TOKEN_TTL": TOKEN_TTL})
    op.start()
    try:
        app = start_app(issuer=op.issuer)
        with browser_client() as signed_in, browser_client() as signing_in:
            login(signed_in, app.url)
            pending = login(signing_in, app.url, stop_at=f"{app.url}/auth/callback")
            callback = pending.hops[-1].location
            assert callback is not None and callback.startswith(f"{app.url}/auth/callback")
            op.stop()
            caplog.set_level(logging.INFO, logger="zitadel_bff")

            failed = signing_in.get(callback)
            assert failed.headers["location"] == "/auth/error?error=provider_unavailable"

            sessions = app.app.state.zitadel_auth.sessions
            at = time.time() + REFRESH_DUE
            sessions.clock = lambda: at
            try:
                state = signed_in.get(app.url + "/auth/session", headers=JSON_HEADERS)
            finally:
                sessions.clock = time.time
            assert state.status_code == 200 and state.json()["authenticated"] is True

            token = state.json()["csrf_token"]
            signed_out = signed_in.post(app.url + "/auth/logout", data={"csrf_token": token})
            assert signed_out.status_code == 303
    finally:
        op.stop()
    refused = f"failed: connection refused by 127.0.0.1:{op.port}"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"sign-in failed: provider_unavailable (POST {op.issuer}/oauth/v2/token {refused})",
        f"refresh failed (POST {op.issuer}/oauth/v2/token {refused}); "
        "keeping the session (failure 1)",
        f"token revocation: POST {op.issuer}/oauth/v2/revoke {refused}",
    ]
    assert query_of(callback)["code"] not in caplog.text
