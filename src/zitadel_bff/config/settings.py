"""The settings objects, validated at construction, and their loaders.

:class:`SessionSettings` is what the stored sessions need (the store, the secrets, the lifetimes,
logging): enough for ``zitadel-bff sessions``, which must work without the provider's variables.
:class:`Settings` adds everything else the app needs, and is what the app and ``check`` use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..errors import ConfigError
from ..keyfile import ClientKey, read_client_key
from .problems import EXAMPLES, example, problems_of
from .stores import check_store_url
from .values import (
    absolute_url,
    check_public_url,
    parse_api_routes,
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
    "SessionSettings",
    "Settings",
    "load_session_settings",
    "load_settings",
]

DEFAULT_SCOPES = (
    "openid profile email offline_access urn:zitadel:iam:user:metadata "
    "urn:zitadel:iam:user:resourceowner urn:zitadel:iam:org:projects:roles"
)
#: The values `.env.example` ships with, refused: nobody runs with a published secret, and
#: a copied file that was not filled in says so at start instead of failing at the first sign-in.
PLACEHOLDER_SECRET = "change-me-to-a-random-string-of-at-least-32-characters"  # noqa: S105
PLACEHOLDER_DOMAIN = "https://my-instance.zitadel.cloud"
PLACEHOLDER_CLIENT_ID = "000000000000000000@my-project"
#: Where the module receives the sign-in (auth/routes/signin.py): the redirect URI's path.
CALLBACK_PATH = "/auth/callback"
MIN_SECRET_LENGTH = 32
ORG_ID_SCOPE = "urn:zitadel:iam:org:id:"
ORG_DOMAIN_SCOPE = "urn:zitadel:iam:org:domain:primary:"
ZITADEL_ID = re.compile(r"[0-9]{1,32}")
DNS_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN = re.compile(rf"(?=.{{1,253}}$)({DNS_LABEL}\.)*{DNS_LABEL}")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMATS = ("text", "json")
ID_TOKEN_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA")


_S = TypeVar("_S", bound="SessionSettings")


class SessionSettings(BaseSettings):
    """What the stored sessions need: the store, the secrets that seal and key the records,
    their lifetimes, and logging. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, validate_default=True
    )

    log_level: str = "INFO"
    log_format: str = "text"

    session_secret: SecretStr
    #: Earlier SESSION_SECRETs, comma separated: what they sealed and signed stays valid.
    session_secret_previous: SecretStr = SecretStr("")
    session_duration: int = Field(3600, ge=60)
    session_max_lifetime: int = Field(86400, ge=60)
    session_store: str = "sqlite:///./data/sessions.db"

    @field_validator("session_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw == PLACEHOLDER_SECRET:
            raise ValueError(
                "is the .env.example placeholder; run `zitadel-bff secret` for a new one"
            )
        if len(raw) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_LENGTH} characters (got {len(raw)}); "
                "run `zitadel-bff secret` for one"
            )
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

    @field_validator("session_store")
    @classmethod
    def _store(cls, value: str) -> str:
        return check_store_url(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        return _one_of(value.upper(), LOG_LEVELS, "log_level", shown=value)

    @field_validator("log_format")
    @classmethod
    def _format(cls, value: str) -> str:
        return _one_of(value.lower(), LOG_FORMATS, "log_format", shown=value)

    @model_validator(mode="after")
    def _lifetimes(self) -> Self:
        if self.session_max_lifetime < self.session_duration:
            raise ValueError(
                "SESSION_MAX_LIFETIME must be at least SESSION_DURATION "
                f"({self.session_max_lifetime} < {self.session_duration})"
            )
        return self

    @model_validator(mode="after")
    def _secrets_differ(self) -> Self:
        if self.session_secret.get_secret_value() in self.previous_secrets:
            raise ValueError("SESSION_SECRET_PREVIOUS: must not repeat SESSION_SECRET")
        return self

    @property
    def previous_secrets(self) -> list[str]:
        return _split_secrets(self.session_secret_previous.get_secret_value())


class Settings(SessionSettings):
    """Every setting of the app. Field names are the environment variable names, lower-cased."""

    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    #: The access log (one line per request, with its request id): None = on with JSON logs.
    access_log: bool | None = None
    trusted_proxies: str = ""
    metrics_port: int | None = Field(None, ge=1, le=65535)
    shutdown_timeout: int = Field(30, ge=1, le=3600)

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

    @field_validator("metrics_port", "access_log", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """``METRICS_PORT=`` or ``ACCESS_LOG=`` in a .env file means the default, as if unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("zitadel_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            value = "https://" + value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be a host name or an origin, e.g. https://my-org.zitadel.cloud")
        # The issuer is shown (check, error messages) and compared with the provider's: no
        # secret belongs in it, and ZITADEL takes none there.
        check_public_url(parts, example=EXAMPLES["zitadel_domain"])
        if parts.query or parts.fragment:
            raise ValueError("must be an origin, e.g. https://my-org.zitadel.cloud")
        # ZITADEL's issuer is the bare origin; other providers may have a path (kept as given).
        issuer = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        if issuer.lower() == PLACEHOLDER_DOMAIN:
            raise ValueError(
                "still the placeholder from .env.example: put your ZITADEL instance's domain, "
                "e.g. https://my-org.zitadel.cloud"
            )
        return issuer

    @field_validator("zitadel_client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if value.strip() == PLACEHOLDER_CLIENT_ID:
            raise ValueError(
                "still the placeholder from .env.example: put the Client ID of your ZITADEL "
                "application (the console shows it on the application's page)"
            )
        return value

    @field_validator("zitadel_callback_url", "zitadel_post_logout_url")
    @classmethod
    def _urls(cls, value: str, info: ValidationInfo) -> str:
        return absolute_url(value.strip(), example=EXAMPLES[str(info.field_name)])

    @field_validator("zitadel_callback_url")
    @classmethod
    def _callback_path(cls, value: str) -> str:
        # The module answers at /auth/callback of the app's root; an app mounted below a
        # prefix (ASGI root_path) answers at <prefix>/auth/callback, so only the end is fixed.
        parts = urlsplit(value)
        if not parts.path.endswith(CALLBACK_PATH):
            origin = f"{parts.scheme}://{parts.netloc}"
            raise ValueError(
                f"the path is {parts.path or '/'!r}, but the app receives the sign-in at "
                f"{CALLBACK_PATH}: set ZITADEL_CALLBACK_URL={origin}{CALLBACK_PATH} "
                "(and register that redirect URI in ZITADEL)"
            )
        return value

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
        if value not in ID_TOKEN_ALGS:
            raise ValueError(
                f"{value!r} is not an asymmetric JWS algorithm ({', '.join(ID_TOKEN_ALGS)}); "
                f"{example('zitadel_id_token_alg')}"
            )
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
    def _organisation(self) -> Self:
        if self.zitadel_org_id and self.zitadel_org_domain:
            raise ValueError(
                "ZITADEL_ORG_DOMAIN: set either ZITADEL_ORG_ID or ZITADEL_ORG_DOMAIN, not both"
            )
        return self

    @model_validator(mode="after")
    def _client_authentication(self) -> Self:
        if not self.zitadel_client_key_file:
            return self
        if self.zitadel_client_secret.get_secret_value():
            raise ValueError(
                "ZITADEL_CLIENT_KEY_FILE: set either it (private_key_jwt) or "
                "ZITADEL_CLIENT_SECRET (a client secret), not both"
            )
        key = read_client_key(self.zitadel_client_key_file)
        if key.client_id != self.zitadel_client_id:
            raise ValueError(
                f"ZITADEL_CLIENT_KEY_FILE: the key is for client {key.client_id!r}, "
                f"but ZITADEL_CLIENT_ID is {self.zitadel_client_id!r}"
            )
        self._client_key = key
        return self

    @model_validator(mode="after")
    def _ports(self) -> Self:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError(f"METRICS_PORT: must differ from PORT (both {self.port})")
        return self

    def check_problems(self) -> dict[str, str]:
        """What ``zitadel-bff check`` refuses beyond what construction refuses: settings a
        server can start with, that still do not work as meant (one problem per variable)."""
        problems: dict[str, str] = {}
        logout = urlsplit(self.zitadel_post_logout_url)
        if f"{logout.scheme}://{logout.netloc}" != self.public_origin:
            # The provider sends the user back there with the logout state; only this app's
            # /auth/logout/callback can check it and confirm the sign-out.
            problems["ZITADEL_POST_LOGOUT_URL"] = (
                f"is on {logout.scheme}://{logout.netloc}, not on the app's origin "
                f"{self.public_origin} (from ZITADEL_CALLBACK_URL): set "
                f"ZITADEL_POST_LOGOUT_URL={self.public_origin}/auth/logout/callback"
            )
        return problems

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
    def request_log(self) -> bool:
        """Whether each request gets an id and an access-log line (default: with JSON logs)."""
        return self.access_log if self.access_log is not None else self.log_format == "json"


def _split_secrets(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _one_of(value: str, choices: tuple[str, ...], field: str, *, shown: str) -> str:
    if value not in choices:
        raise ValueError(f"{shown!r} is not one of {', '.join(choices)}; {example(field)}")
    return value


def _load(kind: type[_S], env_file: str | Path | None, overrides: dict[str, Any]) -> _S:
    kwargs: dict[str, Any] = dict(overrides)
    if env_file is not None and Path(env_file).is_file():
        kwargs["_env_file"] = env_file
    try:
        return kind(**kwargs)
    except ValidationError as exc:
        # Not chained: pydantic's error repeats every refused value (input_value=...), which
        # may be a secret or carry credentials, in any traceback printed at start (an app
        # loading its settings at import, under uvicorn). The problems say it all, our way.
        raise ConfigError(problems_of(exc)) from None


def load_settings(env_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the settings from the environment (and ``env_file`` when it exists).

    Raises ConfigError naming every bad variable, so a wrong deployment fails at start.
    """
    return _load(Settings, env_file, overrides)


def load_session_settings(env_file: str | Path | None = None, **overrides: Any) -> SessionSettings:
    """Only what the stored sessions need (SESSION_*, LOG_*), read as :func:`load_settings`
    reads it and refused with the same messages; the provider's variables are not needed."""
    return _load(SessionSettings, env_file, overrides)
