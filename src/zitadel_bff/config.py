"""Configuration: one typed settings object read from the environment (and optionally `.env`).

Nothing is read at import time. Build it with :func:`load_settings`, which raises
:class:`~zitadel_bff.errors.ConfigError` listing every bad variable with its reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError
from .keyfile import ClientKey, read_client_key

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

#: The scopes of ZITADEL's example application: profile data, refresh tokens, user metadata,
#: the user's organisation and the project roles.
DEFAULT_SCOPES = (
    "openid profile email offline_access urn:zitadel:iam:user:metadata "
    "urn:zitadel:iam:user:resourceowner urn:zitadel:iam:org:projects:roles"
)
#: The value `.env.example` ships with; refused so that nobody runs with a published secret.
PLACEHOLDER_SECRET = "change-me-to-a-random-string-of-at-least-32-characters"  # noqa: S105
MIN_SECRET_LENGTH = 32
ORG_ID_SCOPE = "urn:zitadel:iam:org:id:"
ORG_DOMAIN_SCOPE = "urn:zitadel:iam:org:domain:primary:"
ZITADEL_ID = re.compile(r"[0-9]{1,32}")
DNS_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN = re.compile(rf"(?=.{{1,253}}$)({DNS_LABEL}\.)*{DNS_LABEL}")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMATS = ("text", "json")


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback IP literals, where plain http is acceptable."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _absolute_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL, e.g. https://app.example.com/auth/callback")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must use https (plain http is allowed only for localhost/loopback)")
    if parts.fragment:
        raise ValueError("must not contain a #fragment")
    return value


#: Paths the BFF serves itself: never proxied (an API route may not cover them).
RESERVED_PATHS = ("/auth", "/healthz", "/readyz")
PREFIX_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+;:@/"
)


def parse_path_prefix(value: str) -> str:
    """A path prefix as API_ROUTES and PUBLIC_PATHS take it: ``/a/b`` (a trailing ``/`` is
    dropped; ``/`` stays ``/``). Refuses what could not be matched safely: no ``..``, ``.``
    or empty segments, no percent-encoding, no query."""
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not a path: it must start with /")
    if any(c not in PREFIX_CHARS for c in value):
        raise ValueError(f"{value!r} may only contain plain path characters (no %, ?, # or spaces)")
    prefix = value.rstrip("/") or "/"
    segments = prefix.split("/")[1:]
    if prefix != "/" and any(seg in ("", ".", "..") for seg in segments):
        raise ValueError(f"{value!r} has an empty, '.' or '..' segment")
    return prefix


def _is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def parse_upstream_url(value: str) -> str:
    """An upstream base URL: absolute http(s), a host, no credentials, query or fragment;
    returned without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} must be an absolute http(s) URL, e.g. http://127.0.0.1:8081/v1")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{parts.hostname}: credentials in the URL are not supported")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError(f"{value!r} must not have a query or a #fragment")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    if parts.path not in ("", "/"):
        parse_path_prefix(parts.path)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def parse_api_routes(value: str) -> dict[str, str]:
    """API_ROUTES: comma-separated ``PREFIX=URL`` pairs -> {prefix: base URL}."""
    routes: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        prefix_text, sep, url = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} must be PREFIX=URL, e.g. /api/orders=http://127.0.0.1:8081/v1")
        prefix = parse_path_prefix(prefix_text.strip())
        if prefix == "/":
            raise ValueError("/ cannot be an API prefix (set UPSTREAM_URL to forward everything)")
        for reserved in RESERVED_PATHS:
            if _is_under(prefix, reserved) or _is_under(reserved, prefix):
                raise ValueError(f"{prefix} overlaps {reserved}, which the BFF serves itself")
        if prefix in routes:
            raise ValueError(f"{prefix} is listed twice")
        routes[prefix] = parse_upstream_url(url.strip())
    return routes


def parse_public_paths(value: str) -> tuple[str, ...]:
    """PUBLIC_PATHS: comma-separated path prefixes; ``/`` alone means the root page only."""
    return tuple(
        dict.fromkeys(parse_path_prefix(p.strip()) for p in value.split(",") if p.strip())
    )


SQLITE_FORMS = "sqlite:///relative/path.db or sqlite:////absolute/path.db"
REDIS_EXAMPLE = "redis://localhost:6379/0"


def _sqlite_store(url: str) -> str | None:
    if not url.startswith("sqlite:///"):
        rest = url.removeprefix("sqlite://")
        if not rest:
            return f"names no file; use {SQLITE_FORMS}"
        return (
            f"use sqlite:///{rest} for a relative path "
            "or sqlite:////abs/path.db for an absolute one"
        )
    path = url.removeprefix("sqlite:///")
    if not path:
        return f"names no file; use {SQLITE_FORMS}, or memory:// for sessions kept in memory"
    if path.endswith("/"):
        return f"names a directory, not a file; use {SQLITE_FORMS}"
    return None


