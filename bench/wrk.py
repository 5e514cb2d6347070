"""Run wrk (2 threads, 16 connections by default) and read its numbers through a Lua script.

The script counts every response whose status is not the expected one (wrk itself only counts
non-2xx/3xx, and a 303 to the login page is 3xx), and prints the latency percentiles.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["WrkResult", "ensure_wrk", "run_wrk"]

LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= %(status)d then bad = bad + 1 end
end
function done(summary, latency, requests)
  local unexpected = 0
  for _, t in ipairs(threads) do unexpected = unexpected + t:get("bad") end
  local e = summary.errors
  io.write(string.format("BENCH requests=%%d duration_us=%%d p50_us=%%d p90_us=%%d p99_us=%%d "
    .. "max_us=%%d unexpected=%%d errors=%%d bytes=%%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, unexpected,
    e.connect + e.read + e.write + e.timeout, summary.bytes))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    unexpected: int
    errors: int
    bytes_per_response: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when running as root, else says how."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing it with apt-get (Debian package 'wrk')", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("bench: wrk is missing; install it with `sudo apt-get install -y wrk` "
             "(or build it from https://github.com/wg/wrk) and run `make bench` again")


def _parse(output: str) -> WrkResult:
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    raw = {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    seconds = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        seconds=round(seconds, 2),
        rps=round(raw["requests"] / seconds, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        unexpected=raw["unexpected"],
        errors=raw["errors"],
        bytes_per_response=round(raw["bytes"] / max(1, raw["requests"]), 1),
    )


def run_wrk(
    url: str,
    *,
    seconds: float,
    threads: int = 2,
    connections: int = 16,
    headers: dict[str, str] | None = None,
    expect_status: int = 200,
) -> WrkResult:
    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"status": expect_status})
    try:
        argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "-s", script.name]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(url)
        out = subprocess.run(argv, capture_output=True, text=True, check=True,
                             timeout=seconds + 30)
        return _parse(out.stdout)
    finally:
        Path(script.name).unlink(missing_ok=True)
