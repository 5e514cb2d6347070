"""The Settings object: every variable, validated at construction, and load_settings."""

from __future__ import annotations

import re
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

from ..errors import ConfigError
from ..keyfile import ClientKey, read_client_key
from .stores import check_store_url
from .values import (
    absolute_url,
    is_loopback_host,
    parse_api_routes,
    parse_public_paths,
    parse_upstream_url,
)

__all__ = [
    "DEFAULT_SCOPES",
    "ORG_DOMAIN_SCOPE",
    "ORG_ID_SCOPE",
    "PLACEHOLDER_SECRET",
    "Settings",
    "load_settings",
]

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
        return absolute_url(value.strip())

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
        return check_store_url(value)

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
