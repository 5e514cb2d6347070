"""CSRF: the synchronizer token bound to a browser or session, and the origin check."""

from __future__ import annotations

import pytest

from zitadel_bff.errors import CSRFError
from zitadel_bff.sessions.sealing import Keyring
from zitadel_bff.web.csrf import check_origin, check_token

SECRET = "s" * 40


def test_csrf_tokens() -> None:
    keys = Keyring(SECRET)
    token = keys.csrf_token("session-1")
    check_token(keys, token, "session-1")
    for bad_token, binding in [
        (None, "session-1"),
        ("", "session-1"),
        (token, "session-2"),
        (token, None),
        (token, ""),
        (token[:-1] + "A", "session-1"),
        ("x" * 500, "session-1"),
        (Keyring("t" * 40).csrf_token("session-1"), "session-1"),
    ]:
        with pytest.raises(CSRFError):
            check_token(keys, bad_token, binding)


@pytest.mark.parametrize(
    ("origin", "site", "ok"),
    [
        (None, None, True),
        ("http://127.0.0.1:3000", None, True),
        ("http://127.0.0.1:3000", "same-origin", True),
        (None, "none", True),
        ("null", None, False),
        ("http://127.0.0.1:3001", None, False),
        ("https://evil.example", "cross-site", False),
        (None, "same-site", False),
        (None, "cross-site", False),
    ],
)
def test_origin_check(origin: str | None, site: str | None, ok: bool) -> None:
    if ok:
        check_origin(origin, site, "http://127.0.0.1:3000")
    else:
        with pytest.raises(CSRFError):
            check_origin(origin, site, "http://127.0.0.1:3000")
