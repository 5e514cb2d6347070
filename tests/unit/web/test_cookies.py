"""Cookie parsing: other cookies on the host, whatever they hold, never hide ours."""

from __future__ import annotations

import random

import pytest

from zitadel_bff.web import CookiePolicy, parse_cookie_header

NAMES = {"zbff_session": "session", "zbff_browser": "browser", "zbff_logout": "logout"}
SESSION = "k3Jd8s-_0aZ" * 4
BROWSER = "Bb_-9" * 8
#: Cookies other apps on the same host set; http.cookies.SimpleCookie stops at each of them.
FOREIGN = [
    'prefs={"theme":"dark"}',
    "consent=yes please",
    'ga="GA1.1',
    "path=/",
    "a=b\\c",
    "empty=",
    "novalue",
    "=orphan",
    "\u00e9t\u00e9=\u00e9",
]


@pytest.mark.parametrize("foreign", FOREIGN)
@pytest.mark.parametrize("where", ["before", "after", "between"])
def test_foreign_cookies_do_not_hide_ours(foreign: str, where: str) -> None:
    ours = [f"zbff_session={SESSION}", f"zbff_browser={BROWSER}"]
    pairs = {
        "before": [foreign, *ours],
        "after": [*ours, foreign],
        "between": [ours[0], foreign, ours[1]],
    }[where]
    found = parse_cookie_header("; ".join(pairs), NAMES)
    assert found == {"session": SESSION, "browser": BROWSER}


def test_whitespace_and_missing_space_are_accepted() -> None:
    header = f"  zbff_session = {SESSION} ;zbff_logout={BROWSER};"
    assert parse_cookie_header(header, NAMES) == {"session": SESSION, "logout": BROWSER}


@pytest.mark.parametrize(
    "value", ["", "x" * 257, '"quoted"', "a b", "a,b", "\u00e9t\u00e9", "a\\b", "a=b"]
)
def test_values_we_never_set_are_ignored(value: str) -> None:
    assert parse_cookie_header(f"zbff_session={value}", NAMES) == {}


def test_first_well_formed_value_wins() -> None:
    header = f"zbff_session=bad value; zbff_session={SESSION}; zbff_session=later"
    assert parse_cookie_header(header, NAMES) == {"session": SESSION}


def test_names_are_exact() -> None:
    header = f"ZBFF_SESSION={SESSION}; xzbff_session={SESSION}; zbff_session_x={SESSION}"
    assert parse_cookie_header(header, NAMES) == {}


def test_cookie_policy_names_and_flags() -> None:
    https = CookiePolicy(secure=True, session_max_age=100)
    assert https.name("session") == "__Host-zbff_session"
    header = https.header("session", "v", 100).decode()
    assert header == "__Host-zbff_session=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=100"
    http = CookiePolicy(secure=False, session_max_age=100)
    assert http.header("browser", "b", None).decode() == (
        "zbff_browser=b; Path=/; HttpOnly; SameSite=Lax"
    )


def _reference(header: str, names: dict[str, str]) -> dict[str, str]:
    """RFC 6265 5.4 spelled out: split on ';', then at the first '=', then trim."""
    found: dict[str, str] = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        kind = names.get(name.strip())
        value = value.strip()
        well_formed = 0 < len(value) <= 256 and all(c.isascii() and (c.isalnum() or c in "-_")
                                                    for c in value)
        if sep and kind is not None and kind not in found and well_formed:
            found[kind] = value
    return found


def test_the_one_pass_reading_agrees_with_the_rfc_reading_on_mixed_headers() -> None:
    pieces = [*FOREIGN, f"zbff_session={SESSION}", f"zbff_browser={BROWSER}", " zbff_logout =x ",
              "zbff_session=bad value", "zbff_session=a=b", "zbff_browser=", ";", " ", "=",
              "zbff_session", f"zbff_session={'y' * 257}", "zbff_logout=\u00e9"]
    rng = random.Random(8)  # fixed: the same headers on every run
    for _ in range(2000):
        header = ";".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        assert parse_cookie_header(header, NAMES) == _reference(header, NAMES), header
