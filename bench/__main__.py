"""``python -m bench``: every benchmark in one run; prints a table, writes bench/results.json
and docs/bench.png.

Options: ``--seconds`` per wrk run (10), ``--warmup`` (3), ``--sign-ins`` (50), ``--rounds`` of
the memory test (5), ``--sessions`` sizes for the store test (1000,1000000), ``--record-bytes``
of its records (the HTTP part's measured size, else 1,500), ``--skip-stores``, ``--skip-http``,
``--skip-proxy`` (the API proxy vs direct vs nginx, bench/proxy.py).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .report import LIBRARY_ME, LIBRARY_PUBLIC, PLAIN_ME, PLAIN_PUBLIC
from .servers import ROOT, AppProcess, free_port, rss_mb, start_provider

RESULTS = ROOT / "bench" / "results.json"

CHART = ROOT / "docs" / "bench.png"


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal:"))
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        text = out.stdout or out.stderr
        wrk_version = text.splitlines()[0] if text else ""
    import sqlite3

    import uvicorn

    return {
        "cpu": cpu,
        "cores": len([ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("processor")]),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uvicorn": uvicorn.__version__,
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _record_bytes(db: Path) -> int:
    """Size of the sealed session record the app stored for the benchmark user."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT max(length(value)) FROM records WHERE key LIKE 's:%'").fetchone()
    return int(row[0])


