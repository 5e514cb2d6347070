"""Text an attacker (or a broken provider) puts where the app may repeat it in a log line: a
CR LF with a forged record after it, ANSI escapes, a C1 CSI, a bidirectional override, and
10,000 characters; and the checks that a log holds none of it raw, in either format."""

from __future__ import annotations

import base64
import json
import re

__all__ = [
    "FORGED",
    "HOSTILE",
    "LONG",
    "MAX_LINE",
    "check_json_log",
    "check_said",
    "check_text_log",
    "unsigned_jwt",
]

#: A record of the text format, as a line of its own would forge it. 2030 is after any test's
#: real clock: no genuine line starts with it.
FORGED = "2030-01-01 00:00:00,000 INFO zitadel_bff.audit: sign_in [request_id=forged]"
#: Ends the line, forges a record, then clears the screen, colours, and reverses what follows.
HOSTILE = f"invalid_grant\r\n{FORGED}\n\x1b[2J\x1b[31mred\x9b0m\u202eevil\x7f"
#: 10,000 characters, far more than a log line should carry.
LONG = "A" * 10_000
#: No line of a log may be longer: every value from outside is cut at 200 characters.
MAX_LINE = 1_000
#: Characters that must never reach a line of a log (or an error message) raw.
RAW = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


def check_said(said: str) -> None:
    """``said`` (an error message, a log line) is one short line without control characters."""
    assert len(said) <= MAX_LINE, f"{len(said)} characters"
    assert "\n" not in said and "\r" not in said, f"a line break in {said[:300]!r}"
    assert not RAW.search(said), f"a control character in {said[:300]!r}"


def check_text_log(output: str) -> list[str]:
    """Every line of the text format is a record of its own, short and free of control
    characters, and the forged record shows only as escaped text; the lines."""
    lines = output.splitlines()
    assert lines
    for line in lines:
        assert TEXT_LINE.match(line) and not line.startswith("2030-"), f"a forged line: {line!r}"
        check_said(line)
    return lines


def check_json_log(output: str) -> list[str]:
    """Every line of the JSON format is one object whose message is short and free of control
    characters; the messages."""
    messages = []
    for line in output.splitlines():
        message = json.loads(line)["message"]
        check_said(message)
        messages.append(message)
    assert messages
    return messages


def unsigned_jwt(header: dict[str, object], claims: dict[str, object]) -> str:
    """A compact JWS with any header at all (and no valid signature): what anyone may post to
    the back-channel logout endpoint or send as a bearer token."""

    def part(value: dict[str, object]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}.c2ln"
