"""``zitadel-bff serve`` as operators run it: a subprocess configured by environment variables,
its output in a file the test reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from devtools.provider import CLIENT_ID, CLIENT_SECRET

from tests.support.settings import TEST_SECRET

BIN = Path(sys.executable).parent / "zitadel-bff"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def serve_env(issuer: str, port: int, store: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZITADEL_", "SESSION_", "LOG_", "METRICS_", "PROMETHEUS_"))}
    env.update(
        SESSION_SECRET=TEST_SECRET,
        ZITADEL_DOMAIN=issuer,
        ZITADEL_CLIENT_ID=CLIENT_ID,
        ZITADEL_CLIENT_SECRET=CLIENT_SECRET,
        ZITADEL_CALLBACK_URL=f"http://127.0.0.1:{port}/auth/callback",
        ZITADEL_POST_LOGOUT_URL=f"http://127.0.0.1:{port}/auth/logout/callback",
        ZITADEL_CLOCK_SKEW="0",
        SESSION_STORE=store,
        PORT=str(port),
    )
    env.update(extra)
    return env


class Served:
    """One ``zitadel-bff serve`` process; ``args`` are extra command-line arguments."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        self.env = env
        self.workdir = workdir
        self.args = args
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.log_path = workdir / f"serve-{env['PORT']}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> Served:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [str(BIN), "serve", *self.args], env=self.env, cwd=self.workdir,
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("zitadel-bff serve did not start:\n" + self.output()[-3000:])
            time.sleep(0.05)
        return self

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        """SIGTERM, as an orchestrator sends it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.terminate()
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
