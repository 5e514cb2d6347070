"""The API proxy under load: ``python -m bench.proxy`` (also part of ``make bench``).

One upstream process (devtools/demo_api.py, pure ASGI under uvicorn: uvloop, httptools, one
process) answers a small JSON object at ``/__small``. wrk fetches it three ways:

- directly;
- through nginx ``proxy_pass`` (Debian's nginx, one process, keep-alive to the upstream);
- through zitadel-bff's API proxy (``zitadel-bff serve``, API_ROUTES, a signed-in session
  cookie: the session lookup, the bearer token, its kept-alive connections to the upstream),
  with the app's CPU time per request (from /proc, so other load on the machine does not
  change it much).

Each at 16 connections (throughput) and at 1 connection (the latency each hop adds). The same
JSON from a FastAPI route (bench/upstream_fastapi.py, an API on the decided stack) is fetched
directly and through the proxy at 16 connections. Then the app's RSS is sampled every 20 ms
while 100 MB stream down and up through its proxy.
Writes bench/proxy-results.json when run on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from .http import Route, sign_in
from .servers import ROOT, VENV_BIN, AppProcess, free_port, rss_mb, start_provider
from .wrk import WrkResult, ensure_wrk, run_wrk

__all__ = ["main", "run_proxy"]

RESULTS = ROOT / "bench" / "proxy-results.json"
PREFIX = "/api/bench"
FASTAPI_PREFIX = "/api/fastapi"
STREAM_BYTES = 100 * 1024 * 1024
CHUNK = 64 * 1024
SAMPLE_EVERY = 0.02
NGINX_HTTP = """
    upstream api {{ server 127.0.0.1:{api}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
"""


def _upstream(module: str, port: int, workdir: Path) -> AppProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    argv = [str(VENV_BIN / "python"), "-m", module, "--port", str(port)]
    return AppProcess(argv, port, env, workdir, module.rsplit(".", 1)[-1])


class RSSSampler:
    """The peak RSS of one process while a block runs, sampled every SAMPLE_EVERY seconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> RSSSampler:
        self.peak = rss_mb(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _pieces() -> Iterator[bytes]:
    piece = bytes(CHUNK)
    for _ in range(STREAM_BYTES // CHUNK):
        yield piece


def _stream(app: AppProcess, cookie: str) -> dict[str, Any]:
    """RSS of the app before, during (peak) and after 100 MB down, then 100 MB up."""
    out: dict[str, Any] = {"idle_mb": round(rss_mb(app.pid), 1)}
    cookies = {"zbff_session": cookie}
    with httpx.Client(cookies=cookies, timeout=120) as client:
        token = client.get(app.url + "/auth/session").json()["csrf_token"]
        url = f"{app.url}{PREFIX}/__download?bytes={STREAM_BYTES}"
        with RSSSampler(app.pid) as sampler:
            start = time.perf_counter()
            with client.stream("GET", url) as resp:
                got = sum(len(chunk) for chunk in resp.iter_raw())
            seconds = time.perf_counter() - start
        assert got == STREAM_BYTES, got
        out["download"] = {"peak_mb": round(sampler.peak, 1),
                           "mb_per_s": round(STREAM_BYTES / seconds / 1e6)}
        with RSSSampler(app.pid) as sampler:
            start = time.perf_counter()
            resp = client.post(app.url + PREFIX + "/upload", content=_pieces(),
                               headers={"x-csrf-token": token,
                                        "content-length": str(STREAM_BYTES)})
            seconds = time.perf_counter() - start
        assert resp.json()["body_bytes"] == STREAM_BYTES
        out["upload"] = {"peak_mb": round(sampler.peak, 1),
                         "mb_per_s": round(STREAM_BYTES / seconds / 1e6)}
    out["after_mb"] = round(rss_mb(app.pid), 1)
    return out


def cpu_seconds(pid: int) -> float:
    """The user + system CPU time one process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    route: Route, *, connections: int, seconds: float, warmup: float, pid: int | None = None
) -> dict[str, Any]:
    resp = httpx.get(route.url, headers=route.headers, timeout=10)
    if resp.status_code != 200 or route.check not in resp.text:
        raise RuntimeError(f"{route.name}: {resp.status_code}, not the expected answer")
    threads = min(2, connections)
    run_wrk(route.url, seconds=warmup, headers=route.headers, threads=threads,
            connections=connections)
    before = cpu_seconds(pid) if pid is not None else 0.0
    result: WrkResult = run_wrk(route.url, seconds=seconds, headers=route.headers,
                                threads=threads, connections=connections)
    if result.unexpected or result.errors:
        raise RuntimeError(f"{route.name}: {result.unexpected} unexpected status(es), "
                           f"{result.errors} socket error(s)")
    out = result.as_dict()
    if pid is not None:  # what one request costs the app, whatever else runs on the machine
        out["app_cpu_us"] = round((cpu_seconds(pid) - before) * 1e6 / result.requests, 1)
    return out


def _measure_all(
    routes: list[Route],
    *,
    seconds: float,
    warmup: float,
    connections: tuple[int, ...] = (16, 1),
    app_pid: int | None = None,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for count in connections:
        for route in routes:
            name = f"{route.name}, {count} conn"
            print(f"- wrk {name} ({route.url})", flush=True)
            pid = app_pid if route.name.startswith("zitadel-bff") else None
            r = _measure(route, connections=count, seconds=seconds, warmup=warmup, pid=pid)
            results[name] = r
            cpu = f"   app CPU {r['app_cpu_us']} µs/request" if "app_cpu_us" in r else ""
            print(f"  {r['rps']:>9.0f} req/s   p50 {r['p50_ms']:.2f} ms   "
                  f"p99 {r['p99_ms']:.2f} ms{cpu}", flush=True)
    return results


def run_proxy(seconds: float, warmup: float, workdir: Path) -> dict[str, Any]:
    from devtools.nginx import NginxProcess

    ensure_wrk()
    workdir.mkdir(parents=True, exist_ok=True)
    app_port, api_port, nginx_port = free_port(), free_port(), free_port()
    fastapi_port = free_port()
    op = start_provider(app_port)
    started: list[Callable[[], None]] = [op.stop]
    try:
        for module, port in (("devtools.demo_api", api_port),
                             ("bench.upstream_fastapi", fastapi_port)):
            started.append(_upstream(module, port, workdir).start().stop)
        nginx = NginxProcess(NGINX_HTTP.format(api=api_port, port=nginx_port),
                             workdir / "nginx", [nginx_port]).start()
        started.append(nginx.stop)
        app = AppProcess.zitadel_bff(op, app_port, workdir)
        app.env["API_ROUTES"] = (f"{PREFIX}=http://127.0.0.1:{api_port},"
                                 f"{FASTAPI_PREFIX}=http://127.0.0.1:{fastapi_port}")
        app.env["PYTHONPATH"] = str(ROOT / "src")  # this checkout, whatever the venv points at
        app.start()
        started.append(app.stop)
        cookie, _ = sign_in(app)
        signed_in = {"Cookie": f"zbff_session={cookie}", "Accept": "application/json"}
        routes = [
            Route("direct", f"http://127.0.0.1:{api_port}/__small", {}, '"order"'),
            Route("nginx proxy_pass", f"http://127.0.0.1:{nginx_port}/__small", {}, '"order"'),
            Route("zitadel-bff API proxy", f"{app.url}{PREFIX}/__small", signed_in, '"order"'),
        ]
        out: dict[str, Any] = {
            "routes": _measure_all(routes, seconds=seconds, warmup=warmup, app_pid=app.pid)
        }
        fastapi_routes = [
            Route("FastAPI upstream direct", f"http://127.0.0.1:{fastapi_port}/__small", {},
                  '"order"'),
            Route("zitadel-bff API proxy to FastAPI", f"{app.url}{FASTAPI_PREFIX}/__small",
                  signed_in, '"order"'),
        ]
        out["routes"].update(
            _measure_all(fastapi_routes, seconds=seconds, warmup=warmup, connections=(16,),
                         app_pid=app.pid)
        )
        print("- streaming 100 MB through the API proxy", flush=True)
        out["stream"] = _stream(app, cookie)
        print(f"  {out['stream']}", flush=True)
        return out
    finally:
        for stop in reversed(started):
            stop()


def summary(results: dict[str, Any]) -> list[str]:
    """Markdown lines: the routes table and the ratios the issue asks for."""
    routes = results["routes"]
    lines = ["| route | conns | req/s | p50 ms | p99 ms | app CPU µs/req |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in routes.items():
        label, conns = name.rsplit(", ", 1)
        cpu = f"{r['app_cpu_us']:.0f}" if "app_cpu_us" in r else ""
        lines.append(f"| {label} | {conns.split()[0]} | {r['rps']:,.0f} | {r['p50_ms']:.2f} "
                     f"| {r['p99_ms']:.2f} | {cpu} |")
    direct, bff = routes["direct, 16 conn"], routes["zitadel-bff API proxy, 16 conn"]
    nginx = routes["nginx proxy_pass, 16 conn"]
    one = {k.rsplit(", ", 1)[0]: v for k, v in routes.items() if k.endswith(", 1 conn")}
    fa_direct = routes["FastAPI upstream direct, 16 conn"]
    fa_bff = routes["zitadel-bff API proxy to FastAPI, 16 conn"]
    lines += [
        "",
        f"- proxied / direct throughput: {bff['rps'] / direct['rps']:.0%} "
        f"(nginx: {nginx['rps'] / direct['rps']:.0%}); to the FastAPI upstream: "
        f"{fa_bff['rps'] / fa_direct['rps']:.0%}",
        "- p99 added at 1 connection: "
        f"{one['zitadel-bff API proxy']['p99_ms'] - one['direct']['p99_ms']:.2f} ms "
        f"(nginx: {one['nginx proxy_pass']['p99_ms'] - one['direct']['p99_ms']:.2f} ms); "
        f"at 16: {bff['p99_ms'] - direct['p99_ms']:.2f} ms "
        f"(nginx: {nginx['p99_ms'] - direct['p99_ms']:.2f} ms)",
    ]
    stream = results["stream"]
    down, up = stream["download"], stream["upload"]
    lines.append(
        f"- RSS streaming 100 MB: idle {stream['idle_mb']} MiB, peak {down['peak_mb']} MiB down"
        f" ({down['mb_per_s']} MB/s), {up['peak_mb']} MiB up ({up['mb_per_s']} MB/s),"
        f" after {stream['after_mb']} MiB"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zbff-proxy-bench-") as tmp:
        results = run_proxy(args.seconds, args.warmup, Path(tmp))
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
