"""The ``zitadel-bff`` command: serve, check, secret, sessions."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import (
    BFFError,
    ConfigError,
    MetricsServer,
    Settings,
    StoreUnavailable,
    ZitadelAuth,
    __version__,
    configure_logging,
    load_settings,
)
from ..observability import audit
from .factory import ENV_FILE_VARIABLE

if TYPE_CHECKING:
    from .. import Store

__all__ = ["configure_logging", "main"]  # configure_logging: kept here for existing imports

ENV_FILE = ".env"
SECRET_BYTES = 48
#: Exit statuses: a failure at run time, and a configuration that cannot work (bad
#: variables, or a SESSION_STORE that cannot be opened).
EXIT_FAILURE = 1
EXIT_CONFIG = 2


#: prometheus-client's multiprocess directory, set for the workers before they start.
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _open_store(settings: Settings) -> Store | None:
    """Open SESSION_STORE, or say in one line why it cannot be opened and return None."""
    from .. import store_from_url

    try:
        return store_from_url(settings.session_store)
    except StoreUnavailable as exc:
        print(f"zitadel-bff: SESSION_STORE: {exc}", file=sys.stderr)
        return None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    """uvicorn in this process, or ``--workers N`` processes on one port. On SIGTERM (or
    Ctrl-C) uvicorn stops accepting connections, lets the requests in flight finish for up to
    SHUTDOWN_TIMEOUT seconds, then runs the lifespan's shutdown and exits."""
    import uvicorn

    from .factory import create_app

    options: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "access_log": False,  # the module's own access log has the request id and the route
        "server_header": False,
        "log_config": None,  # keep configure_logging's set-up
        "timeout_graceful_shutdown": settings.shutdown_timeout,
    }
    if args.workers == 1 and not os.environ.get(MULTIPROC_VARIABLE):
        uvicorn.run(create_app(settings), **options)
        return 0
    # Each worker builds its app from the environment, as this process did.
    os.environ[ENV_FILE_VARIABLE] = args.env_file
    if args.access_log:
        os.environ["ACCESS_LOG"] = "true"
    with _shared_metrics(settings):
        uvicorn.run(
            "zitadel_bff.app.factory:app_from_environment",
            factory=True,
            workers=args.workers,
            **options,
        )
    return 0


def _client_kind(settings: Settings) -> str:
    if settings.client_key is not None:
        return f"confidential (private_key_jwt, key {settings.client_key.key_id})"
    if settings.zitadel_client_secret.get_secret_value():
        return "confidential (client secret)"
    return "public (PKCE, none)"


@contextlib.contextmanager
def _shared_metrics(settings: Settings) -> Iterator[None]:
    """With METRICS_PORT and several workers: a fresh multiprocess directory for the workers'
    values (unless PROMETHEUS_MULTIPROC_DIR names one), served by this process as their sum."""
    if settings.metrics_port is None:
        yield
        return
    given = os.environ.get(MULTIPROC_VARIABLE)
    directory = given or tempfile.mkdtemp(prefix="zitadel-bff-metrics-")
    os.environ[MULTIPROC_VARIABLE] = directory
    server = MetricsServer(settings.metrics_port, settings.host)
    try:
        yield
    finally:
        server.close()
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


async def _check(settings: Settings) -> int:
    auth = ZitadelAuth(settings)
    try:
        meta = await auth.oidc.metadata()
        keys = await auth.oidc.signing_keys()
    finally:
        await auth.shutdown()
    kind = _client_kind(settings)
    print("configuration OK")
    for label, value in [
        ("issuer", meta.issuer),
        ("client", f"{settings.zitadel_client_id} [{kind}]"),
        ("callback", settings.zitadel_callback_url),
        ("post-logout", settings.zitadel_post_logout_url),
        ("scopes", settings.zitadel_scopes),
        ("session store", settings.session_store.split("@")[-1]),
        ("cookies", "Secure, __Host-" if settings.secure_cookies else "not Secure (http)"),
        ("signing keys", str(keys)),
        ("end_session", meta.end_session_endpoint or "not offered"),
        ("revocation", meta.revocation_endpoint or "not offered"),
        ("introspection", meta.introspection_endpoint or "not offered (no bearer-token APIs)"),
        ("organisation", settings.zitadel_org_id or settings.zitadel_org_domain or "any"),
        ("idp hints", settings.zitadel_idp_hints or "none"),
        ("ui locales", settings.zitadel_ui_locales or "from the browser"),
        *_proxy_summary(settings),
    ]:
        print(f"  {label:<14} {value}")
    return 0


def _proxy_summary(settings: Settings) -> list[tuple[str, str]]:
    """The API routes and the gateway, when configured (upstream URLs carry no secrets)."""
    lines = [("api route", f"{prefix} -> {url}") for prefix, url in settings.api_route_map.items()]
    if settings.upstream_url:
        public = settings.public_paths or "none"
        token = ", access token passed" if settings.upstream_pass_access_token else ""
        lines.append(("gateway", f"{settings.upstream_url} (public: {public}{token})"))
    return lines


async def _sessions(settings: Settings, store: Store, args: argparse.Namespace) -> int:
    auth = ZitadelAuth(settings, store=store)
    manager = auth.open_sessions()
    try:
        if args.action == "count":
            print(await manager.count())
        elif args.action == "purge":
            print(f"purged {await store.purge_expired()} expired record(s)")
        else:
            ended = await manager.end_by_sub(args.sub)
            audit("sessions_revoked", ended=ended)
            print(f"revoked {ended} session(s)")
    finally:
        await auth.shutdown()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zitadel-bff", description=__doc__)
    parser.add_argument("--version", action="version", version=f"zitadel-bff {__version__}")
    parser.add_argument("--env-file", default=ENV_FILE, help="read variables from this file too")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web app (HOST, PORT)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--access-log", action="store_true", help="one line per request (default with JSON logs)"
    )
    serve.add_argument(
        "--workers", type=_positive, default=1, help="processes serving the port (default 1)"
    )
    sub.add_parser("check", help="validate the configuration and probe discovery")
    sub.add_parser("secret", help="print a new SESSION_SECRET")
    sessions = sub.add_parser("sessions", help="count, purge or revoke stored sessions")
    sessions.add_argument("action", choices=["count", "purge", "revoke"])
    sessions.add_argument("--sub", help="with revoke: the ZITADEL user id")
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "secret":
        print(secrets.token_urlsafe(SECRET_BYTES))
        return 0
    if args.command == "sessions" and args.action == "revoke" and not args.sub:
        print("zitadel-bff: sessions revoke needs --sub", file=sys.stderr)
        return EXIT_CONFIG
    overrides = {"access_log": True} if args.command == "serve" and args.access_log else {}
    try:
        settings = load_settings(args.env_file, **overrides)
    except ConfigError as exc:
        print(f"zitadel-bff: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "check":
            return asyncio.run(_check(settings))
        # Open the store before anything starts: an unusable SQLite path is a configuration
        # error, said in one line, not a traceback from inside the server's lifespan.
        store = _open_store(settings)
        if store is None:
            return EXIT_CONFIG
        if args.command == "serve":
            asyncio.run(store.close())  # a probe: the app opens its own in its lifespan
            return _serve(settings, args)
        return asyncio.run(_sessions(settings, store, args))
    except BFFError as exc:
        print(f"zitadel-bff: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
