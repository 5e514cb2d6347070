"""Configuration: one typed settings object read from the environment (and optionally `.env`).

Nothing is read at import time. Build it with :func:`load_settings`, which raises
:class:`~zitadel_bff.errors.ConfigError` listing every bad variable with its reason.

Layout: ``values`` (URLs, path prefixes, API routes), ``stores`` (SESSION_STORE URLs),
``settings`` (the Settings object and load_settings).
"""

from .settings import (
    DEFAULT_SCOPES,
    ORG_DOMAIN_SCOPE,
    ORG_ID_SCOPE,
    PLACEHOLDER_SECRET,
    Settings,
    load_settings,
)
from .stores import split_hosts
from .values import (
    RESERVED_PATHS,
    is_loopback_host,
    parse_api_routes,
    parse_path_prefix,
    parse_public_paths,
    parse_upstream_url,
)

__all__ = [
    "DEFAULT_SCOPES",
    "ORG_DOMAIN_SCOPE",
    "ORG_ID_SCOPE",
    "PLACEHOLDER_SECRET",
    "RESERVED_PATHS",
    "Settings",
    "is_loopback_host",
    "load_settings",
    "parse_api_routes",
    "parse_path_prefix",
    "parse_public_paths",
    "parse_upstream_url",
    "split_hosts",
]
