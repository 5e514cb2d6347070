"""A real redis-server on a free loopback port, for the Redis store tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from devtools.provider import free_port, stop_process

START_TIMEOUT = 10.0


def redis_required() -> bool:
    return bool(os.environ.get("E2E_REQUIRED") or os.environ.get("REDIS_REQUIRED"))


class RedisServer:
    """``options``: more redis-server options (``--requirepass``...). With ``tls`` the
    server listens for TLS only (the options must name its certificate and key files)."""

    def __init__(self, *options: str, tls: bool = False) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = (
            ["--port", "0", "--tls-port", str(self.port), *options]
            if tls
            else ["--port", str(self.port), *options]
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             *self.options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        stop_process(self.proc)

    def kill(self) -> None:
        """End the server the hard way (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(START_TIMEOUT)

    def restart(self) -> RedisServer:
        """Kill the server and start a new, empty one on the same port."""
        self.kill()
        return self.start()

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Stop the process (SIGSTOP): the kernel still accepts connections, nobody answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.proc.send_signal(signal.SIGCONT)
