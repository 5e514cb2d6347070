"""The ``zitadel-bff`` command in-process: every subcommand and every way it refuses to start.

No provider is needed here: ``check`` against a running provider, and ``serve`` as a real
process, are in tests/integration/test_cli.py.
"""

from __future__ import annotations

import asyncio
import logging
import string
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from tests.support.cli import CliResult, environment, logging_restored, run_cli, use_environment
from tests.support.sessions import ADMIN_SUB, ALICE_SUB, NoRefresher, new_session
from tests.support.settings import TEST_SECRET
from zitadel_bff.app import configure_logging
from zitadel_bff.app.cli import SECRET_BYTES, main
from zitadel_bff.observability.logs import RedactQueryFilter
from zitadel_bff.sessions import Keyring, SessionManager, SQLiteStore

#: A provider nobody runs: commands must fail before they reach it, or say it is unreachable.
GONE = "http://127.0.0.1:9"
PORT = 3999
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - only passed to a fake uvicorn.run
URL_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is ``tmp_path`` and the environment names a SQLite store in it."""
    monkeypatch.chdir(tmp_path)
    use_environment(monkeypatch, environment(GONE, PORT, "sqlite:///cli.db"))
    return tmp_path / "cli.db"


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server must not start")

    monkeypatch.setattr(uvicorn, "run", refuse)


def test_secret_prints_a_new_secret_each_time(capsys: pytest.CaptureFixture[str]) -> None:
    first = run_cli(["secret"], capsys)
    second = run_cli(["secret"], capsys)
    assert (first.status, first.err, second.status, second.err) == (0, "", 0, "")
    secret = first.out.removesuffix("\n")
    assert len(secret) == 64 == SECRET_BYTES * 4 // 3  # 48 random bytes, url-safe base64
    assert set(secret) <= URL_SAFE
    assert second.out != first.out


def test_a_bad_configuration_lists_every_variable_in_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    use_environment(
        monkeypatch, {"SESSION_SECRET": "short", "ZITADEL_DOMAIN": "http://idp.example"}
    )
    assert run_cli(["check"], capsys) == CliResult(
        2,
        "",
        "zitadel-bff: invalid configuration:\n"
        "  SESSION_SECRET: must be at least 32 characters (got 5); "
        "run `zitadel-bff secret` for one\n"
        "  ZITADEL_CALLBACK_URL: is required but not set; "
        "for example ZITADEL_CALLBACK_URL=https://app.example.com/auth/callback\n"
        "  ZITADEL_CLIENT_ID: is required but not set; "
        "for example ZITADEL_CLIENT_ID=243864426485212395@my-project\n"
        "  ZITADEL_DOMAIN: must use https (plain http is allowed only for localhost/loopback), "
        "e.g. https://my-org.zitadel.cloud\n"
        "  ZITADEL_POST_LOGOUT_URL: is required but not set; "
        "for example ZITADEL_POST_LOGOUT_URL=https://app.example.com/auth/logout/callback\n",
    )


def test_variables_come_from_the_env_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    use_environment(monkeypatch, {})
    variables = environment(GONE, PORT, "sqlite:///from-dotenv.db")
    Path(".env").write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    assert run_cli(["sessions", "count"], capsys) == CliResult(0, "0\n", "")
    assert (tmp_path / "from-dotenv.db").is_file()


def test_env_file_names_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    use_environment(monkeypatch, {})
    variables = environment(GONE, PORT, "sqlite:///other.db")
    (tmp_path / "prod.env").write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    assert run_cli(["--env-file", "prod.env", "sessions", "count"], capsys).status == 0
    assert (tmp_path / "other.db").is_file()
    missing = run_cli(["sessions", "count"], capsys)  # no .env here: nothing is configured
    assert (missing.status, missing.err.splitlines()[0]) == (
        2,
        "zitadel-bff: invalid configuration:",
    )


# serve -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "extra", "expected"),
    [
        (
            [],
            {},
            {
                "host": "127.0.0.1",
                "port": PORT,
                "log_level": "info",
                "proxy_headers": False,
                "forwarded_allow_ips": None,
            },
        ),
        (
            ["--host", ANY_ADDRESS, "--port", "8080", "--access-log"],
            {"LOG_LEVEL": "warning", "TRUSTED_PROXIES": "10.0.0.7"},
            {
                "host": ANY_ADDRESS,
                "port": 8080,
                "log_level": "warning",
                "proxy_headers": True,
                "forwarded_allow_ips": "10.0.0.7",
            },
        ),
    ],
    ids=["from-settings", "from-flags"],
)
def test_serve_runs_the_app_with_uvicorn(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    extra: dict[str, str],
    expected: dict[str, object],
) -> None:
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: runs.append((app, kwargs)))
    assert run_cli(["serve", *args], capsys) == CliResult(0, "", "")
    [(app, kwargs)] = runs
    assert isinstance(app, FastAPI)
    assert app.state.zitadel_auth.settings.session_store == "sqlite:///cli.db"
    # The query-string redaction of configure_logging stays: uvicorn gets no logging config.
    # The access log is the module's own (with request ids), never uvicorn's.
    assert kwargs == {
        **expected,
        "access_log": False,
        "server_header": False,
        "log_config": None,
        "timeout_graceful_shutdown": 30,
    }
    assert app.state.zitadel_auth.settings.request_log is ("--access-log" in args)
    assert db.is_file()  # the store was opened (and closed again) before the server started


@pytest.mark.parametrize("command", [["serve"], ["sessions", "count"]])
@pytest.mark.usefixtures("no_server")
def test_an_unusable_sqlite_store_stops_the_command_in_one_line(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    (db.parent / "file.txt").write_text("x")
    monkeypatch.setenv("SESSION_STORE", f"sqlite:///{db.parent}/file.txt/sessions.db")
    assert run_cli(command, capsys) == CliResult(
        2,
        "",
        f"zitadel-bff: SESSION_STORE: cannot create directory {db.parent}/file.txt: "
        "a file of that name exists\n",
    )


@pytest.mark.usefixtures("no_server")
def test_serve_names_why_sqlite_cannot_open_the_database(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db.mkdir()
    assert run_cli(["serve"], capsys) == CliResult(  # the path as SESSION_STORE gives it
        2, "", "zitadel-bff: SESSION_STORE: cannot open SQLite database cli.db: is a directory\n"
    )


# check -------------------------------------------------------------------------------------


def test_check_reports_an_unreachable_provider(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["check"], capsys) == CliResult(
        1,
        "",
        "zitadel-bff: provider_unavailable: "
        f"GET {GONE}/.well-known/openid-configuration failed: "
        "connection refused by 127.0.0.1:9\n",
    )


# sessions ----------------------------------------------------------------------------------


def test_sessions_with_redis_down_fail_in_one_line_after_the_retries(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SESSION_STORE", "redis://127.0.0.1:9/0")  # nobody listens there
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        1, "", "zitadel-bff: store_unavailable: Redis store error: ConnectionError\n"
    )


async def seed(db: Path, subs: list[str], *, timed_out: int = 0) -> None:
    """Sessions for ``subs`` as sign-ins would have stored them, and ``timed_out`` sessions
    whose idle time ran out an hour ago (still in the file until purged)."""
    store = SQLiteStore(db)
    keyring = Keyring(TEST_SECRET)
    now = time.time()

    def manager(at: float) -> SessionManager:
        return SessionManager(
            store=store,
            keyring=keyring,
            refresher=NoRefresher(),
            idle_timeout=3600,
            max_lifetime=86400,
            clock=lambda: at,
        )

    try:
        for sub in subs:
            await manager(now).create(new_session(now, sub=sub))
        for _ in range(timed_out):
            await manager(now - 7200).create(new_session(now - 7200, sub=ALICE_SUB))
    finally:
        await store.close()


def test_sessions_count_counts_live_sessions(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(seed(db, [ADMIN_SUB, ADMIN_SUB, ALICE_SUB], timed_out=1))
    assert run_cli(["sessions", "count"], capsys) == CliResult(0, "3\n", "")


def test_sessions_purge_deletes_what_has_expired(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(db, [ADMIN_SUB], timed_out=2))
    assert run_cli(["sessions", "purge"], capsys) == CliResult(
        0, "purged 2 expired record(s)\n", ""
    )
    assert run_cli(["sessions", "purge"], capsys) == CliResult(
        0, "purged 0 expired record(s)\n", ""
    )
    assert run_cli(["sessions", "count"], capsys) == CliResult(0, "1\n", "")


def test_sessions_revoke_ends_every_session_of_one_user(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(db, [ADMIN_SUB, ALICE_SUB, ADMIN_SUB]))
    revoke = ["sessions", "revoke", "--sub", ADMIN_SUB]
    assert run_cli(revoke, capsys) == CliResult(0, "revoked 2 session(s)\n", "")
    assert run_cli(revoke, capsys) == CliResult(0, "revoked 0 session(s)\n", "")
    assert run_cli(["sessions", "count"], capsys) == CliResult(0, "1\n", "")


def test_sessions_revoke_needs_a_user(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["sessions", "revoke"], capsys) == CliResult(
        2, "", "zitadel-bff: sessions revoke needs --sub\n"
    )
    assert not db.exists()  # refused before anything was opened


# logging -----------------------------------------------------------------------------------


def test_logging_keeps_authlib_and_httpx_quiet() -> None:
    with logging_restored():
        configure_logging("DEBUG")
        # Authlib logs the PKCE verifier at DEBUG; httpx logs every URL at INFO.
        assert logging.getLogger("authlib").level == logging.INFO
        assert logging.getLogger("httpx").level == logging.WARNING
        filters = logging.getLogger("uvicorn.access").filters
        assert [type(f) for f in filters[-1:]] == [RedactQueryFilter]
        configure_logging("ERROR")
        assert logging.getLogger("authlib").level == logging.ERROR


def access_record(*args: object) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )


def test_access_log_lines_lose_their_query_strings() -> None:
    record = access_record("127.0.0.1:5", "GET", "/auth/callback?code=SECRET&state=S", "1.1", 303)
    assert RedactQueryFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /auth/callback HTTP/1.1" 303'


def test_other_log_lines_pass_unchanged() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "%s?%s", ("a", "b=c"), None)
    assert RedactQueryFilter().filter(record)
    assert record.getMessage() == "a?b=c"


def test_version_says_which_release(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib
    from pathlib import Path

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    release = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert capsys.readouterr().out == f"zitadel-bff {release}\n"  # and __version__ agrees
