"""The processes a benchmark drives: the test provider, the app as ``zitadel-bff serve`` runs it in
production, and the baseline apps; plus the process facts we report (RSS)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests/support is not an installed package
    sys.path.insert(0, str(ROOT))

from devtools.provider import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    OPProcess,
    free_port,
    stop_process,
)

__all__ = ["ROOT", "AppProcess", "OPProcess", "free_port", "rss_mb", "start_provider"]

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 20.0
SESSION_COOKIE = "zbff_session"


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {START_TIMEOUT} s")


def start_provider(app_port: int, *more_ports: int) -> OPProcess:
    ports = [app_port, *more_ports]
    return OPProcess(port=free_port(), app_ports=ports, backchannel_port=app_port).start()


@dataclass
class AppProcess:
    """A server subprocess on a loopback port; ``stop()`` ends exactly this process."""

    argv: list[str]
    port: int
    env: dict[str, str]
    cwd: Path
    what: str
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.cwd / f"{self.what}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> AppProcess:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(self.port, self.proc, self.what)
        except RuntimeError:
            self.stop()
            raise RuntimeError(
                f"{self.what} failed to start:\n{self.log.read_text()[-2000:]}"
            ) from None
        return self

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)

    @classmethod
    def zitadel_bff(cls, op: OPProcess, port: int, workdir: Path) -> AppProcess:
        """``zitadel-bff serve`` configured only by environment variables, as in production.

        The working directory is a fresh temporary one, so no ``.env`` is read.
        """
        base = f"http://127.0.0.1:{port}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "SESSION_SECRET": secrets.token_urlsafe(48),
            "ZITADEL_DOMAIN": op.issuer,
            "ZITADEL_CLIENT_ID": CLIENT_ID,
            "ZITADEL_CLIENT_SECRET": CLIENT_SECRET,
            "ZITADEL_CALLBACK_URL": f"{base}/auth/callback",
            "ZITADEL_POST_LOGOUT_URL": f"{base}/auth/logout/callback",
            "SESSION_STORE": f"sqlite:///{workdir / 'sessions.db'}",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
            # The package of this tree, whichever tree the venv's editable install points at.
            "PYTHONPATH": str(ROOT / "src"),
        }
        return cls([str(VENV_BIN / "zitadel-bff"), "serve"], port, env, workdir, "app")

    @classmethod
    def library(cls, which: str, op: OPProcess, port: int, workdir: Path) -> AppProcess:
        """bench/library.py: the README's library example (``library``) or the same API
        without the module (``plain``), configured like ``zitadel-bff serve``."""
        env = cls.zitadel_bff(op, port, workdir).env
        env["SESSION_STORE"] = f"sqlite:///{workdir / f'{which}.db'}"
        env["PYTHONPATH"] = os.pathsep.join((str(ROOT / "src"), str(ROOT)))
        argv = [sys.executable, "-m", "bench.library", which, "--port", str(port)]
        return cls(argv, port, env, workdir, which)

    @classmethod
    def baseline(cls, port: int, workdir: Path, claims_file: Path) -> AppProcess:
        """The baseline apps (bench/baseline.py) under the same uvicorn settings."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT))),
            "BENCH_CLAIMS": str(claims_file),
        }
        argv = [sys.executable, "-m", "bench.baseline", "--port", str(port)]
        return cls(argv, port, env, workdir, "baseline")
