"""Configuration: one typed settings object read from the environment (and optionally `.env`).

Nothing is read at import time. Build it with :func:`load_settings`, which raises
:class:`~zitadel_bff.errors.ConfigError` listing every bad variable with its reason.

Layout: ``values`` (URLs, path prefixes, API routes), ``stores`` (SESSION_STORE URLs),
``problems`` (the messages of bad values), ``settings`` (Settings and SessionSettings, their
loaders).
"""

from .settings import (
    CALLBACK_PATH,
    DEFAULT_SCOPES,
    ORG_DOMAIN_SCOPE,
    ORG_ID_SCOPE,
    PLACEHOLDER_CLIENT_ID,
    PLACEHOLDER_DOMAIN,
    PLACEHOLDER_SECRET,
    SessionSettings,
    Settings,
    load_session_settings,
    load_settings,
)
from .stores import display_store_url, split_hosts
from .values import (
    RESERVED_PATHS,
    is_loopback_host,
    parse_api_routes,
    parse_path_prefix,
    parse_public_paths,
    parse_upstream_url,
)

__all__ = [
    "CALLBACK_PATH",
    "DEFAULT_SCOPES",
    "ORG_DOMAIN_SCOPE",
    "ORG_ID_SCOPE",
    "PLACEHOLDER_CLIENT_ID",
    "PLACEHOLDER_DOMAIN",
    "PLACEHOLDER_SECRET",
    "RESERVED_PATHS",
    "SessionSettings",
    "Settings",
    "display_store_url",
    "is_loopback_host",
    "load_session_settings",
    "load_settings",
    "parse_api_routes",
    "parse_path_prefix",
    "parse_public_paths",
    "parse_upstream_url",
    "split_hosts",
]
