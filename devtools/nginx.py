"""Run Debian's real nginx (``/usr/sbin/nginx``) as a child process with a generated config.

One process, in the foreground (``daemon off; master_process off``), everything it writes
(pid, error log, temp files) in its own directory; used by the browser tests (``auth_request``
in front of an app) and the proxy benchmark (``proxy_pass``). ``stop()`` ends exactly this
process.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .provider import stop_process

__all__ = ["NGINX", "NginxProcess", "nginx_binary"]

NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 10.0

MAIN_CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log {log_level};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
{http}
}}
"""


def nginx_binary() -> str | None:
    """The nginx binary: Debian's, or one on PATH; None when there is none."""
    if Path(NGINX).exists():
        return NGINX
    return shutil.which("nginx")


@dataclass
class NginxProcess:
    """nginx serving ``http`` (the inside of the ``http {}`` block: servers, upstreams)
    from ``workdir``; ``ports`` are the ports it listens on (waited for at start)."""

    http: str
    workdir: Path
    ports: Iterable[int]
    log_level: str = "warn"
    proc: subprocess.Popen[bytes] | None = None
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.workdir / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def start(self) -> NginxProcess:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            MAIN_CONFIG.format(dir=self.workdir, log_level=self.log_level, http=self.http)
        )
        argv = [binary, "-p", str(self.workdir), "-c", str(self.config), "-e",
                str(self.error_log)]
        check = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused its config:\n{check.stderr}")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for port in self.ports:
            self._wait_for(port)
        return self

    def _wait_for(self, port: int) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {port}:\n{self.log()}")

    def log(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)
