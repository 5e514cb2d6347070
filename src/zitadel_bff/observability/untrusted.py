"""Text from outside (the provider's answers, the browser's parameters and path, the tokens and
headers anyone may send) as a log line or an error message may repeat it: on one line, and short.

Log injection (CWE-117): a CR or LF in such text would end the log line and let the rest pose
as a record of its own; an ESC or a C1 CSI would drive the terminal that shows the log; a
bidirectional override would make the line read other than it is stored. Each of them is shown
as its escape instead (``\\r``, ``\\x1b``, ``\\u202e``), and the text is cut at a length worth
reading: a provider's 10,000-character error is not.
"""

from __future__ import annotations

__all__ = ["MAX_SHOWN", "shown"]

#: At most this many characters of a value are shown.
MAX_SHOWN = 200

#: C0 controls, DEL and C1 controls; the line and paragraph separators some log viewers break
#: lines at; the bidirectional marks, embeddings, overrides and isolates (Unicode UAX #9); lone
#: surrogates (JSON strings may hold them, and no encoder writes them).
_UNSAFE = (
    *range(0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    *range(0x2028, 0x202F),
    *range(0x2066, 0x206A),
    *range(0xD800, 0xE000),
)
#: Each unsafe character to its Python escape: ``\\n``, ``\\x1b``, ``\\u2028``.
ESCAPES = {code: repr(chr(code))[1:-1] for code in _UNSAFE}


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``str(value)`` fit for a log line or an error message: control, line-separator and
    bidirectional characters escaped, and at most ``limit`` characters of it, then
    ``... (<n> characters)`` when there were more."""
    text = str(value)
    if len(text) <= limit:
        return text.translate(ESCAPES)
    return f"{text[:limit].translate(ESCAPES)}... ({len(text)} characters)"
