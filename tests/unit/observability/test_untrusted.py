"""Text from outside in logs and error messages: ``shown`` itself, then the app's log lines, in
the text and the JSON format, when a provider, a browser and a stranger each send hostile text
where the app repeats it (an OAuth error, the callback's ``?error=``, a path, a JWT header)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.support.clients import JSON_HEADERS
from tests.support.hostile import (
    FORGED,
    HOSTILE,
    LONG,
    check_json_log,
    check_text_log,
    unsigned_jwt,
)
from tests.support.inprocess import (
    Browser,
    FakeProvider,
    ManualClock,
    host_app,
    module_for,
    running,
)
from zitadel_bff.observability.logs import JsonFormatter, TextFormatter
from zitadel_bff.observability.untrusted import MAX_SHOWN, shown

FORMATTERS = {"text": TextFormatter, "json": JsonFormatter}
CHECKS = {"text": check_text_log, "json": check_json_log}


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("invalid_grant", "invalid_grant"),
        ("a\r\nb", "a\\r\\nb"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x00\t\x7f\x85\x9b", "\\x00\\t\\x7f\\x85\\x9b"),
        ("\u2028\u2029\u202e\u2066\u200f", "\\u2028\\u2029\\u202e\\u2066\\u200f"),
        ("lone \ud800", "lone \\ud800"),
        ("Zoë 日本 ✓ \\r", "Zoë 日本 ✓ \\r"),  # printable text, a backslash too, as it is
        (7, "7"),
    ],
    ids=["plain", "crlf", "ansi", "c0-del-c1", "separators-bidi", "surrogate", "printable", "int"],
)
def test_shown_escapes_what_could_break_or_forge_a_line(value: object, said: str) -> None:
    assert shown(value) == said


def test_shown_cuts_long_text_and_says_how_long_it_was() -> None:
    assert shown("A" * MAX_SHOWN) == "A" * MAX_SHOWN
    assert shown(LONG) == "A" * MAX_SHOWN + "... (10000 characters)"
    assert shown("\n" * 10, limit=3) == "\\n\\n\\n... (10 characters)"


def test_shown_forges_no_line() -> None:
    said = shown(HOSTILE)
    assert "\n" not in said and "\r" not in said and "\x1b" not in said
    assert f"\\r\\n{FORGED}\\n\\x1b[2J" in said


# The app's log lines ------------------------------------------------------------------------


@pytest.fixture(params=["text", "json"])
def log_format(request: pytest.FixtureRequest) -> Iterator[tuple[str, io.StringIO]]:
    """Every record of the package, written as ``configure_logging`` writes it in that format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(FORMATTERS[request.param]())
    package = logging.getLogger("zitadel_bff")
    package.addHandler(handler)
    level = package.level
    package.setLevel(logging.DEBUG)
    try:
        yield request.param, stream
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


async def _signin_state(browser: Browser) -> str:
    token = (await browser.http.get("/auth/session")).json()["csrf_token"]
    resp = await browser.http.post("/auth/signin", data={"csrf_token": token})
    state: str = httpx.URL(resp.headers["location"]).params["state"]
    return state


async def _hostile_journey(browser: Browser, provider: FakeProvider) -> None:
    # The provider refuses the code with a hostile OAuth error and error_description.
    state = await _signin_state(browser)
    provider.codes["code-1"] = httpx.Response(
        400, json={"error": HOSTILE + LONG, "error_description": HOSTILE + LONG}
    )
    resp = await browser.http.get(f"/auth/callback?code=code-1&state={state}")
    assert resp.headers["location"] == "/auth/error?error=token_exchange_failed"
    # The browser comes back with a hostile ?error= and error_description.
    state = await _signin_state(browser)
    query = urlencode({"error": HOSTILE + LONG[:1500], "error_description": HOSTILE + LONG,
                       "state": state})
    resp = await browser.http.get(f"/auth/callback?{query}")
    assert resp.headers["location"] == "/auth/error?error=login_failed"
    # A hostile path, as a client may send it percent-encoded.
    resp = await browser.http.get("/items/" + quote(HOSTILE + LONG), headers=JSON_HEADERS)
    assert resp.status_code == 400
    # A logout token whose header anybody may write.
    token = unsigned_jwt({"alg": HOSTILE + LONG, "typ": "JWT"}, {"sub": "x"})
    resp = await browser.http.post(
        "/auth/backchannel-logout", data={"logout_token": token}, headers=JSON_HEADERS
    )
    assert resp.status_code == 400


async def test_hostile_text_forges_no_log_line_in_either_format(
    log_format: tuple[str, io.StringIO],
) -> None:
    name, stream = log_format
    provider = FakeProvider()
    async with running(host_app(module_for(provider)), ManualClock()) as browser:
        await _hostile_journey(browser, provider)
    lines = CHECKS[name](stream.getvalue())
    said = [line for line in lines if "token endpoint refused: invalid_grant" in line]
    assert len(said) == 1 and "\\r\\n2030-01-01 00:00:00,000 INFO" in said[0]
    assert "(10" in said[0] and "characters)" in said[0]  # cut, and says so
    assert any("the provider answered error" in line for line in lines)
    # Starlette drops CR and LF from the path; the rest is the client's.
    assert any("GET /items/invalid_grant2030-01-01 " in line and "\\x1b[2J" in line
               for line in lines)
    assert any("logout token rejected: alg 'invalid_grant\\r\\n" in line for line in lines)
