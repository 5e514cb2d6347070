"""SESSION_SECRET rotation across restarts: sessions, sign-ins in progress and CSRF tokens made
under the old secret keep working once it is in SESSION_SECRET_PREVIOUS; each session moves to
the new secret at its next use, so the old secret can then be dropped."""

from __future__ import annotations

import queue
from pathlib import Path
from urllib.parse import urljoin

from devtools.flows import FlowResult, csrf_token, follow, login, query_of

from tests.support.clients import browser_client, session_cookie
from tests.support.records import read_session
from tests.support.server import AppFactory
from tests.support.settings import TEST_SECRET

NEW_SECRET = "rotated-session-secret-0123456789-abcdefghijkl"
ADMIN_SUB = "301234567890123456"


def test_rotating_the_secret_signs_nobody_out(
    start_app: AppFactory, port_pool: queue.Queue[int], tmp_path: Path
) -> None:
    port = port_pool.get_nowait()
    db = tmp_path / "rotation.db"
    store = f"sqlite:///{db}"
    try:
        old = start_app(port=port, session_store=store)
        with browser_client() as user, browser_client() as arriving:
            login(user, old.url)
            cookie = session_cookie(user)
            old_token = csrf_token(user.get(old.url + "/profile").text)
            started = login(arriving, old.url, stop_at=old.url + "/auth/callback")
            callback = urljoin(old.url, started.response.headers["location"])
            old.stop()

            rotated = start_app(port=port, session_store=store, session_secret=NEW_SECRET,
                                session_secret_previous=TEST_SECRET)
            profile = user.get(rotated.url + "/profile")
            assert profile.status_code == 200 and ADMIN_SUB in profile.text
            # moved: under the new secret's key, resealed, and no longer under the old one
            assert read_session(db, NEW_SECRET, cookie) is not None
            assert read_session(db, TEST_SECRET, cookie) is None
            # a sign-in started before the restart finishes after it
            finished = follow(arriving, arriving.get(callback), FlowResult(started.response))
            assert str(finished.request.url) == rotated.url + "/profile"
            assert finished.status_code == 200
            assert query_of(callback)["state"]
            rotated.stop()

            only_new = start_app(port=port, session_store=store, session_secret=NEW_SECRET)
            assert user.get(only_new.url + "/profile").status_code == 200
            assert arriving.get(only_new.url + "/profile").status_code == 200
            # a page rendered under the old secret: its CSRF token is refused once it is dropped
            refused = user.post(only_new.url + "/auth/logout", data={"csrf_token": old_token})
            assert refused.status_code == 403
            only_new.stop()

            again = start_app(port=port, session_store=store, session_secret=NEW_SECRET,
                              session_secret_previous=TEST_SECRET)
            # ... and accepted while the old secret is still a previous one
            accepted = user.post(again.url + "/auth/logout", data={"csrf_token": old_token})
            assert accepted.status_code == 303
            assert user.get(again.url + "/profile").status_code == 303
    finally:
        port_pool.put(port)
