"""The ``zitadel-bff`` command run in-process, as ``main(argv)``: a clean environment, its exit
status and output, and the logging set-up it leaves behind undone."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from devtools.provider import CLIENT_ID, CLIENT_SECRET

from tests.support.settings import TEST_SECRET
from zitadel_bff.app import main
from zitadel_bff.config import Settings

__all__ = ["CliResult", "environment", "logging_restored", "run_cli", "use_environment"]

#: The loggers configure_logging() changes.
CONFIGURED_LOGGERS = ("", "uvicorn.access", "authlib", "httpx")


@dataclass(frozen=True)
class CliResult:
    status: int
    out: str
    err: str


def environment(issuer: str, port: int, store: str, **extra: str) -> dict[str, str]:
    """The variables of an app on ``http://127.0.0.1:<port>`` signing in at ``issuer`` as the
    development provider's client, with sessions in ``store``."""
    return {
        "SESSION_SECRET": TEST_SECRET,
        "ZITADEL_DOMAIN": issuer,
        "ZITADEL_CLIENT_ID": CLIENT_ID,
        "ZITADEL_CLIENT_SECRET": CLIENT_SECRET,
        "ZITADEL_CALLBACK_URL": f"http://127.0.0.1:{port}/auth/callback",
        "ZITADEL_POST_LOGOUT_URL": f"http://127.0.0.1:{port}/auth/logout/callback",
        "SESSION_STORE": store,
        "PORT": str(port),
        **extra,
    }


def use_environment(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    """Only ``variables`` among those the settings read (whatever the test process inherited)."""
    fields = {name.upper() for name in Settings.model_fields}
    for name in list(os.environ):
        if name.upper() in fields:
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo what configure_logging() does to the process's loggers (levels, handlers, filters)."""
    loggers = [logging.getLogger(name) for name in CONFIGURED_LOGGERS]
    saved = [(lg.level, list(lg.handlers), list(lg.filters)) for lg in loggers]
    try:
        yield
    finally:
        for lg, (level, handlers, filters) in zip(loggers, saved, strict=True):
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.filters[:] = filters


def run_cli(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> CliResult:
    """``zitadel-bff <args>`` in this process: its exit status and what it printed."""
    capsys.readouterr()  # only this command's output
    with logging_restored():
        status = main(list(args))
    captured = capsys.readouterr()
    return CliResult(status, captured.out, captured.err)
