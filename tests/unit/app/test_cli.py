"""The ``zitadel-bff`` command in-process: every subcommand and every way it refuses to start.

No provider is needed here: ``check`` against a running provider, and ``serve`` as a real
process, are in tests/integration/test_cli.py.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import string
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from tests.support.broken import answering, closed_port, self_signed_tls, silent
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
DISCOVERY = "/.well-known/openid-configuration"
NOT_PURGED = " (expired sessions not yet purged are not counted)"
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - only passed to a fake uvicorn.run
URL_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is ``tmp_path`` and the environment names a SQLite store in it."""
    monkeypatch.chdir(tmp_path)
    use_environment(monkeypatch, environment(GONE, PORT, "sqlite:///cli.db"))
    return tmp_path / "cli.db"


def usage_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What argparse says when it refuses ``args`` (it exits with status 2)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def help_text(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """``zitadel-bff <args> --help``, with its line breaks and runs of spaces made one space
    (argparse wraps to the terminal's width)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


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
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        0, f"0 live sessions in sqlite:///from-dotenv.db{NOT_PURGED}\n", ""
    )
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


# help --------------------------------------------------------------------------------------


def test_help_says_what_the_command_is_and_where_its_settings_come_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text([], capsys)
    assert text.startswith("usage: zitadel-bff [-h] [--version] [--env-file FILE] <command> ...")
    assert "``" not in text  # no reStructuredText from a docstring
    for line in [
        "Sign users in with ZITADEL (OpenID Connect, code flow with PKCE)",
        "serve run the web app",
        "check validate the configuration and probe the provider",
        "secret print a new random SESSION_SECRET",
        "sessions count, purge or revoke stored sessions",
        "--env-file FILE read variables from FILE instead of ./.env",
        "Run `zitadel-bff <command> --help` for a command's details.",
        "from environment variables and from .env in the current directory",
        "Exit status: 0 done; 1 a failure at run time",
    ]:
        assert line in text


def test_serve_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(["serve"], capsys)
    for line in [
        "usage: zitadel-bff serve [-h] [--host HOST] [--port PORT] [--access-log] [--workers N]",
        "Run the app with uvicorn.",
        "--host HOST address to listen on (default: HOST from the environment or .env)",
        "--port PORT port to listen on (default: PORT from the environment or .env)",
        "--access-log log one line per request with its request id",
        "--workers N processes serving the port (default 1)",
    ]:
        assert line in text


def test_sessions_help_lists_each_action_and_what_it_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text(["sessions"], capsys)
    for line in [
        "usage: zitadel-bff sessions [-h] <action> ...",
        "Every action needs only SESSION_SECRET and SESSION_STORE",
        "none of the ZITADEL_* variables; revoke also needs --sub.",
        "count print how many sessions are live",
        "purge delete expired records",
        "revoke end every session of one user, at once (needs --sub)",
    ]:
        assert line in text
    revoke = help_text(["sessions", "revoke"], capsys)
    assert "usage: zitadel-bff sessions revoke [-h] --sub SUB" in revoke
    assert "ZITADEL is not contacted" in revoke


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("check", "Validate every variable, including settings a server would start with"),
        ("secret", "Print a new random SESSION_SECRET (64 URL-safe characters)."),
    ],
)
def test_check_and_secret_describe_themselves(
    capsys: pytest.CaptureFixture[str], command: str, words: str
) -> None:
    assert words in help_text([command], capsys)


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


def test_check_says_each_bad_value_in_our_words(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "PORT": "abc",
        "ZITADEL_TIMEOUT": "soon",
        "ACCESS_LOG": "maybe",
        "LOG_LEVEL": "loud",
        "LOG_FORMAT": "xml",
        "ZITADEL_POST_LOGOUT_URL": "logout",
        "SESSION_DURATION": "30",
    }.items():
        monkeypatch.setenv(name, value)
    assert run_cli(["check"], capsys) == CliResult(
        2,
        "",
        "zitadel-bff: invalid configuration:\n"
        "  ACCESS_LOG: 'maybe' is not true or false; for example ACCESS_LOG=true\n"
        "  LOG_FORMAT: 'xml' is not one of text, json; for example LOG_FORMAT=json\n"
        "  LOG_LEVEL: 'loud' is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG; "
        "for example LOG_LEVEL=INFO\n"
        "  PORT: 'abc' is not a whole number; for example PORT=3000\n"
        "  SESSION_DURATION: must be at least 60 seconds, not 30; "
        "for example SESSION_DURATION=3600\n"
        "  ZITADEL_POST_LOGOUT_URL: must be an absolute http(s) URL, "
        "e.g. https://app.example.com/auth/logout/callback\n"
        "  ZITADEL_TIMEOUT: 'soon' is not a number of seconds; for example ZITADEL_TIMEOUT=10\n",
    )


def test_check_refuses_the_placeholders_of_env_example(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
    monkeypatch.setenv("ZITADEL_CLIENT_ID", "000000000000000000@my-project")
    assert run_cli(["check"], capsys) == CliResult(
        2,
        "",
        "zitadel-bff: invalid configuration:\n"
        "  ZITADEL_CLIENT_ID: still the placeholder from .env.example: put the Client ID of your "
        "ZITADEL application (the console shows it on the application's page)\n"
        "  ZITADEL_DOMAIN: still the placeholder from .env.example: put your ZITADEL instance's "
        "domain, e.g. https://my-org.zitadel.cloud\n",
    )


def test_check_refuses_credentials_in_the_domain_without_showing_them(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with answering(200, '{"issuer": "http://127.0.0.1"}', "application/json") as provider:
        monkeypatch.setenv("ZITADEL_DOMAIN", provider.replace("://", "://admin:hunter2@"))
        assert run_cli(["check"], capsys) == CliResult(
            2,
            "",
            "zitadel-bff: invalid configuration:\n"
            "  ZITADEL_DOMAIN: must not contain a user name or password (user:password@), "
            "e.g. https://my-org.zitadel.cloud\n",
        )


@pytest.mark.parametrize("command", [["check"], ["serve"]])
@pytest.mark.usefixtures("no_server")
def test_a_callback_path_the_app_does_not_answer_stops_check_and_serve(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setenv("ZITADEL_CALLBACK_URL", f"http://127.0.0.1:{PORT}/callback")
    assert run_cli(command, capsys) == CliResult(
        2,
        "",
        "zitadel-bff: invalid configuration:\n"
        "  ZITADEL_CALLBACK_URL: the path is '/callback', but the app receives the sign-in at "
        f"/auth/callback: set ZITADEL_CALLBACK_URL=http://127.0.0.1:{PORT}/auth/callback "
        "(and register that redirect URI in ZITADEL)\n",
    )
    assert not db.exists()


def test_check_refuses_a_post_logout_url_on_another_origin(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZITADEL_POST_LOGOUT_URL", "http://localhost:8080/auth/logout/callback")
    assert run_cli(["check"], capsys) == CliResult(  # before the provider is asked (GONE)
        2,
        "",
        "zitadel-bff: invalid configuration:\n"
        "  ZITADEL_POST_LOGOUT_URL: is on http://localhost:8080, not on the app's origin "
        f"http://127.0.0.1:{PORT} (from ZITADEL_CALLBACK_URL): set "
        f"ZITADEL_POST_LOGOUT_URL=http://127.0.0.1:{PORT}/auth/logout/callback\n",
    )


def check_against(
    issuer: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> CliResult:
    monkeypatch.setenv("ZITADEL_DOMAIN", issuer)
    return run_cli(["check"], capsys)


def test_check_names_the_address_that_refused(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}{DISCOVERY}"
    assert check_against(f"http://127.0.0.1:{port}", monkeypatch, capsys) == CliResult(
        1,
        "",
        f"zitadel-bff: provider_unavailable: GET {url} failed: "
        f"connection refused by 127.0.0.1:{port}\n",
    )


def test_check_names_the_dns_name_not_found(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # RFC 6761 reserves .invalid: no resolver finds it. The answer is the resolver's own
    # "no such name", given here so that an offline resolver (which may hang or say "try
    # again") cannot change what the test sees.
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "idp.example.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    result = check_against("https://idp.example.invalid", monkeypatch, capsys)
    assert result == CliResult(
        1,
        "",
        f"zitadel-bff: provider_unavailable: GET https://idp.example.invalid{DISCOVERY} "
        "failed: DNS name idp.example.invalid not found\n",
    )


def test_check_says_why_tls_failed(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with self_signed_tls(tmp_path) as issuer:
        result = check_against(issuer, monkeypatch, capsys)
    assert result == CliResult(
        1,
        "",
        f"zitadel-bff: provider_unavailable: GET {issuer}{DISCOVERY} failed: "
        "the TLS certificate of 127.0.0.1 is not trusted: self-signed certificate\n",
    )


def test_check_says_how_long_it_waited(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZITADEL_TIMEOUT", "0.2")
    with silent() as issuer:
        result = check_against(issuer, monkeypatch, capsys)
    address = issuer.removeprefix("http://")
    assert result == CliResult(
        1,
        "",
        f"zitadel-bff: provider_unavailable: GET {issuer}{DISCOVERY} failed: "
        f"no answer from {address} within 0.2 s\n",
    )


@pytest.mark.parametrize(
    ("status", "body", "kind", "problem"),
    [
        (404, "instance not found", "text/plain", "provider_misconfigured: GET {url} answered 404"),
        (503, "", "text/plain", "provider_unavailable: GET {url} answered 503"),
        (
            200,
            "<html>a login page</html>",
            "text/html; charset=utf-8",
            "provider_misconfigured: GET {url} did not return JSON (but text/html; charset=utf-8)",
        ),
        (
            200,
            '{"name": "not a provider"}',
            "application/json",
            "provider_misconfigured: the discovery document names no issuer",
        ),
    ],
    ids=["not-found", "unavailable", "html", "no-issuer"],
)
def test_check_says_what_the_provider_answered(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: int,
    body: str,
    kind: str,
    problem: str,
) -> None:
    with answering(status, body, kind) as issuer:
        result = check_against(issuer, monkeypatch, capsys)
    message = problem.format(url=issuer + DISCOVERY)
    assert result == CliResult(1, "", f"zitadel-bff: {message}\n")




# sessions ----------------------------------------------------------------------------------


def test_sessions_with_redis_down_fail_in_one_line_after_the_retries(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SESSION_STORE", "redis://127.0.0.1:9/0")  # nobody listens there
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        1, "", "zitadel-bff: store_unavailable: Redis store error: ConnectionError\n"
    )


async def seed(
    db: Path, subs: list[str], *, timed_out: int = 0, secret: str = TEST_SECRET
) -> None:
    """Sessions for ``subs`` as sign-ins would have stored them (sealed under ``secret``), and
    ``timed_out`` sessions whose idle time ran out an hour ago (still in the file until purged)."""
    store = SQLiteStore(db)
    keyring = Keyring(secret)
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
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        0, f"3 live sessions in sqlite:///cli.db{NOT_PURGED}\n", ""
    )


def test_sessions_purge_deletes_what_has_expired(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(db, [ADMIN_SUB], timed_out=2))
    assert run_cli(["sessions", "purge"], capsys) == CliResult(
        0, "purged 2 expired records from sqlite:///cli.db\n", ""
    )
    assert run_cli(["sessions", "purge"], capsys) == CliResult(
        0, "purged 0 expired records from sqlite:///cli.db\n", ""
    )
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        0, f"1 live session in sqlite:///cli.db{NOT_PURGED}\n", ""
    )


def test_sessions_revoke_ends_every_session_of_one_user(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(db, [ADMIN_SUB, ALICE_SUB, ADMIN_SUB]))
    revoke = ["sessions", "revoke", "--sub", ADMIN_SUB]
    assert run_cli(revoke, capsys) == CliResult(
        0, f"revoked 2 sessions of user {ADMIN_SUB} in sqlite:///cli.db\n", ""
    )
    assert run_cli(revoke, capsys) == CliResult(
        0, f"revoked 0 sessions of user {ADMIN_SUB} in sqlite:///cli.db\n", ""
    )
    assert run_cli(["sessions", "count"], capsys).out.startswith("1 live session in ")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "the following arguments are required: --sub"),
        (["--sub", " "], "argument --sub: must be a user id, e.g. 243864426485212398"),
    ],
    ids=["missing", "blank"],
)
def test_sessions_revoke_needs_a_user(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    assert usage_error(["sessions", "revoke", *args], capsys).splitlines() == [
        "usage: zitadel-bff sessions revoke [-h] --sub SUB",
        f"zitadel-bff sessions revoke: error: {error}",
    ]
    assert not db.exists()  # refused before anything was opened


def test_sessions_need_only_the_store_and_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    use_environment(
        monkeypatch, {"SESSION_SECRET": TEST_SECRET, "SESSION_STORE": "sqlite:///only.db"}
    )
    asyncio.run(seed(tmp_path / "only.db", [ADMIN_SUB, ALICE_SUB]))
    for command, out in [
        (["count"], f"2 live sessions in sqlite:///only.db{NOT_PURGED}\n"),
        (["purge"], "purged 0 expired records from sqlite:///only.db\n"),
        (["revoke", "--sub", ALICE_SUB], f"revoked 1 session of user {ALICE_SUB} in "
         "sqlite:///only.db\n"),
    ]:
        assert run_cli(["sessions", *command], capsys) == CliResult(0, out, "")


def test_sessions_without_a_secret_open_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # e.g. a directory without the .env
    use_environment(monkeypatch, {})
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        2,
        "",
        "zitadel-bff: invalid configuration:\n"
        "  SESSION_SECRET: is required but not set; run `zitadel-bff secret` for one\n",
    )
    assert list(tmp_path.iterdir()) == []  # no ./data/sessions.db made in the wrong place


def test_sessions_revoke_finds_sessions_sealed_under_the_previous_secret(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = "previous-session-secret-0123456789-abcdefghij"
    asyncio.run(seed(db, [ADMIN_SUB, ADMIN_SUB], secret=old))
    revoke = ["sessions", "revoke", "--sub", ADMIN_SUB]
    # The sub's tag is an HMAC under the secret: without the old one, nothing matches.
    assert run_cli(revoke, capsys).out.startswith("revoked 0 sessions of user")
    monkeypatch.setenv("SESSION_SECRET_PREVIOUS", old)
    assert run_cli(revoke, capsys).out.startswith("revoked 2 sessions of user")


def test_sessions_show_the_store_without_its_password(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SESSION_STORE", "memory://")
    result = run_cli(["sessions", "count"], capsys)
    assert result == CliResult(
        0,
        "0 live sessions in memory:// (memory:// sessions live inside the server process; "
        "this command sees none)\n",
        "",
    )
    assert TEST_SECRET not in result.out + result.err


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
