"""Serve an ASGI app with uvicorn in a background thread, on a real loopback port."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import uvicorn

START_TIMEOUT = 10.0


class AppFactory(Protocol):
    """The ``start_app`` fixture: the demo app on a loopback port, against the test provider
    unless ``issuer`` names another; ``overrides`` are further settings."""

    def __call__(
        self, *, issuer: str | None = None, port: int | None = None, **overrides: Any
    ) -> ThreadedServer: ...


class ThreadedServer:
    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
