"""returnTo handling: only same-origin relative paths survive (no open redirect, RFC 6749 10.15)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ["MAX_RETURN_TO", "safe_return_to"]

MAX_RETURN_TO = 2048


def _is_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return False  # browsers read "/\evil" as "//evil"; control chars split headers
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_return_to(value: str | None, default: str) -> str:
    """``value`` if it is a path on this site, else ``default``.

    Checked raw and once percent-decoded, so ``/%2F%2Fevil`` and ``/%5Cevil`` are refused too.
    """
    if not value or len(value) > MAX_RETURN_TO:
        return default
    if _is_local_path(value) and _is_local_path(unquote(value)):
        return value
    return default
