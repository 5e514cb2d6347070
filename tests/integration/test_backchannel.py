"""Back-channel logout details: the replay window follows the configured clock skew.
(Logout tokens whose sid or sub are not strings: tests/integration/test_logout.py.)"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
from devtools.provider import OPProcess

from tests.support.backchannel import (
    post_logout_token,
)
from tests.support.server import AppFactory

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
