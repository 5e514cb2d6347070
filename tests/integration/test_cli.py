"""The console script, run as users run it: `zitadel-bff serve|check|secret|sessions`."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from devtools.flows import login, logout
from devtools.provider import CLIENT_ID, CLIENT_SECRET, OPProcess

from tests.support.clients import browser_client
from tests.support.settings import TEST_SECRET

BIN = Path(sys.executable).parent / "zitadel-bff"


def env_for(issuer: str, port: int, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZITADEL_", "SESSION_"))}
    env.update(
        SESSION_SECRET=TEST_SECRET,
        ZITADEL_DOMAIN=issuer,
        ZITADEL_CLIENT_ID=CLIENT_ID,
        ZITADEL_CLIENT_SECRET=CLIENT_SECRET,
        ZITADEL_CALLBACK_URL=f"http://127.0.0.1:{port}/auth/callback",
        ZITADEL_POST_LOGOUT_URL=f"http://127.0.0.1:{port}/auth/logout/callback",
        SESSION_STORE=f"sqlite:///{tmp_path}/cli.db",
        PORT=str(port),
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_secret_prints_a_fresh_secret(tmp_path: Path) -> None:
    first = run(["secret"], {**os.environ}, tmp_path).stdout.strip()
    second = run(["secret"], {**os.environ}, tmp_path).stdout.strip()
    assert len(first) >= 64 and first != second


def test_bad_configuration_lists_every_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZITADEL_", "SESSION_"))}
    env["SESSION_SECRET"] = "short"
    result = run(["check"], env, tmp_path)
    assert result.returncode == 2
    for name in ["SESSION_SECRET", "ZITADEL_DOMAIN", "ZITADEL_CLIENT_ID", "ZITADEL_CALLBACK_URL"]:
        assert name in result.stderr
    assert "Traceback" not in result.stderr


#: A provider nobody runs: for commands that must fail before they would reach it.
GONE = "http://127.0.0.1:9"


@pytest.mark.parametrize("command", [["serve"], ["sessions", "count"]])
def test_an_unusable_sqlite_store_stops_the_command_in_one_line(
    tmp_path: Path, port_pool: queue.Queue[int], command: list[str]
) -> None:
    (tmp_path / "file.txt").write_text("x")
    port = port_pool.get_nowait()
    try:
        store = f"sqlite:///{tmp_path}/file.txt/sessions.db"
        result = run(command, env_for(GONE, port, tmp_path, SESSION_STORE=store), tmp_path)
    finally:
        port_pool.put(port)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"zitadel-bff: SESSION_STORE: cannot create directory {tmp_path}/file.txt: "
        "a file of that name exists"
    ]


def test_serve_names_why_sqlite_cannot_open_the_database(
    tmp_path: Path, port_pool: queue.Queue[int]
) -> None:
    (tmp_path / "sessions.db").mkdir()
    port = port_pool.get_nowait()
    try:
        store = f"sqlite:///{tmp_path}/sessions.db"
        result = run(["serve"], env_for(GONE, port, tmp_path, SESSION_STORE=store), tmp_path)
    finally:
        port_pool.put(port)
    assert (result.returncode, result.stderr) == (
        2,
        f"zitadel-bff: SESSION_STORE: cannot open SQLite database {tmp_path}/sessions.db: "
        "is a directory\n",
    )


def test_check_probes_discovery(op: OPProcess, tmp_path: Path, app_ports: list[int]) -> None:
    result = run(["check"], env_for(op.issuer, app_ports[-1], tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout and op.issuer in result.stdout
    assert CLIENT_SECRET not in result.stdout and TEST_SECRET not in result.stdout


def test_check_reports_an_unreachable_provider(tmp_path: Path, app_ports: list[int]) -> None:
    result = run(["check"], env_for(GONE, app_ports[-1], tmp_path, ZITADEL_TIMEOUT="2"), tmp_path)
    assert result.returncode == 1
    assert "provider_unavailable" in result.stderr and "Traceback" not in result.stderr


def test_env_file_is_read_from_the_working_directory(
    op: OPProcess, tmp_path: Path, app_ports: list[int]
) -> None:
    env = env_for(op.issuer, app_ports[-1], tmp_path)
    dotenv = "\n".join(f"{k}={env.pop(k)}" for k in list(env) if k.startswith("ZITADEL_"))
    (tmp_path / ".env").write_text(dotenv + "\n")
    result = run(["check"], env, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def served(op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path) -> Iterator[str]:
    port = port_pool.get_nowait()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(BIN), "serve", "--access-log"],
        env=env_for(op.issuer, port, tmp_path),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("zitadel-bff serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        port_pool.put(port)


def test_serve_runs_the_whole_journey(served: str, op: OPProcess, tmp_path: Path) -> None:
    with browser_client() as client:
        login(client, served)
        profile = client.get(served + "/profile")
        assert profile.status_code == 200 and "301234567890123456" in profile.text
        result = logout(client, served)
        assert str(result.response.request.url) == served + "/auth/logout/success"
        cookie_values = list(client.cookies.values())
    time.sleep(0.2)
    output = (tmp_path / "serve.log").read_text()
    assert "GET /auth/callback " in output  # the access log ran, without its query string
    for secret in ["code=", "state=", TEST_SECRET, CLIENT_SECRET, *cookie_values]:
        assert secret not in output
    assert "Traceback" not in output
    env = env_for(op.issuer, 1, tmp_path)
    assert run(["sessions", "count"], env, tmp_path).stdout.strip() == "0"


def test_sessions_command(served: str, op: OPProcess, tmp_path: Path) -> None:
    for user in ("admin", "admin", "alice"):
        with browser_client() as client:
            login(client, served, username=user)
    env = env_for(op.issuer, 1, tmp_path)
    assert run(["sessions", "count"], env, tmp_path).stdout.strip() == "3"
    revoked = run(["sessions", "revoke", "--sub", "301234567890123456"], env, tmp_path)
    assert revoked.stdout.strip() == "revoked 2 session(s)"
    assert run(["sessions", "count"], env, tmp_path).stdout.strip() == "1"
    assert "purged" in run(["sessions", "purge"], env, tmp_path).stdout
    assert run(["sessions", "revoke"], env, tmp_path).returncode == 2