def _memory_store(url: str) -> str | None:
    return None if url == "memory://" else "memory:// takes nothing after it"


def _redis_store(url: str) -> str | None:
    # Never echo the URL: it may carry a password.
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        return f"has an invalid port, e.g. {REDIS_EXAMPLE}"
    if not parts.hostname:
        return f"names no host, e.g. {REDIS_EXAMPLE}"
    database = parts.path.removeprefix("/")
    if database and not database.isdecimal():
        # redis-py would silently use database 0 instead.
        return f"must end with a database number, e.g. {REDIS_EXAMPLE}"
    return None


SENTINEL_EXAMPLE = "redis+sentinel://host:26379,host2:26379/mymaster/0"
CLUSTER_EXAMPLE = "redis+cluster://host:7000,host2:7001/"


def split_hosts(url: str) -> tuple[str, list[tuple[str, int]], str]:
    """``scheme://[user:password@]h:p,h2:p/path`` -> (the userinfo, [(host, port)], path).

    Raises ValueError naming what is wrong (never echoing the URL: it may carry a password).
    """
    rest = url.split("://", 1)[1]
    netloc, _, path = rest.partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    found: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdecimal() or not 0 < int(port) < 65536:
            raise ValueError("must list host:port pairs separated by commas")
        found.append((host, int(port)))
    return userinfo, found, path


def _sentinel_store(url: str) -> str | None:
    try:
        _, _, path = split_hosts(url)
    except ValueError as exc:
        return f"{exc}, e.g. {SENTINEL_EXAMPLE}"
    service, _, database = path.strip("/").partition("/")
    if not service:
        return f"names no master (service) name, e.g. {SENTINEL_EXAMPLE}"
    if database and not database.isdecimal():
        return f"must end with a database number, e.g. {SENTINEL_EXAMPLE}"
    return None


def _cluster_store(url: str) -> str | None:
    try:
        _, _, path = split_hosts(url)
    except ValueError as exc:
        return f"{exc}, e.g. {CLUSTER_EXAMPLE}"
    if path.strip("/") not in ("", "0"):
        return f"takes no database (a cluster has only database 0), e.g. {CLUSTER_EXAMPLE}"
    return None


#: Each SESSION_STORE scheme and the check of the rest of its URL (None: acceptable).
SESSION_STORE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "sqlite": _sqlite_store,
    "memory": _memory_store,
    "redis": _redis_store,
    "rediss": _redis_store,
    "redis+sentinel": _sentinel_store,
    "redis+cluster": _cluster_store,
}


