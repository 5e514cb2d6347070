"""The results table, the target checks, results.json and the chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .chart import bar_chart

__all__ = ["check_targets", "print_report", "write_outputs"]

HELLO = "hello (bare Starlette)"
TEMPLATE = "profile template, no auth"
FASTAPI_TEMPLATE = "same template via FastAPI, no auth"
PROFILE = "GET /profile signed in"
STATIC = "GET /auth/static/app.css"
#: The auth-tax rows (bench/__main__.py).
PLAIN_PUBLIC = "plain FastAPI GET /api/public, no module"
PLAIN_ME = "plain FastAPI GET /api/me, no module"
LIBRARY_PUBLIC = "module installed, public JSON route"
LIBRARY_ME = "module installed, GET /api/me signed in"


def _routes(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    routes: dict[str, dict[str, Any]] = results.get("http", {}).get("routes", {})
    return routes


def check_targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target of issue 4; met is None when not measured."""
    out: list[tuple[str, str, bool | None]] = []
    routes = _routes(results)
    if routes:
        hello, tmpl = routes[HELLO]["rps"], routes[TEMPLATE]["rps"]
        prof, static = routes[PROFILE]["rps"], routes[STATIC]["rps"]
        out.append(("/profile >= 25% of hello", f"{prof / hello:.1%}", prof / hello >= 0.25))
        out.append(("/profile within 15% of template-only", f"{prof / tmpl:.1%} of it",
                    prof / tmpl >= 0.85))
        if FASTAPI_TEMPLATE in routes:
            fa = routes[FASTAPI_TEMPLATE]["rps"]
            out.append(("issue 8: /profile within 15% of the template via FastAPI",
                        f"{prof / fa:.1%} of it", prof / fa >= 0.85))
    tax = results.get("tax", {})
    if tax:
        for row, plain, share, label in (
            (LIBRARY_PUBLIC, PLAIN_PUBLIC, 0.90, "public JSON route >= 0.90 of the plain app"),
            (LIBRARY_ME, PLAIN_ME, 0.75, "signed-in GET /api/me >= 0.75 of the plain app"),
        ):
            if row in tax and plain in tax:
                ratio = tax[row]["rps"] / tax[plain]["rps"]
                out.append((f"issue 8: {label}", f"{ratio:.2f}", ratio >= share))
        out.append(("static >= 50% of hello", f"{static / hello:.1%}", static / hello >= 0.50))
    login = results.get("http", {}).get("login")
    if login:
        median = login["total"]["median_ms"]
        out.append(("login round trip median < 30 ms", f"{median} ms", median < 30))
    rss = results.get("http", {}).get("rss_mb", {})
    if rss.get("rounds"):
        peak, first = max(rss["rounds"]), rss["rounds"][0]
        out.append(("RSS < 100 MB after load", f"{peak} MiB", peak < 100))
        out.append(("RSS flat across rounds", f"{first} -> {rss['rounds'][-1]} MiB",
                    rss["rounds"][-1] - first <= 2.0))
    sqlite = results.get("stores", {}).get("sqlite", {})
    sizes = sorted(sqlite, key=int)
    if len(sizes) >= 2:
        small, big = sqlite[sizes[0]]["lookup"]["get"], sqlite[sizes[-1]]["lookup"]["get"]
        out.append((f"SQLite lookup p99 < 1 ms at {int(sizes[-1]):,}", f"{big['p99_us']} us",
                    big["p99_us"] < 1000))
        ratio = big["p99_us"] / small["p99_us"]
        out.append(("... and within 2x of the small store", f"{ratio:.1f}x", ratio <= 2))
    pauses = [(name, size, r["purge"]["max_pause_ms"])
              for name, by_size in results.get("stores", {}).items() if isinstance(by_size, dict)
              for size, r in by_size.items()
              if isinstance(r, dict) and "max_pause_ms" in r.get("purge", {})]
    if pauses:
        worst = max(pauses, key=lambda p: p[2])
        out.append(("purge pauses < 50 ms", f"worst {worst[2]} ms ({worst[0]}, {int(worst[1]):,})",
                    worst[2] < 50))
    return out


def _route_table(results: dict[str, Any]) -> list[str]:
    routes = _routes(results)
    if not routes:
        return []
    hello = routes[HELLO]["rps"]
    lines = ["| route | req/s | p50 ms | p99 ms | vs hello |", "|---|---:|---:|---:|---:|"]
    for name, r in routes.items():
        lines.append(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['rps'] / hello:.0%} |")
    return lines


def _store_table(results: dict[str, Any]) -> list[str]:
    stores = results.get("stores", {})
    lines = ["| store | sessions | get p50/p99 us | load p50/p99 us | creates/s | bytes/session "
             "| purge 10%: time, max pause |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ("sqlite", "memory", "redis"):
        for size, r in sorted(stores.get(name, {}).items(), key=lambda kv: int(kv[0])
                              if kv[0].isdigit() else 0):
            if not isinstance(r, dict) or "lookup" not in r:
                continue
            g, ld, p = r["lookup"]["get"], r["lookup"]["load"], r["purge"]
            purge = (f"{p['purge_s']} s, {p['max_pause_ms']} ms" if "max_pause_ms" in p
                     else "n/a (Redis TTLs)")
            lines.append(f"| {name} | {int(size):,} | {g['p50_us']} / {g['p99_us']} | "
                         f"{ld['p50_us']} / {ld['p99_us']} | {r['write']['creates_per_s']:,} | "
                         f"{r['bytes_per_session']:,} | {purge} |")
    return lines if len(lines) > 2 else []


def markdown(results: dict[str, Any]) -> str:
    parts = ["\n".join(_route_table(results))]
    login = results.get("http", {}).get("login")
    if login:
        rows = ["| login part | median ms | p95 ms |", "|---|---:|---:|"]
        rows += [f"| {k} | {v['median_ms']} | {v['p95_ms']} |" for k, v in login.items()
                 if "median_ms" in v]
        parts.append("\n".join(rows))
    rss = results.get("http", {}).get("rss_mb")
    if rss:
        parts.append(f"RSS (MiB): idle {rss['idle']}, after load {rss.get('after_load')}, "
                     f"after each round {rss.get('rounds')}")
    parts.append("\n".join(_store_table(results)))
    targets = ["| target | measured | met |", "|---|---|---|"]
    targets += [
        f"| {t} | {m} | {'-' if ok is None else 'yes' if ok else 'NO'} |"
        for t, m, ok in check_targets(results)
    ]
    parts.append("\n".join(targets))
    return "\n\n".join(p for p in parts if p)


def print_report(results: dict[str, Any]) -> None:
    print()
    print(markdown(results))


def write_outputs(results: dict[str, Any], json_path: Path, chart_path: Path) -> None:
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {json_path}")
    routes = _routes(results)
    if routes:
        hello = routes[HELLO]["rps"]
        bars = [(name, r["rps"], f"{r['rps']:,.0f} REQ/S  {r['rps'] / hello:.0%}")
                for name, r in routes.items()]
        machine = results.get("machine", {})
        title = (f"ZITADEL-BFF THROUGHPUT, 1 WORKER, WRK 2 THREADS 16 CONNECTIONS "
                 f"({machine.get('cores', '?')} CORES)")
        bar_chart(chart_path, title, bars)
        print(f"wrote {chart_path}")