def _http(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from .http import (
        Route,
        login_round_trip,
        measure_interleaved,
        memory_rounds,
        sign_in,
        write_claims,
    )
    from .wrk import ensure_wrk, run_wrk

    ensure_wrk()
    app_port, base_port = free_port(), free_port()
    op = start_provider(app_port)
    app = baseline = None
    try:
        app = AppProcess.zitadel_bff(op, app_port, workdir).start()
        time.sleep(0.5)
        out: dict[str, Any] = {"rss_mb": {"idle": round(rss_mb(app.pid), 1)}}
        cookie, profile_html = sign_in(app)
        out["record_bytes"] = _record_bytes(workdir / "sessions.db")
        claims_file = workdir / "claims.json"
        write_claims(profile_html, claims_file)
        baseline = AppProcess.baseline(base_port, workdir, claims_file).start()
        signed_in = {"Accept": "text/html", "Cookie": f"zbff_session={cookie}"}
        html = {"Accept": "text/html"}
        routes = [
            Route("hello (bare Starlette)", f"{baseline.url}/hello", {}, "hello"),
            Route("profile template, no auth", f"{baseline.url}/profile", html, 'id="sub"'),
            Route("same template via FastAPI, no auth", f"{baseline.url}/fastapi/profile", html,
                  'id="sub"'),
            Route("GET / signed out", f"{app.url}/", html, "Sign in"),
            Route("GET /profile signed in", f"{app.url}/profile", signed_in, 'id="sub"'),
            Route("GET /auth/static/app.css", f"{app.url}/auth/static/app.css", {}, "{"),
        ]
        # Rounds of shorter runs, the routes taking turns: the ratios between them are what
        # the targets are about, and a noisy minute then hits every route alike.
        results = measure_interleaved(routes, seconds=max(2.0, args.seconds / 2),
                                      warmup=args.warmup, rounds=args.tax_rounds)
        out["routes"] = {name: r.as_dict() for name, r in results.items()}
        out["rss_mb"]["after_load"] = round(rss_mb(app.pid), 1)

        print(f"- login round trip: {args.sign_ins} sign-ins", flush=True)
        out["login"] = login_round_trip(app, op, count=args.sign_ins)
        print(f"  median {out['login']['total']['median_ms']} ms, "
              f"p95 {out['login']['total']['p95_ms']} ms", flush=True)

        print(f"- memory: {args.rounds} rounds of load", flush=True)
        per_round = max(2.0, args.seconds / 2)

        def load() -> None:
            run_wrk(routes[4].url, seconds=per_round, headers=signed_in)
            run_wrk(routes[3].url, seconds=per_round, headers=html)
            login_round_trip(app, op, count=10, warmup=0)

        out["rss_mb"]["rounds"] = memory_rounds(app, load, args.rounds)
        return out
    finally:
        for proc in (baseline, app):
            if proc is not None:
                proc.stop()
        op.stop()


def _tax(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The auth tax (issue 8): the README's library example against the same API without it."""
    from .http import Route, measure_interleaved, sign_in
    from .wrk import ensure_wrk

    ensure_wrk()
    lib_port, plain_port = free_port(), free_port()
    op = start_provider(lib_port)
    library = plain = None
    try:
        library = AppProcess.library("library", op, lib_port, workdir).start()
        plain = AppProcess.library("plain", op, plain_port, workdir).start()
        cookie, _ = sign_in(library, landing="/")
        # Every row sends the same request headers: a browser sends its cookie to every route.
        headers = {"Accept": "application/json", "Cookie": f"zbff_session={cookie}"}
        routes = [
            Route(PLAIN_PUBLIC, f"{plain.url}/api/public", headers, '"sub"'),
            Route(LIBRARY_PUBLIC, f"{library.url}/api/public", headers, '"sub"'),
            Route(PLAIN_ME, f"{plain.url}/api/me", headers, '"sub"'),
            Route(LIBRARY_ME, f"{library.url}/api/me", headers, '"sub"'),
        ]
        # Rounds of shorter runs, taking turns (the ratios are what the targets are about).
        results = measure_interleaved(routes, seconds=max(2.0, args.seconds / 2),
                                      warmup=args.warmup, rounds=args.tax_rounds)
        return {name: r.as_dict() for name, r in results.items()}
    finally:
        for proc in (plain, library):
            if proc is not None:
                proc.stop()
        op.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--sign-ins", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", default="1000,1000000")
    parser.add_argument("--record-bytes", type=int, default=None,
                        help="sealed record size for the store test (default: the size the "
                             "HTTP part measured, else 1,500)")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-stores", action="store_true")
    parser.add_argument("--only-tax", action="store_true", help="only the auth-tax rows")
    parser.add_argument("--tax-rounds", type=int, default=5,
                        help="rounds of the route rows (auth tax and pages), each run half of "
                             "--seconds; each row's median run is kept (default 5)")
    parser.add_argument("--skip-proxy", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--chart", type=Path, default=CHART)
    args = parser.parse_args(argv)

    from .report import print_report, write_outputs

    results: dict[str, Any] = {"machine": _machine(), "settings": {
        "wrk": {"threads": 2, "connections": 16, "seconds": args.seconds, "warmup": args.warmup},
    }}
    with tempfile.TemporaryDirectory(prefix="zbff-bench-") as tmp:
        if args.only_tax:
            tax = _tax(args, Path(tmp))
            for name, row in tax.items():
                print(f"{name:<45} {row['rps']:>9.0f} req/s  p99 {row['p99_ms']:.2f} ms")
            for row, plain in ((LIBRARY_PUBLIC, PLAIN_PUBLIC), (LIBRARY_ME, PLAIN_ME)):
                print(f"{row}: {tax[row]['rps'] / tax[plain]['rps']:.2f} of the plain app")
            return 0
        if not args.skip_http:
            results["tax"] = _tax(args, Path(tmp))
            results["http"] = _http(args, Path(tmp))
        if not args.skip_stores:
            from .stores import run_stores

            sizes = [int(s) for s in args.sessions.split(",") if s]
            value_size = args.record_bytes or results.get("http", {}).get("record_bytes")
            results["stores"] = run_stores(sizes, Path(tmp), value_size=value_size)
        if not args.skip_proxy:
            from .proxy import run_proxy, summary

            results["proxy"] = run_proxy(args.seconds, args.warmup, Path(tmp) / "proxy")
            print("\n".join(summary(results["proxy"])), flush=True)
    print_report(results)
    write_outputs(results, args.results, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