class Settings(BaseSettings):
    """Every setting of the app. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, validate_default=True
    )

    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: str = "text"
    #: The access log (one line per request, with its request id): None = on with JSON logs.
    access_log: bool | None = None
    trusted_proxies: str = ""
    metrics_port: int | None = Field(None, ge=1, le=65535)
    shutdown_timeout: int = Field(30, ge=1, le=3600)

    session_secret: SecretStr
    #: Earlier SESSION_SECRETs, comma separated: what they sealed and signed stays valid.
    session_secret_previous: SecretStr = SecretStr("")
    session_duration: int = Field(3600, ge=60)
    session_max_lifetime: int = Field(86400, ge=60)
    session_store: str = "sqlite:///./data/sessions.db"

    zitadel_domain: str
    zitadel_client_id: str = Field(min_length=1)
    zitadel_client_secret: SecretStr = SecretStr("")
    zitadel_callback_url: str
    zitadel_post_logout_url: str
    zitadel_post_login_url: str = "/profile"
    zitadel_scopes: str = DEFAULT_SCOPES
    zitadel_id_token_alg: str = "RS256"  # noqa: S105 - an algorithm name, not a secret
    zitadel_clock_skew: int = Field(60, ge=0, le=600)
    zitadel_timeout: float = Field(10.0, gt=0, le=120)
    zitadel_client_key_file: str = ""
    # ZITADEL's reserved scopes and hints (docs: "Reserved scopes", "Login hints").
    zitadel_org_id: str = ""
    zitadel_org_domain: str = ""
    zitadel_idp_hints: str = ""
    zitadel_ui_locales: str = ""
    # Bearer-token APIs: JWT access tokens are checked locally (else every token is
    # introspected); audiences accepted besides this client id (e.g. the project id).
    zitadel_jwt_access_tokens: bool = False
    zitadel_api_audiences: str = ""
    #: The demo's /admin page asks for a sign-in at most this many seconds old (step-up).
    admin_max_age: int = Field(900, ge=0)

    _client_key: ClientKey | None = PrivateAttr(default=None)

    api_routes: str = ""
    api_timeout: float = Field(30.0, gt=0, le=3600)
    upstream_url: str = ""
    public_paths: str = ""
    upstream_pass_access_token: bool = False

    @field_validator("session_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw == PLACEHOLDER_SECRET:
            raise ValueError(
                "is the .env.example placeholder; run `zitadel-bff secret` for a new one"
            )
        if len(raw) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters (got {len(raw)})")
        return value

    @field_validator("session_secret_previous")
    @classmethod
    def _previous(cls, value: SecretStr) -> SecretStr:
        for number, raw in enumerate(_split_secrets(value.get_secret_value()), 1):
            if raw == PLACEHOLDER_SECRET:
                raise ValueError(f"secret {number} is the .env.example placeholder")
            if len(raw) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"secret {number} must be at least {MIN_SECRET_LENGTH} characters "
                    f"(got {len(raw)})"
                )
        return value

    @field_validator("zitadel_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            value = "https://" + value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be a host name or an origin, e.g. https://my-org.zitadel.cloud")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError("must use https (plain http is allowed only for localhost/loopback)")
        if parts.query or parts.fragment:
            raise ValueError("must be an origin, e.g. https://my-org.zitadel.cloud")
        # ZITADEL's issuer is the bare origin; other providers may have a path (kept as given).
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"

    @field_validator("zitadel_callback_url", "zitadel_post_logout_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _absolute_url(value.strip())

    @field_validator("zitadel_post_login_url")
    @classmethod
    def _post_login(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith(("//", "/\\")):
            raise ValueError("must be a path on this app, e.g. /profile")
        return value

    @field_validator("zitadel_scopes")
    @classmethod
    def _scopes(cls, value: str) -> str:
        scopes = value.split()
        if "openid" not in scopes:
            raise ValueError("must include openid")
        return " ".join(dict.fromkeys(scopes))

    @field_validator("zitadel_id_token_alg")
    @classmethod
    def _alg(cls, value: str) -> str:
        if value not in ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"):
            raise ValueError("must be an asymmetric JWS algorithm such as RS256")
        return value

    @field_validator("session_store")
    @classmethod
    def _store(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        check = SESSION_STORE_CHECKS.get(scheme)
        if check is None:
            raise ValueError(
                "must be sqlite:///path, memory://, redis://host:port/db, "
                "redis+sentinel://host:port,.../master/db or redis+cluster://host:port,.../"
            )
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("api_routes")
    @classmethod
    def _api_routes(cls, value: str) -> str:
        routes = parse_api_routes(value)
        return ",".join(f"{prefix}={url}" for prefix, url in routes.items())

    @field_validator("upstream_url")
    @classmethod
    def _upstream(cls, value: str) -> str:
        return parse_upstream_url(value.strip()) if value.strip() else ""

    @field_validator("public_paths")
    @classmethod
    def _public_paths(cls, value: str) -> str:
        return ",".join(parse_public_paths(value))

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("zitadel_org_id")
    @classmethod
    def _org_id(cls, value: str) -> str:
        value = value.strip()
        if value and not ZITADEL_ID.fullmatch(value):
            raise ValueError("must be a ZITADEL organisation id (digits), e.g. 243864426485212397")
        return value

    @field_validator("zitadel_org_domain")
    @classmethod
    def _org_domain(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not DOMAIN.fullmatch(value):
            raise ValueError("must be an organisation's primary domain, e.g. acme.zitadel.cloud")
        return value

    @field_validator("zitadel_idp_hints")
    @classmethod
    def _idp_hints(cls, value: str) -> str:
        ids = [v.strip() for v in value.replace(",", " ").split() if v.strip()]
        bad = [v for v in ids if not ZITADEL_ID.fullmatch(v)]
        if bad:
            raise ValueError(
                "must be identity provider ids (digits), comma separated, e.g. 2438644264852123"
            )
        return ",".join(dict.fromkeys(ids))

    @field_validator("zitadel_ui_locales")
    @classmethod
    def _ui_locales(cls, value: str) -> str:
        tags = value.replace(",", " ").split()
        bad = [t for t in tags if not LANGUAGE_TAG.fullmatch(t)]
        if bad:
            raise ValueError("must be language tags separated by spaces, e.g. de en")
        return " ".join(tags)

    @field_validator("zitadel_client_key_file")
    @classmethod
    def _key_file(cls, value: str) -> str:
        value = value.strip()
        if value:
            read_client_key(value)  # fail at start, with what is wrong with the file
        return value

    @model_validator(mode="after")
    def _organisation(self) -> Settings:
        if self.zitadel_org_id and self.zitadel_org_domain:
            raise ValueError(
                "ZITADEL_ORG_DOMAIN: set either ZITADEL_ORG_ID or ZITADEL_ORG_DOMAIN, not both"
            )
        return self

    @model_validator(mode="after")
    def _client_authentication(self) -> Settings:
        if not self.zitadel_client_key_file:
            return self
        if self.zitadel_client_secret.get_secret_value():
            raise ValueError(
                "ZITADEL_CLIENT_KEY_FILE: set either it (private_key_jwt) or "
                "ZITADEL_CLIENT_SECRET (client_secret_basic), not both"
            )
        key = read_client_key(self.zitadel_client_key_file)
        if key.client_id != self.zitadel_client_id:
            raise ValueError(
                f"ZITADEL_CLIENT_KEY_FILE: the key is for client {key.client_id!r}, "
                f"but ZITADEL_CLIENT_ID is {self.zitadel_client_id!r}"
            )
        self._client_key = key
        return self

    @field_validator("log_format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value.lower() not in LOG_FORMATS:
            raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}")
        return value.lower()

    @model_validator(mode="after")
    def _lifetimes(self) -> Settings:
        if self.session_max_lifetime < self.session_duration:
            raise ValueError(
                "SESSION_MAX_LIFETIME must be at least SESSION_DURATION "
                f"({self.session_max_lifetime} < {self.session_duration})"
            )
        return self

    @model_validator(mode="after")
    def _ports(self) -> Settings:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError(f"METRICS_PORT: must differ from PORT (both {self.port})")
        current = self.session_secret.get_secret_value()
        if current in self.previous_secrets:
            raise ValueError("SESSION_SECRET_PREVIOUS: must not repeat SESSION_SECRET")
        return self

    # Derived values -----------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.zitadel_domain

    @property
    def client_key(self) -> ClientKey | None:
        """The application key of ZITADEL_CLIENT_KEY_FILE (private_key_jwt), if set."""
        return self._client_key

    @property
    def issuer_origin(self) -> str:
        parts = urlsplit(self.zitadel_domain)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def public_origin(self) -> str:
        """The app's own origin, taken from the callback URL (the public URL users see)."""
        parts = urlsplit(self.zitadel_callback_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        """Secure and __Host- cookies whenever the public URL is https, whatever else is set."""
        return self.zitadel_callback_url.startswith("https://")

    @property
    def scopes(self) -> list[str]:
        """ZITADEL_SCOPES, plus the organisation scope when ZITADEL_ORG_ID or _DOMAIN is set:
        only its users may sign in, and the login shows its branding."""
        scopes = self.zitadel_scopes.split()
        if self.zitadel_org_id:
            scopes.append(ORG_ID_SCOPE + self.zitadel_org_id)
        elif self.zitadel_org_domain:
            scopes.append(ORG_DOMAIN_SCOPE + self.zitadel_org_domain)
        return scopes

    @property
    def api_audiences(self) -> frozenset[str]:
        """Who a bearer token may be for: this client, and ZITADEL_API_AUDIENCES."""
        extra = self.zitadel_api_audiences.replace(",", " ").split()
        return frozenset([self.zitadel_client_id, *extra])

    @property
    def idp_hints(self) -> frozenset[str]:
        """The identity provider ids /auth/login?idp= may name (ZITADEL_IDP_HINTS)."""
        return frozenset(filter(None, self.zitadel_idp_hints.split(",")))

    @property
    def api_route_map(self) -> dict[str, str]:
        """API_ROUTES as {path prefix: upstream base URL}."""
        return parse_api_routes(self.api_routes)

    @property
    def public_path_list(self) -> tuple[str, ...]:
        return parse_public_paths(self.public_paths)

    @property
    def forwarded_allow_ips(self) -> str | None:
        return self.trusted_proxies or None

    @property
    def previous_secrets(self) -> list[str]:
        return _split_secrets(self.session_secret_previous.get_secret_value())

    @property
    def request_log(self) -> bool:
        """Whether each request gets an id and an access-log line (default: with JSON logs)."""
        return self.access_log if self.access_log is not None else self.log_format == "json"


def _split_secrets(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _problems(exc: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc") or ()
        name = str(loc[0]).upper() if loc else "CONFIGURATION"
        message = str(error.get("msg", "is invalid"))
        if error.get("type") == "missing":
            message = "is required but not set"
        message = message.removeprefix("Value error, ")
        named, sep, rest = message.partition(": ")
        if not loc and sep and named.isupper() and " " not in named:
            name, message = named, rest  # a check across variables that names its variable
        problems.setdefault(name, message)
    return problems


def load_settings(env_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the settings from the environment (and ``env_file`` when it exists).

    Raises ConfigError naming every bad variable, so a wrong deployment fails at start.
    """
    kwargs: dict[str, Any] = dict(overrides)
    if env_file is not None and Path(env_file).is_file():
        kwargs["_env_file"] = env_file
    try:
        return Settings(**kwargs)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from exc
