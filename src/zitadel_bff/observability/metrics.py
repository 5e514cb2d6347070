"""Prometheus metrics (prometheus-client), served on their own port (METRICS_PORT).

``Metrics`` holds every metric of one app in its own registry, with the labelled children made
once at start, so that recording costs no label lookup. :data:`NO_METRICS` has the same methods
and records nothing: the default. prometheus-client is imported only when metrics are on.

Several workers: ``zitadel-bff serve --workers N`` points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before the workers start; each worker's values go to files there, and the supervisor
serves their sum (prometheus-client's multiprocess mode; see :func:`multiprocess_dir`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Iterable, Iterator
from importlib import metadata
from typing import Any

__all__ = ["NO_METRICS", "Metrics", "MetricsServer", "multiprocess_dir"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Refresh outcomes: new tokens; refused (the session ended); the provider could not be reached
#: (the session kept); another instance held the refresh lock too long.
REFRESH_OUTCOMES = ("success", "refused", "error", "lock_timeout")
BACKCHANNEL_OUTCOMES = ("accepted", "rejected")
PROVIDER_ENDPOINTS = ("discovery", "jwks", "token", "userinfo", "revocation", "introspection")
STORE_OPERATIONS = (
    "get", "get_and_touch", "set", "update", "touch", "delete", "pop", "add", "delete_tagged",
    "count", "purge_expired", "ping", "lock",
)
#: Provider calls take milliseconds to seconds; store operations microseconds to milliseconds.
PROVIDER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)
PREFIX = "zitadel_bff_"


def multiprocess_dir() -> str | None:
    """The multiprocess directory when several processes share the metrics, else None."""
    return os.environ.get(MULTIPROC_ENV) or None


def _version() -> str:
    try:
        return metadata.version("zitadel-bff")
    except metadata.PackageNotFoundError:
        return "unknown"


class NullMetrics:
    """Records nothing; every app has this unless METRICS_PORT is set."""

    enabled = False

    def sign_in(self) -> None:
        return None

    def sign_in_failed(self, code: str) -> None:
        return None

    def sign_out(self) -> None:
        return None

    def refresh(self, outcome: str) -> None:
        return None

    def backchannel(self, outcome: str) -> None:
        return None

    def provider_call(self, endpoint: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def store_seconds(self, operation: str, seconds: float) -> None:
        return None

    def proxied(self, route: str, status: int) -> None:
        return None


NO_METRICS = NullMetrics()


class Metrics(NullMetrics):
    """Every metric of one app, in ``self.registry``."""

    enabled = True

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self._sign_ins = Counter(
            PREFIX + "sign_ins_total", "Completed sign-ins (new sessions).", registry=reg
        )
        self._sign_in_failures = Counter(
            PREFIX + "sign_in_failures_total", "Failed sign-ins, by error code.", ["code"],
            registry=reg,
        )
        self._sign_outs = Counter(
            PREFIX + "sign_outs_total", "Sign-outs that ended a session.", registry=reg
        )
        refreshes = Counter(
            PREFIX + "refreshes_total", "Token refreshes, by outcome.", ["outcome"], registry=reg
        )
        self._refreshes = {o: refreshes.labels(o) for o in REFRESH_OUTCOMES}
        backchannel = Counter(
            PREFIX + "backchannel_logouts_total", "Back-channel logout requests, by outcome.",
            ["outcome"], registry=reg,
        )
        self._backchannel = {o: backchannel.labels(o) for o in BACKCHANNEL_OUTCOMES}
        provider = Histogram(
            PREFIX + "provider_request_duration_seconds",
            "Calls to the OpenID Provider, by endpoint.", ["endpoint"],
            buckets=PROVIDER_BUCKETS, registry=reg,
        )
        self._provider = {e: provider.labels(e) for e in PROVIDER_ENDPOINTS}
        store = Histogram(
            PREFIX + "store_operation_duration_seconds",
            "Session store operations, by operation.", ["operation"],
            buckets=STORE_BUCKETS, registry=reg,
        )
        self._store = {op: store.labels(op) for op in STORE_OPERATIONS}
        self._proxy = Counter(
            PREFIX + "proxy_requests_total",
            "Requests the API proxy and the gateway answered, by route and status.",
            ["route", "status"], registry=reg,
        )
        # (route, status) -> child: made at the first such answer, then looked up.
        self._proxied: dict[tuple[str, int], Any] = {}
        build = Gauge(
            PREFIX + "build_info", "The running version (always 1).", ["version", "python"],
            registry=reg, multiprocess_mode="max",
        )
        build.labels(_version(), platform.python_version()).set(1)

    def prime_failure_codes(self, codes: Iterable[str]) -> None:
        """Show these failure codes at 0 before they first happen."""
        for code in codes:
            self._sign_in_failures.labels(code)

    def sign_in(self) -> None:
        self._sign_ins.inc()

    def sign_in_failed(self, code: str) -> None:
        self._sign_in_failures.labels(code).inc()

    def sign_out(self) -> None:
        self._sign_outs.inc()

    def refresh(self, outcome: str) -> None:
        self._refreshes[outcome].inc()

    def backchannel(self, outcome: str) -> None:
        self._backchannel[outcome].inc()

    @contextlib.contextmanager
    def provider_call(self, endpoint: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._provider[endpoint].observe(time.perf_counter() - start)

    def store_seconds(self, operation: str, seconds: float) -> None:
        self._store[operation].observe(seconds)

    def proxied(self, route: str, status: int) -> None:
        child = self._proxied.get((route, status))
        if child is None:
            child = self._proxied[(route, status)] = self._proxy.labels(route, str(status))
        child.inc()


class MetricsServer:
    """The metrics endpoint on its own port: this process's registry, or with several workers
    the sum of every worker's files in the multiprocess directory."""

    def __init__(self, port: int, host: str, registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        if registry is None:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
