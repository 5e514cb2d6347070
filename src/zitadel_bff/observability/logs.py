"""Logging for the entry points: text or one JSON object per line, request ids, audit events.

Records never carry tokens, codes, verifiers, cookies or secrets: the package logs none (tests
search every line for them), query strings are cut from access lines, and the libraries that
would log request details at DEBUG (Authlib logs the PKCE verifier, httpx URLs with codes) are
kept at INFO or above whatever LOG_LEVEL says.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from typing import Any

__all__ = [
    "AUDIT_EVENTS",
    "JsonFormatter",
    "audit",
    "configure_logging",
    "current_request_id",
    "reset_request_id",
    "set_request_id",
]

#: The audit events and what each means; their names are a stable contract for log pipelines.
AUDIT_EVENTS = {
    "sign_in": "a user signed in; a new session was created",
    "sign_in_failed": "a sign-in failed (field code says why)",
    "sign_out": "a user signed out; the local session ended",
    "session_refreshed": "a session's tokens were refreshed",
    "session_refresh_refused": "the provider refused a refresh; the session ended",
    "backchannel_logout": "the provider ended sessions over the back channel (field ended)",
    "sessions_revoked": "every session of a user was ended by an operator (field ended)",
}

#: Fields a record may carry (``extra=``) that the JSON format writes as keys of their own.
FIELDS = ("event", "request_id", "method", "route", "status", "duration_ms", "code", "ended")
#: Those the text format appends (the access line's message already says the others).
TEXT_FIELDS = ("request_id", "code", "ended")
#: Loggers that would write request details at DEBUG, and the least level they may have.
QUIET_LOGGERS = {"authlib": logging.INFO, "httpx": logging.WARNING, "httpcore": logging.WARNING}

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "zitadel_bff_request_id", default=None
)
_audit = logging.getLogger("zitadel_bff.audit")


def current_request_id() -> str | None:
    """The id of the request being served in this task, if request ids are on."""
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


def audit(event: str, **fields: Any) -> None:
    """Log an audit event (INFO, logger ``zitadel_bff.audit``) by its stable name."""
    assert event in AUDIT_EVENTS, event
    _audit.info(event, extra={"event": event, "request_id": _request_id.get(), **fields})


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the process id (several
    workers share one output), and the request and audit fields the record carries."""

    _second = -1
    _stamp = ""

    def _time(self, record: logging.LogRecord) -> str:
        # One strftime per second, not per line: the access log writes one line per request.
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, plus the request id and the audit fields when there are some."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [f"{name}={getattr(record, name)}" for name in TEXT_FIELDS
                 if getattr(record, name, None) is not None]
        return f"{line} [{' '.join(extra)}]" if extra else line


class RedactQueryFilter(logging.Filter):
    """Drops query strings from uvicorn's access lines: callbacks carry codes and states."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def configure_logging(level: str, fmt: str = "text") -> None:
    """Logging for an entry point (serve, a worker, the demo): one line per record, no secrets.

    ``fmt`` is ``text`` or ``json``. Like :func:`logging.basicConfig`, it installs its handler
    and level only when the root logger has none yet (a host that set up its own logging keeps
    it, and calling it again adds no second handler); the redaction and the quiet loggers apply
    in every case.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        root.setLevel(level)
        # Neither format prints the source line, the thread or the process name: do not
        # collect them for every record (the logging HOWTO's "Optimization"); the access log
        # writes one record per request.
        logging._srcfile = None
        logging.logThreads = False
        logging.logMultiprocessing = False
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryFilter) for f in access.filters):
        access.addFilter(RedactQueryFilter())
    numeric = logging.getLevelName(level)
    for name, least in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(least, numeric))
