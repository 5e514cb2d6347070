import pytest

from zitadel_bff.errors import CSRFError
from zitadel_bff.sessions.sealing import Keyring, SealError
from zitadel_bff.web.csrf import check_origin, check_token

SECRET = "s" * 40


def test_seal_round_trip_and_binding() -> None:
    keys = Keyring(SECRET)
    sealed = keys.seal(b"hello", aad=b"s:1")
    assert b"hello" not in sealed
    assert keys.open(sealed, aad=b"s:1") == b"hello"
    assert keys.seal(b"hello", aad=b"s:1") != sealed  # random nonce
    with pytest.raises(SealError):
        keys.open(sealed, aad=b"s:2")  # moved to another key
    with pytest.raises(SealError):
        Keyring("t" * 40).open(sealed, aad=b"s:1")  # another secret
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        keys.open(tampered, aad=b"s:1")
    with pytest.raises(SealError):
        keys.open(b"\x02" + sealed[1:], aad=b"s:1")
    with pytest.raises(SealError):
        keys.open(b"short", aad=b"s:1")


def test_lookup_keys_are_keyed_hashes() -> None:
    keys = Keyring(SECRET)
    key = keys.lookup_key("s", "cookie-value")
    assert key.startswith("s:") and "cookie-value" not in key
    assert key == keys.lookup_key("s", "cookie-value")
    assert key != keys.lookup_key("sid", "cookie-value")
    assert key != Keyring("t" * 40).lookup_key("s", "cookie-value")


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


def test_cookie_policy_names_and_flags() -> None:
    from zitadel_bff.web import CookiePolicy

    https = CookiePolicy(secure=True, session_max_age=100)
    assert https.name("session") == "__Host-zbff_session"
    header = https.header("session", "v", 100).decode()
    assert header == "__Host-zbff_session=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=100"
    http = CookiePolicy(secure=False, session_max_age=100)
    assert http.header("browser", "b", None).decode() == (
        "zbff_browser=b; Path=/; HttpOnly; SameSite=Lax"
    )
