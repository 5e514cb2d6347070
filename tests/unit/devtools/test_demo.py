"""make demo's start-up checks: a taken port is named, with the variable that moves it."""

from __future__ import annotations

import socket

import pytest
from devtools import demo


def test_a_taken_port_is_named_with_how_to_choose_another(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setattr(demo, "OP_PORT", port)
        problems = demo.taken_ports()
    assert problems == [
        f"  port {port} (the provider) is in use: choose another with DEMO_OP_PORT=<port>, "
        f"e.g. DEMO_OP_PORT={port + 1} make demo"
    ]


def test_main_stops_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "taken_ports", lambda: ["  port 3000 (the app) is in use: ..."])
    assert demo.main() == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no banner
    assert captured.err == "make demo: cannot start:\n  port 3000 (the app) is in use: ...\n"
