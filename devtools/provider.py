"""Start and stop the ZITADEL-shaped development provider (op/server.mjs) as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

OP_DIR = Path(__file__).resolve().parent / "op"
READY_PREFIX = "OP ready "
CLIENT_ID = "243864426485212395@zitadel-bff"
CLIENT_SECRET = "dev-client-secret-not-for-production"
START_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 5) -> None:
    """Terminate a child process, killing it if it does not exit within ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def ensure_node_modules() -> None:
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=OP_DIR, check=True)


@dataclass
class OPProcess:
    """One provider process. ``app_ports`` are the app ports whose callback URIs it accepts."""

    port: int
    app_ports: Iterable[int]
    backchannel_port: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OPProcess:
        ensure_node_modules()
        ports = list(self.app_ports)
        env = {
            **os.environ,
            "OP_HOST": "127.0.0.1",
            "OP_PORT": str(self.port),
            "OP_REDIRECT_URIS": ",".join(f"http://127.0.0.1:{p}/auth/callback" for p in ports),
            "OP_POST_LOGOUT_REDIRECT_URIS": ",".join(
                f"http://127.0.0.1:{p}/auth/logout/callback" for p in ports
            ),
            "OP_BACKCHANNEL_LOGOUT_URI": (
                f"http://127.0.0.1:{self.backchannel_port}/auth/backchannel-logout"
                if self.backchannel_port
                else ""
            ),
            **self.env,
        }
        self.proc = subprocess.Popen(
            ["node", str(OP_DIR / "server.mjs")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        ready = threading.Event()

        def wait_ready() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.startswith(READY_PREFIX):
                    ready.set()

        threading.Thread(target=wait_ready, daemon=True).start()
        if not ready.wait(START_TIMEOUT):
            self.stop()
            raise RuntimeError("test OP did not start:\n" + "".join(self.stderr_lines[-20:]))
        return self

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self.stderr_lines.append(line)
            del self.stderr_lines[:-200]

    def stop(self) -> None:
        stop_process(self.proc)

    # /__test__/ control endpoints ---------------------------------------------------------

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = httpx.request(method, f"{self.issuer}/__test__/{path}", timeout=10, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "stats")
        return result

    @contextmanager
    def introspection_aud(self, *audiences: str) -> Iterator[None]:
        """Introspection answers name ``audiences`` in aud inside the block (ZITADEL's own
        [client id, project id] after it)."""
        self.control("POST", "introspection-aud", data={"aud": ",".join(audiences)})
        try:
            yield
        finally:
            self.control("POST", "introspection-aud", data={"aud": ""})

    def authorize_requests(self) -> list[dict[str, str]]:
        """The parameters of every authorize request since the last reset, oldest first."""
        requests: list[dict[str, str]] = self.stats()["authorize_requests"]
        return requests

    def reset_stats(self) -> None:
        self.control("POST", "stats/reset")

    def revoke_user(self, sub: str) -> int:
        return int(self.control("POST", "revoke", params={"sub": sub})["revoked"])

    def revoke_access_token(self, token: str) -> int:
        """Destroy one access token only; its grant and refresh token stay valid."""
        return int(self.control("POST", "revoke-access-token", data={"token": token})["revoked"])

    def sessions(self, sub: str) -> int:
        return int(self.control("GET", "sessions", params={"sub": sub})["active"])

    def token_active(self, token: str) -> bool:
        return bool(self.control("POST", "token-active", data={"token": token})["active"])

    def logout_token(self, **claims: Any) -> str:
        return str(self.control("POST", "logout-token", json=claims)["logout_token"])

    def rotate_keys(self, back: bool = False) -> None:
        self.control("POST", "rotate-keys", params={"back": "1"} if back else {})

    @contextmanager
    def access_token_ttl(self, seconds: int) -> Iterator[None]:
        """Access tokens issued inside the block live ``seconds``; the old lifetime after it."""
        previous = self.control("POST", "access-token-ttl", params={"seconds": seconds})["previous"]
        try:
            yield
        finally:
            self.control("POST", "access-token-ttl", params={"seconds": previous})

    @contextmanager
    def token_delay(self, ms: int) -> Iterator[None]:
        """The token endpoint answers ``ms`` late inside the block."""
        previous = self.control("POST", "token-delay", params={"ms": ms})["previous"]
        try:
            yield
        finally:
            self.control("POST", "token-delay", params={"ms": previous})
