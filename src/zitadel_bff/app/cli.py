"""The ``zitadel-bff`` command: serve, check, secret, sessions.

Every failure is one line on stderr, never a traceback; the exit status says which kind:
EXIT_CONFIG for a configuration that cannot work, EXIT_FAILURE for a failure at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import (
    BFFError,
    ConfigError,
    MetricsServer,
    SessionManager,
    SessionSettings,
    Settings,
    StoreUnavailable,
    ZitadelAuth,
    __version__,
    configure_logging,
    load_session_settings,
    load_settings,
)
from ..config import display_store_url
from ..observability import audit
from ..sessions import Keyring, TokenUpdate
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


def _open_store(settings: SessionSettings) -> Store | None:
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
        ("session store", display_store_url(settings.session_store)),
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


class _NoRefresher:
    """The sessions commands count and end sessions; they never load one, so never refresh."""

    async def refresh(self, refresh_token: str, *, sub: str) -> TokenUpdate:
        raise NotImplementedError("the sessions commands do not refresh sessions")


def _session_manager(settings: SessionSettings, store: Store) -> SessionManager:
    return SessionManager(
        store=store,
        # The previous secrets too: revoke finds sessions not yet moved to the current one.
        keyring=Keyring(settings.session_secret.get_secret_value(), settings.previous_secrets),
        refresher=_NoRefresher(),
        idle_timeout=settings.session_duration,
        max_lifetime=settings.session_max_lifetime,
    )


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _note(where: str, action: str) -> str:
    """What the number means in this store, so that a surprising one is not misread."""
    if where == "memory://":
        return " (memory:// sessions live inside the server process; this command sees none)"
    if action == "count":
        # SQLite keeps an expired record until a purge; Redis drops it at its expiry.
        return " (expired sessions not yet purged are not counted)"
    if action == "purge" and where.startswith("redis"):
        return " (Redis deletes expired records itself)"
    return ""


async def _count(manager: SessionManager, args: argparse.Namespace, where: str) -> str:
    return f"{_plural(await manager.count(), 'live session')} in {where}"


async def _purge(manager: SessionManager, args: argparse.Namespace, where: str) -> str:
    purged = await manager.store.purge_expired()
    return f"purged {_plural(purged, 'expired record')} from {where}"


async def _revoke(manager: SessionManager, args: argparse.Namespace, where: str) -> str:
    ended = await manager.end_by_sub(args.sub)
    audit("sessions_revoked", ended=ended)
    return f"revoked {_plural(ended, 'session')} of user {args.sub} in {where}"


SessionAction = Callable[[SessionManager, argparse.Namespace, str], Awaitable[str]]
#: ``zitadel-bff sessions <action>``: each says what it did, and where.
SESSION_ACTIONS: dict[str, SessionAction] = {"count": _count, "purge": _purge, "revoke": _revoke}


async def _sessions(settings: SessionSettings, store: Store, args: argparse.Namespace) -> int:
    where = display_store_url(settings.session_store)  # never its password
    try:
        done = await SESSION_ACTIONS[args.action](_session_manager(settings, store), args, where)
    finally:
        await store.close()
    print(done + _note(where, args.action))
    return 0


DESCRIPTION = """\
Sign users in with ZITADEL (OpenID Connect, code flow with PKCE) in front of
a web app, as a Backend for Frontend: the server keeps the tokens and the
session; the browser holds only an opaque session cookie."""
EPILOG = """\
Run `zitadel-bff <command> --help` for a command's details. Settings come
from environment variables and from .env in the current directory (or
--env-file); the environment wins.
Exit status: 0 done; 1 a failure at run time (provider or store unreachable);
2 a configuration that cannot work (one line per problem)."""
SERVE_DESCRIPTION = """\
Run the app with uvicorn. Needs the whole configuration (validate it first
with `zitadel-bff check`). On SIGTERM or Ctrl-C it stops accepting
connections and lets the requests in flight finish for up to
SHUTDOWN_TIMEOUT seconds."""
CHECK_DESCRIPTION = """\
Validate every variable, including settings a server would start with that
cannot work as meant (one line per problem, exit status 2). Then fetch the
provider's discovery document and signing keys (exit status 1 with what
failed: DNS name, refused connection, TLS, timeout, HTTP status, not a
discovery document), and print a summary without secrets."""
SESSIONS_DESCRIPTION = """\
Work on the sessions stored in SESSION_STORE (default
sqlite:///./data/sessions.db). Every action needs only SESSION_SECRET and
SESSION_STORE (SESSION_SECRET_PREVIOUS and LOG_* are read when set), none of
the ZITADEL_* variables; revoke also needs --sub."""


def _parser() -> argparse.ArgumentParser:
    parser = _command_parser(
        argparse.ArgumentParser, prog="zitadel-bff", description=DESCRIPTION, epilog=EPILOG
    )
    parser.add_argument("--version", action="version", version=f"zitadel-bff {__version__}")
    parser.add_argument(
        "--env-file",
        default=ENV_FILE,
        metavar="FILE",
        help="read variables from FILE instead of ./.env (the environment still wins)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    _serve_parser(sub)
    _command_parser(
        sub.add_parser,
        "check",
        help="validate the configuration and probe the provider",
        description=CHECK_DESCRIPTION,
    )
    _command_parser(
        sub.add_parser,
        "secret",
        help="print a new random SESSION_SECRET",
        description="Print a new random SESSION_SECRET (64 URL-safe characters). Reads nothing.",
    )
    _sessions_parser(sub)
    return parser


def _command_parser(
    make: Callable[..., argparse.ArgumentParser], *args: Any, **kwargs: Any
) -> argparse.ArgumentParser:
    """A parser whose description and epilog keep their paragraphs."""
    return make(*args, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def _serve_parser(sub: Any) -> None:
    serve = _command_parser(
        sub.add_parser, "serve", help="run the web app", description=SERVE_DESCRIPTION
    )
    serve.add_argument(
        "--host", help="address to listen on (default: HOST from the environment or .env)"
    )
    serve.add_argument(
        "--port", type=int, help="port to listen on (default: PORT from the environment or .env)"
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request with its request id (default: ACCESS_LOG; on with "
        "LOG_FORMAT=json)",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="processes serving the port (default 1); with METRICS_PORT this process serves "
        "the sum of their metrics",
    )


def _sessions_parser(sub: Any) -> None:
    sessions = _command_parser(
        sub.add_parser,
        "sessions",
        help="count, purge or revoke stored sessions",
        description=SESSIONS_DESCRIPTION,
    )
    actions = sessions.add_subparsers(dest="action", required=True, metavar="<action>")
    actions.add_parser(
        "count",
        help="print how many sessions are live (expired ones not yet purged are not counted)",
    )
    actions.add_parser(
        "purge",
        help="delete expired records (sessions, unfinished sign-ins); a running server also "
        "does this every 5 minutes",
    )
    revoke = actions.add_parser(
        "revoke",
        help="end every session of one user, at once (needs --sub)",
        description="End every session of one user here, including those sealed under "
        "SESSION_SECRET_PREVIOUS: the user's next request finds no session. ZITADEL is not "
        "contacted: the user's session there, and the refresh tokens it issued, stay valid.",
    )
    revoke.add_argument(
        "--sub",
        required=True,
        type=_user_id,
        help="the user's ZITADEL id (the sub claim, shown on /profile)",
    )


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _user_id(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must be a user id, e.g. 243864426485212398")
    return value.strip()


def _run_serve(args: argparse.Namespace) -> int:
    overrides = {"access_log": True} if args.access_log else {}
    settings = load_settings(args.env_file, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    # Open the store before anything starts: an unusable SQLite path is a configuration
    # error, said in one line, not a traceback from inside the server's lifespan.
    store = _open_store(settings)
    if store is None:
        return EXIT_CONFIG
    asyncio.run(store.close())  # a probe: the app opens its own in its lifespan
    return _serve(settings, args)


def _run_check(args: argparse.Namespace) -> int:
    settings = load_settings(args.env_file)
    problems = settings.check_problems()
    if problems:
        raise ConfigError(problems)
    configure_logging(settings.log_level, settings.log_format)
    return asyncio.run(_check(settings))


def _run_sessions(args: argparse.Namespace) -> int:
    settings = load_session_settings(args.env_file)
    configure_logging(settings.log_level, settings.log_format)
    store = _open_store(settings)
    if store is None:
        return EXIT_CONFIG
    return asyncio.run(_sessions(settings, store, args))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": _run_serve,
    "check": _run_check,
    "sessions": _run_sessions,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "secret":
        print(secrets.token_urlsafe(SECRET_BYTES))
        return 0
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"zitadel-bff: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BFFError as exc:
        print(f"zitadel-bff: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
