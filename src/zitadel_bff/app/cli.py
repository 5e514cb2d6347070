"""The ``zitadel-bff`` command: serve, check, secret, sessions."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import BFFError, ConfigError, Settings, StoreUnavailable, ZitadelAuth, load_settings

if TYPE_CHECKING:
    from .. import Store

__all__ = ["configure_logging", "main"]

ENV_FILE = ".env"
SECRET_BYTES = 48
#: Exit statuses: a failure at run time, and a configuration that cannot work (bad
#: variables, or a SESSION_STORE that cannot be opened).
EXIT_FAILURE = 1
EXIT_CONFIG = 2


class RedactQueryFilter(logging.Filter):
    """Drops query strings from access-log lines: callbacks carry codes and states."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def configure_logging(level: str) -> None:
    """Logging for the entry points (serve, the demo): one line per record, no secrets."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(RedactQueryFilter())
    # Authlib logs request details (including the PKCE verifier) at DEBUG: keep it quieter.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _open_store(settings: Settings) -> Store | None:
    """Open SESSION_STORE, or say in one line why it cannot be opened and return None."""
    from .. import store_from_url

    try:
        return store_from_url(settings.session_store)
    except StoreUnavailable as exc:
        print(f"zitadel-bff: SESSION_STORE: {exc}", file=sys.stderr)
        return None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from .factory import create_app

    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=args.access_log,
        server_header=False,
        log_config=None,  # keep configure_logging's set-up, with its query-string redaction
    )
    return 0


def _client_kind(settings: Settings) -> str:
    if settings.client_key is not None:
        return f"confidential (private_key_jwt, key {settings.client_key.key_id})"
    if settings.zitadel_client_secret.get_secret_value():
        return "confidential (client secret)"
    return "public (PKCE, none)"


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
            print(f"revoked {await manager.end_by_sub(args.sub)} session(s)")
    finally:
        await auth.shutdown()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zitadel-bff", description=__doc__)
    parser.add_argument("--env-file", default=ENV_FILE, help="read variables from this file too")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web app (HOST, PORT)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--access-log", action="store_true")
    sub.add_parser("check", help="validate the configuration and probe discovery")
    sub.add_parser("secret", help="print a new SESSION_SECRET")
    sessions = sub.add_parser("sessions", help="count, purge or revoke stored sessions")
    sessions.add_argument("action", choices=["count", "purge", "revoke"])
    sessions.add_argument("--sub", help="with revoke: the ZITADEL user id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "secret":
        print(secrets.token_urlsafe(SECRET_BYTES))
        return 0
    if args.command == "sessions" and args.action == "revoke" and not args.sub:
        print("zitadel-bff: sessions revoke needs --sub", file=sys.stderr)
        return EXIT_CONFIG
    try:
        settings = load_settings(args.env_file)
    except ConfigError as exc:
        print(f"zitadel-bff: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level)
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
