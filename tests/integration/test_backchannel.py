"""Back-channel logout details: the replay window follows the configured clock skew, and
logout tokens whose sid or sub are not strings are refused."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from devtools.provider import OPProcess

from tests.support.backchannel import (
    post_logout_token,
    refusals,
    session_alive,
    sid_of,
    signed_in,
)
from tests.support.server import AppFactory, ThreadedServer

ADMIN_SUB = "301234567890123456"
SKEW = 120


def test_replay_marker_lives_until_exp_plus_the_clock_skew(
    start_app: AppFactory, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    app = start_app(zitadel_clock_skew=SKEW)
    exp = int(time.time()) + 900
    token = op.logout_token(sub=ADMIN_SUB, exp=exp)
    assert post_logout_token(client, app, token).status_code == 200
    db = tmp_path / f"sessions-{app.port}.db"
    rows = sqlite3.connect(db).execute(
        "SELECT expires_at FROM records WHERE key LIKE 'jti:%'"
    ).fetchall()
    assert rows == [(float(exp + SKEW),)]
    replay = post_logout_token(client, app, token)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_logout_token"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sid": 42}, "sid is not a string"),
        ({"sid": ["x"]}, "sid is not a string"),
        ({"sub": 301234567890123456, "sid": None}, "sub is not a string"),
    ],
)
def test_non_string_sid_or_sub_is_refused(
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
    resp = post_logout_token(client, app, op.logout_token(**{**base, **claims}))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_logout_token"
    assert refusals(caplog) == [f"logout token rejected: {reason}"]
    assert session_alive(app, cookie)
