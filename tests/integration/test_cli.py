"""The console script against the development provider: ``check`` probing it, ``sessions`` on
sessions made by real sign-ins, and ``zitadel-bff serve`` run once as users run it, as a process.

The other commands and refusals run without a provider in tests/unit/app/test_cli.py.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from devtools.flows import login, logout
from devtools.provider import CLIENT_ID, CLIENT_SECRET, OPProcess

from tests.support.backchannel import session_alive
from tests.support.cli import CliResult, environment, run_cli, use_environment
from tests.support.clients import browser_client, session_cookie
from tests.support.server import AppFactory
from tests.support.sessions import ADMIN_SUB
from tests.support.settings import TEST_SECRET

BIN = Path(sys.executable).parent / "zitadel-bff"
START_TIMEOUT = 15.0
PORT = 3000


@pytest.mark.parametrize(
    ("secret", "kind"),
    [(CLIENT_SECRET, "confidential (client secret)"), ("", "public (PKCE, none)")],
    ids=["confidential", "public"],
)
def test_check_probes_discovery_and_prints_a_redacted_summary(
    op: OPProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    secret: str,
    kind: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    variables = environment(op.issuer, PORT, "sqlite:///cli.db", ZITADEL_CLIENT_SECRET=secret)
    use_environment(monkeypatch, variables)
    result = run_cli(["check"], capsys)
    assert (result.status, result.err) == (0, "")
    assert result.out.splitlines() == [
        "configuration OK",
        f"  issuer         {op.issuer}",
        f"  client         {CLIENT_ID} [{kind}]",
        f"  callback       http://127.0.0.1:{PORT}/auth/callback",
        f"  post-logout    http://127.0.0.1:{PORT}/auth/logout/callback",
        "  scopes         openid profile email offline_access urn:zitadel:iam:user:metadata "
        "urn:zitadel:iam:user:resourceowner urn:zitadel:iam:org:projects:roles",
        "  session store  sqlite:///cli.db",
        "  cookies        not Secure (http)",
        "  signing keys   1",
        f"  end_session    {op.issuer}/oidc/v1/end_session",
        f"  revocation     {op.issuer}/oauth/v2/revoke",
        f"  introspection  {op.issuer}/oauth/v2/introspect",
        "  organisation   any",
        "  idp hints      none",
        "  ui locales     from the browser",
    ]
    assert not (tmp_path / "cli.db").exists()  # check opens no store


def test_check_refuses_a_provider_that_names_another_issuer(
    op: OPProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    elsewhere = op.issuer.replace("127.0.0.1", "localhost")  # same server, another name
    use_environment(monkeypatch, environment(elsewhere, PORT, "sqlite:///cli.db"))
    assert run_cli(["check"], capsys) == CliResult(
        1,
        "",
        f"zitadel-bff: provider_misconfigured: discovery issuer '{op.issuer}' differs from "
        f"ZITADEL_DOMAIN '{elsewhere}'\n",
    )


def test_sessions_counts_and_revokes_the_sessions_of_real_sign_ins(
    start_app: AppFactory,
    op: OPProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = start_app()
    cookies: dict[str, list[str]] = {"admin": [], "alice": []}
    for user in ("admin", "alice", "admin"):
        with browser_client() as client:
            login(client, app.url, username=user)
            cookies[user].append(session_cookie(client))
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path}/sessions-{app.port}.db"  # the running app's store
    use_environment(monkeypatch, environment(op.issuer, app.port, store))
    not_purged = " (expired sessions not yet purged are not counted)"
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        0, f"3 live sessions in {store}{not_purged}\n", ""
    )
    revoke = run_cli(["sessions", "revoke", "--sub", ADMIN_SUB], capsys)
    assert revoke == CliResult(0, f"revoked 2 sessions of user {ADMIN_SUB} in {store}\n", "")
    assert [session_alive(app, c) for c in cookies["admin"] + cookies["alice"]] == [
        False,
        False,
        True,
    ]
    assert run_cli(["sessions", "count"], capsys) == CliResult(
        0, f"1 live session in {store}{not_purged}\n", ""
    )


# The one journey as a real process -------------------------------------------------------


@contextmanager
def serving(env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[str]]:
    """``zitadel-bff serve --access-log`` until it answers /readyz; stopped (SIGTERM) after."""
    url = f"http://127.0.0.1:{env['PORT']}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN), "serve", "--access-log"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _ready(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"zitadel-bff serve did not start: {log.read_text()}")
                time.sleep(0.1)  # polling a starting process, not waiting for an outcome
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz").status_code == 200
    except httpx.TransportError:
        return False


#: The module's access line: method, route template (never the query), status, duration, id.
ACCESS_LINE = re.compile(
    r" INFO zitadel_bff\.access: GET /auth/callback 303 [0-9.]+ ms \[request_id=[0-9a-f]{16}\]$",
    re.M,
)


def test_serve_runs_the_whole_journey(
    op: OPProcess,
    port_pool: queue.Queue[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = port_pool.get_nowait()
    variables = environment(op.issuer, port, f"sqlite:///{tmp_path}/cli.db")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("ZITADEL_", "SESSION_"))}
    log = tmp_path / "serve.log"
    try:
        with serving({**inherited, **variables}, tmp_path, log) as proc, browser_client() as client:
            url = f"http://127.0.0.1:{port}"
            login(client, url)
            profile = client.get(url + "/profile")
            assert profile.status_code == 200 and ADMIN_SUB in profile.text
            signed_out = logout(client, url)
            assert str(signed_out.response.request.url) == url + "/auth/logout/success"
            cookie_values = list(client.cookies.values())
            use_environment(monkeypatch, variables)
            count = run_cli(["sessions", "count"], capsys)
            assert (count.status, count.out.split(" in ")[0]) == (0, "0 live sessions")
            proc.terminate()
            # uvicorn shuts down cleanly, then ends itself by the signal it caught
            assert proc.wait(10) == -signal.SIGTERM
    finally:
        port_pool.put(port)
    output = log.read_text()
    assert ACCESS_LINE.search(output), output  # the access log ran, without the query string
    for secret in ["code=", "state=", TEST_SECRET, CLIENT_SECRET, *cookie_values]:
        assert secret not in output
    assert "Traceback" not in output
    assert " INFO uvicorn.error: Application shutdown complete.\n" in output



def test_check_lists_the_api_routes_and_the_gateway(
    op: OPProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    variables = environment(
        op.issuer,
        PORT,
        "sqlite:///cli.db",
        API_ROUTES="/api/orders=http://127.0.0.1:8081/v1/",
        UPSTREAM_URL="http://127.0.0.1:8000",
        PUBLIC_PATHS="/,/static",
    )
    use_environment(monkeypatch, variables)
    result = run_cli(["check"], capsys)
    assert (result.status, result.err) == (0, "")
    assert result.out.splitlines()[-2:] == [
        "  api route      /api/orders -> http://127.0.0.1:8081/v1",
        "  gateway        http://127.0.0.1:8000 (public: /,/static)",
    ]
