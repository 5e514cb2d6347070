"""`make demo`: the app with the local ZITADEL-shaped development provider and a small demo API
behind API_ROUTES (``/api/demo``, devtools/demo_api.py), used by the SPA page ``/spa``.
Ctrl-C stops all three.

The provider is devtools/op/server.mjs (oidc-provider configured like ZITADEL); it is a local
development provider, not ZITADEL, and says so on every page it shows.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

import uvicorn

from zitadel_bff import load_settings
from zitadel_bff.app import configure_logging, create_app

from .demo_api import DemoAPI, serve_in_thread
from .provider import CLIENT_ID, CLIENT_SECRET, OPProcess

ROOT = Path(__file__).resolve().parent.parent

APP_PORT = int(os.environ.get("PORT", "3000"))
OP_PORT = int(os.environ.get("DEMO_OP_PORT", "9000"))
API_PORT = int(os.environ.get("DEMO_API_PORT", "8081"))
API_PREFIX = "/api/demo"
DATA = ROOT / "data"


def demo_secret() -> str:
    """A random secret kept in data/ so that demo sessions survive a restart."""
    path = DATA / "demo-session-secret"
    DATA.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


PORT_SETTINGS = (
    ("PORT", "the app"),
    ("DEMO_OP_PORT", "the provider"),
    ("DEMO_API_PORT", "the demo API"),
)


def taken_ports() -> list[str]:
    """A line per port the demo needs that something else already listens on."""
    problems = []
    for (variable, what), port in zip(PORT_SETTINGS, (APP_PORT, OP_PORT, API_PORT), strict=True):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                problems.append(
                    f"  port {port} ({what}) is in use: choose another with {variable}=<port>, "
                    f"e.g. {variable}={port + 1} make demo"
                )
    return problems


def main() -> int:
    problems = taken_ports()
    if problems:
        print("make demo: cannot start:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    app_url = f"http://127.0.0.1:{APP_PORT}"
    op = OPProcess(port=OP_PORT, app_ports=[APP_PORT], backchannel_port=APP_PORT)
    settings = load_settings(
        None,
        session_secret=demo_secret(),
        session_store=f"sqlite:///{DATA / 'demo-sessions.db'}",
        zitadel_domain=op.issuer,
        zitadel_client_id=CLIENT_ID,
        zitadel_client_secret=CLIENT_SECRET,
        zitadel_callback_url=f"{app_url}/auth/callback",
        zitadel_post_logout_url=f"{app_url}/auth/logout/callback",
        port=APP_PORT,
        api_routes=f"{API_PREFIX}=http://127.0.0.1:{API_PORT}",
    )
    configure_logging("INFO")
    op.start()
    api = serve_in_thread(DemoAPI(), API_PORT)
    try:
        print(
            f"""
  zitadel-bff demo
  ----------------
  App:       {app_url}    <- open this (use 127.0.0.1, not localhost: cookies are per host)
  Provider:  {op.issuer}  (LOCAL DEVELOPMENT PROVIDER - not a real ZITADEL)
  SPA:       {app_url}/spa  calls the demo API (127.0.0.1:{API_PORT}) at {API_PREFIX}
             through the BFF, which adds the access token

  Sign in as  admin  (has the admin role)  or  alice  (no admin role); no password.
  Ctrl-C stops the app, the demo API and the provider.
""",
            flush=True,
        )
        uvicorn.run(
            create_app(settings),
            host="127.0.0.1",
            port=APP_PORT,
            log_level="info",
            server_header=False,
            log_config=None,  # keep our logging set-up, with its query-string redaction
        )
    finally:
        api.should_exit = True
        op.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
