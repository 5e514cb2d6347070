import traceback
from pathlib import Path
from typing import get_args

import pytest

from zitadel_bff.config import (
    CALLBACK_PATH,
    DEFAULT_SCOPES,
    PLACEHOLDER_CLIENT_ID,
    PLACEHOLDER_DOMAIN,
    PLACEHOLDER_SECRET,
    Settings,
    display_store_url,
    is_loopback_host,
    load_session_settings,
    load_settings,
)
from zitadel_bff.errors import ConfigError

GOOD = {
    "session_secret": "x" * 32,
    "zitadel_domain": "my-org.zitadel.cloud",
    "zitadel_client_id": "243864426485212395@project",
    "zitadel_callback_url": "https://app.example.com/auth/callback",
    "zitadel_post_logout_url": "https://app.example.com/auth/logout/callback",
}


def test_defaults_and_derived_values() -> None:
    s = load_settings(None, **GOOD)
    assert s.issuer == "https://my-org.zitadel.cloud"
    assert s.port == 3000 and s.session_duration == 3600
    assert s.zitadel_post_login_url == "/profile"
    assert s.zitadel_scopes == DEFAULT_SCOPES
    assert s.session_store == "sqlite:///./data/sessions.db"
    assert s.secure_cookies is True
    assert s.public_origin == "https://app.example.com"


def test_reads_environment_and_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("\n".join(f"{k.upper()}={v}" for k, v in GOOD.items()) + "\nPORT=4000\n")
    monkeypatch.setenv("PORT", "5000")
    s = load_settings(env)
    assert s.port == 5000  # the environment wins over .env
    assert s.zitadel_client_id == GOOD["zitadel_client_id"]


@pytest.mark.parametrize(
    ("change", "variable", "reason"),
    [
        ({"session_secret": PLACEHOLDER_SECRET}, "SESSION_SECRET", "placeholder"),
        ({"session_secret": "short"}, "SESSION_SECRET", "at least 32"),
        ({"zitadel_domain": "http://zitadel.example.com"}, "ZITADEL_DOMAIN", "https"),
        ({"zitadel_domain": "https://x.example.com/?a=b"}, "ZITADEL_DOMAIN", "origin"),
        ({"zitadel_callback_url": "/auth/callback"}, "ZITADEL_CALLBACK_URL", "absolute"),
        ({"zitadel_callback_url": "http://app.example.com/cb"}, "ZITADEL_CALLBACK_URL", "https"),
        ({"zitadel_post_logout_url": "nope"}, "ZITADEL_POST_LOGOUT_URL", "absolute"),
        ({"zitadel_post_login_url": "//evil"}, "ZITADEL_POST_LOGIN_URL", "path"),
        ({"zitadel_scopes": "profile email"}, "ZITADEL_SCOPES", "openid"),
        ({"session_store": "mysql://x"}, "SESSION_STORE", "sqlite"),
        ({"zitadel_id_token_alg": "HS256"}, "ZITADEL_ID_TOKEN_ALG", "asymmetric"),
        ({"port": "abc"}, "PORT", "'abc' is not a whole number; for example PORT=3000"),
        ({"session_duration": 5}, "SESSION_DURATION", "60"),
        ({"log_level": "LOUD"}, "LOG_LEVEL", "one of"),
        ({"zitadel_client_id": ""}, "ZITADEL_CLIENT_ID", "is empty; for example"),
        ({"zitadel_domain": "https://"}, "ZITADEL_DOMAIN", "a host name or an origin"),
        ({"zitadel_callback_url": "https://app.example.com/cb#x"}, "ZITADEL_CALLBACK_URL",
         "#fragment"),
    ],
)
def test_each_bad_value_is_named(change: dict[str, object], variable: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, **change})
    assert list(info.value.problems) == [variable]
    assert reason in info.value.problems[variable]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("localhost.example.com", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_plain_http_is_for_loopback_hosts_only(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(GOOD):
        monkeypatch.delenv(name.upper(), raising=False)
    with pytest.raises(ConfigError) as info:
        load_settings(None, session_secret="short", zitadel_domain="http://evil.example")
    assert set(info.value.problems) == {
        "SESSION_SECRET",
        "ZITADEL_DOMAIN",
        "ZITADEL_CLIENT_ID",
        "ZITADEL_CALLBACK_URL",
        "ZITADEL_POST_LOGOUT_URL",
    }
    assert "ZITADEL_CLIENT_ID: is required but not set" in str(info.value)


def test_loopback_may_use_http() -> None:
    s = load_settings(
        None,
        **{
            **GOOD,
            "zitadel_domain": "http://127.0.0.1:9000",
            "zitadel_callback_url": "http://localhost:3000/auth/callback",
        },
    )
    assert s.issuer == "http://127.0.0.1:9000" and s.secure_cookies is False


def test_max_lifetime_must_cover_idle_timeout() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **GOOD, session_duration=7200, session_max_lifetime=3600)
    assert "SESSION_MAX_LIFETIME" in str(info.value)


def test_secret_is_not_shown() -> None:
    s = load_settings(None, **GOOD)
    assert "x" * 32 not in repr(s) and "x" * 32 not in str(s.model_dump())


@pytest.mark.parametrize(
    "domain",
    [
        "https://admin:hunter2@my-org.zitadel.cloud",
        "admin:hunter2@my-org.zitadel.cloud",
        "https://hunter2@my-org.zitadel.cloud/",
        "https://:hunter2@my-org.zitadel.cloud",
        "http://admin:hunter2@127.0.0.1:8080",
        "https://@my-org.zitadel.cloud",
    ],
    ids=["user-password", "no-scheme", "user-only", "password-only", "loopback", "empty"],
)
def test_credentials_in_the_domain_are_refused_and_not_repeated(domain: str) -> None:
    # The issuer is a URL the app prints (check, error messages) and compares with the
    # provider's: it must carry no secret, and ZITADEL takes none there.
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, "zitadel_domain": domain})
    assert info.value.problems == {
        "ZITADEL_DOMAIN": "must not contain a user name or password (user:password@), "
        "e.g. https://my-org.zitadel.cloud"
    }
    assert "hunter2" not in str(info.value) and "admin" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("zitadel_callback_url", "https://admin:hunter2@app.example.com/auth/callback"),
        ("zitadel_post_logout_url", "https://hunter2@app.example.com/auth/logout/callback"),
    ],
)
def test_credentials_in_the_apps_urls_are_refused_and_not_repeated(field: str, url: str) -> None:
    # The browser is sent to these addresses, and the app's origin comes from the first.
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, field: url})
    (problem,) = info.value.problems.values()
    assert problem.startswith("must not contain a user name or password (user:password@), e.g.")
    assert "hunter2" not in str(info.value)


#: Ports no URL may name: not a number, out of range, 0 (no server listens there), or nothing
#: after the colon (a port forgotten).
BAD_PORTS = ["abc", "99999", "65536", "0", "", "-1", "+80", " 443"]
BAD_PORT_IDS = ["letters", "99999", "65536", "zero", "empty", "negative", "plus", "space"]
#: The public URL settings, each with a URL naming the port ``{port}``, and its example.
PUBLIC_URLS = {
    "zitadel_domain": ("https://x.example:{port}", "https://my-org.zitadel.cloud"),
    "zitadel_callback_url": (
        "https://app.example.com:{port}/auth/callback",
        "https://app.example.com/auth/callback",
    ),
    "zitadel_post_logout_url": (
        "https://app.example.com:{port}/auth/logout/callback",
        "https://app.example.com/auth/logout/callback",
    ),
}


@pytest.mark.parametrize("port", BAD_PORTS, ids=BAD_PORT_IDS)
@pytest.mark.parametrize("field", PUBLIC_URLS)
def test_a_public_url_with_an_invalid_port_is_refused_at_start(field: str, port: str) -> None:
    # Unchecked, the first sign-in would fail on it (httpx refuses such a URL), or the
    # browser's Origin would never match the app's.
    url, good = PUBLIC_URLS[field]
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, field: url.format(port=port)})
    assert info.value.problems == {
        field.upper(): "has an invalid port: it must be a number from 1 to 65535, or be left "
        f"out, e.g. {good}"
    }


@pytest.mark.parametrize("domain", ["x.example:abc", "x.example:99999", "x.example:0"])
def test_a_domain_without_scheme_with_an_invalid_port_is_refused(domain: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, "zitadel_domain": domain})
    assert list(info.value.problems) == ["ZITADEL_DOMAIN"]
    assert info.value.problems["ZITADEL_DOMAIN"].startswith("has an invalid port")


@pytest.mark.parametrize("port", BAD_PORTS, ids=BAD_PORT_IDS)
@pytest.mark.parametrize(
    ("field", "url", "message"),
    [
        ("upstream_url", "http://127.0.0.1:{port}/v1", "has an invalid port"),
        ("api_routes", "/api/orders=http://127.0.0.1:{port}/v1", "has an invalid port"),
        ("session_store", "redis://localhost:{port}/0",
         "has an invalid port, e.g. redis://localhost:6379/0"),
    ],
)
def test_every_other_url_with_an_invalid_port_is_refused(
    field: str, url: str, message: str, port: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, field: url.format(port=port)})
    assert list(info.value.problems) == [field.upper()]
    assert message in info.value.problems[field.upper()]


@pytest.mark.parametrize("port", ["1", "8443", "65535"])
def test_urls_with_a_valid_port_are_accepted(port: str) -> None:
    s = load_settings(
        None,
        **{
            **GOOD,
            **{field: url.format(port=port) for field, (url, _) in PUBLIC_URLS.items()},
            "upstream_url": f"http://127.0.0.1:{port}/v1",
            "session_store": f"redis://localhost:{port}/0",
        },
    )
    assert s.issuer == f"https://x.example:{port}"
    assert s.public_origin == f"https://app.example.com:{port}"
    assert s.upstream_url == f"http://127.0.0.1:{port}/v1"


#: Refused values that must not be repeated anywhere, the traceback included.
REFUSED_SECRETS = {
    "session_secret": "hunter2-too-short",
    "zitadel_domain": "https://admin:hunter2@my-org.zitadel.cloud",
}


def test_refused_values_are_not_repeated_in_the_traceback() -> None:
    # An app that loads its settings at import (the README's library example) fails under
    # uvicorn with this traceback: pydantic's chained error would repeat every input value.
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, **REFUSED_SECRETS})
    assert set(info.value.problems) == {"SESSION_SECRET", "ZITADEL_DOMAIN"}
    assert "hunter2" not in "".join(traceback.format_exception(info.value))


def test_issuer_with_a_path_is_kept() -> None:
    s = load_settings(None, **{**GOOD, "zitadel_domain": "https://op.example.com/tenant/a/"})
    assert s.issuer == "https://op.example.com/tenant/a"
    assert s.issuer_origin == "https://op.example.com"
    assert load_settings(None, **{**GOOD, "zitadel_domain": "https://x.example.com/"}).issuer == (
        "https://x.example.com"
    )


SQLITE_FORMS = "sqlite:///relative/path.db or sqlite:////absolute/path.db"


@pytest.mark.parametrize(
    ("store", "message"),
    [
        (
            "sqlite://x.db",
            "use sqlite:///x.db for a relative path or sqlite:////abs/path.db for an absolute one",
        ),
        ("sqlite://", f"names no file; use {SQLITE_FORMS}"),
        (
            "sqlite:///",
            f"names no file; use {SQLITE_FORMS}, or memory:// for sessions kept in memory",
        ),
        ("sqlite:///data/", f"names a directory, not a file; use {SQLITE_FORMS}"),
        ("memory://x", "memory:// takes nothing after it"),
        ("redis://:6379/0", "names no host, e.g. redis://localhost:6379/0"),
        ("redis://:s3cret@/0", "names no host, e.g. redis://localhost:6379/0"),
        ("redis://localhost:port/0", "has an invalid port, e.g. redis://localhost:6379/0"),
        ("rediss://localhost:99999/0", "has an invalid port, e.g. redis://localhost:6379/0"),
        (
            "redis://localhost:6379/sessions",
            "must end with a database number, e.g. redis://localhost:6379/0",
        ),
        (
            "redis+sentinel://h1:26379,h2/mymaster/0",
            "must list host:port pairs separated by commas, e.g. "
            "redis+sentinel://host:26379,host2:26379/mymaster/0",
        ),
        (
            "redis+sentinel://h1:26379/",
            "names no master (service) name, e.g. "
            "redis+sentinel://host:26379,host2:26379/mymaster/0",
        ),
        (
            "redis+sentinel://h1:26379/mymaster/db",
            "must end with a database number, e.g. "
            "redis+sentinel://host:26379,host2:26379/mymaster/0",
        ),
        (
            "redis+cluster://:pw@h1:7000,h2:x/",
            "must list host:port pairs separated by commas, e.g. "
            "redis+cluster://host:7000,host2:7001/",
        ),
        (
            "redis+cluster://h1:7000/3",
            "takes no database (a cluster has only database 0), e.g. "
            "redis+cluster://host:7000,host2:7001/",
        ),
        (
            "mysql://x",
            "must be sqlite:///path, memory://, redis://host:port/db, "
            "redis+sentinel://host:port,.../master/db or redis+cluster://host:port,.../",
        ),
    ],
)
def test_each_bad_session_store_says_what_was_meant(store: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, "session_store": store})
    assert info.value.problems == {"SESSION_STORE": message}


@pytest.mark.parametrize(
    "store",
    [
        "sqlite:///relative/path.db",
        "sqlite:////absolute/path.db",
        "sqlite:///./data/sessions.db",
        "memory://",
        "redis://localhost:6379/0",
        "redis://cache",
        "rediss://user:pw@cache.example.com:6380/2",
        "redis+sentinel://h1:26379,h2:26380/mymaster/0",
        "redis+sentinel://:pw@h1:26379/mymaster",
        "redis+cluster://h1:7000,h2:7001/",
        "redis+cluster://user:pw@h1:7000",
    ],
)
def test_accepted_session_stores(store: str) -> None:
    assert load_settings(None, **{**GOOD, "session_store": store}).session_store == store


def test_operations_settings_default_to_off() -> None:
    settings = load_settings(None, **GOOD)
    assert settings.metrics_port is None
    assert settings.log_format == "text"
    assert settings.request_log is False
    assert settings.previous_secrets == []
    assert settings.shutdown_timeout == 30


def test_json_logs_bring_the_access_log_unless_it_is_turned_off() -> None:
    assert load_settings(None, **GOOD, log_format="JSON").request_log is True
    assert load_settings(None, **GOOD, log_format="json", access_log=False).request_log is False
    assert load_settings(None, **GOOD, access_log=True).request_log is True


def test_previous_secrets_are_a_comma_separated_list() -> None:
    first, second = "a" * 32, "b" * 40
    settings = load_settings(None, **GOOD, session_secret_previous=f" {first}, {second} ,")
    assert settings.previous_secrets == [first, second]


@pytest.mark.parametrize(
    ("overrides", "name", "message"),
    [
        ({"session_secret_previous": "short"}, "SESSION_SECRET_PREVIOUS",
         "secret 1 must be at least 32 characters (got 5)"),
        ({"session_secret_previous": f"{'a' * 32},{PLACEHOLDER_SECRET}"},
         "SESSION_SECRET_PREVIOUS", "secret 2 is the .env.example placeholder"),
        ({"session_secret_previous": GOOD["session_secret"]}, "SESSION_SECRET_PREVIOUS",
         "must not repeat SESSION_SECRET"),
        ({"metrics_port": 0}, "METRICS_PORT",
         "must be at least 1, not 0; for example METRICS_PORT=9100"),
        ({"metrics_port": GOOD.get("port", 3000)}, "METRICS_PORT",
         "must differ from PORT (both 3000)"),
        ({"log_format": "xml"}, "LOG_FORMAT",
         "'xml' is not one of text, json; for example LOG_FORMAT=json"),
        ({"shutdown_timeout": 0}, "SHUTDOWN_TIMEOUT",
         "must be at least 1 second, not 0; for example SHUTDOWN_TIMEOUT=30"),
    ],
)
def test_operations_settings_fail_fast_naming_the_variable(
    overrides: dict[str, object], name: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, **overrides})
    assert info.value.problems == {name: message}


# Messages in our words ---------------------------------------------------------------------


def problems_from_environment(monkeypatch: pytest.MonkeyPatch, **variables: str) -> dict[str, str]:
    """The problems load_settings finds with GOOD plus ``variables``, set as the environment
    sets them (strings), as a deployment would."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in {**GOOD, **variables}.items():
        monkeypatch.setenv(name.upper(), value)
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    return info.value.problems


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("port", "abc", "'abc' is not a whole number; for example PORT=3000"),
        ("port", "1.5", "'1.5' is not a whole number; for example PORT=3000"),
        ("port", "70000", "must be at most 65535, not 70000; for example PORT=3000"),
        ("port", "", "is empty; for example PORT=3000"),
        ("metrics_port", "x", "'x' is not a whole number; for example METRICS_PORT=9100"),
        (
            "session_duration",
            "1h",
            "'1h' is not a whole number of seconds; for example SESSION_DURATION=3600",
        ),
        (
            "session_duration",
            "5",
            "must be at least 60 seconds, not 5; for example SESSION_DURATION=3600",
        ),
        (
            "zitadel_timeout",
            "soon",
            "'soon' is not a number of seconds; for example ZITADEL_TIMEOUT=10",
        ),
        (
            "zitadel_timeout",
            "0",
            "must be more than 0 seconds, not 0; for example ZITADEL_TIMEOUT=10",
        ),
        (
            "api_timeout",
            "5000",
            "must be at most 3600 seconds, not 5000; for example API_TIMEOUT=30",
        ),
        ("access_log", "maybe", "'maybe' is not true or false; for example ACCESS_LOG=true"),
        (
            "zitadel_jwt_access_tokens",
            "2",
            "'2' is not true or false; for example ZITADEL_JWT_ACCESS_TOKENS=true",
        ),
        (
            "log_level",
            "loud",
            "'loud' is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG; "
            "for example LOG_LEVEL=INFO",
        ),
        ("log_format", "xml", "'xml' is not one of text, json; for example LOG_FORMAT=json"),
        (
            "zitadel_id_token_alg",
            "HS256",
            "'HS256' is not an asymmetric JWS algorithm (RS256, RS384, RS512, ES256, ES384, "
            "ES512, PS256, EdDSA); for example ZITADEL_ID_TOKEN_ALG=RS256",
        ),
        (
            "zitadel_post_logout_url",
            "logout",
            "must be an absolute http(s) URL, e.g. https://app.example.com/auth/logout/callback",
        ),
        (
            "zitadel_callback_url",
            "http://app.example.com/auth/callback",
            "must use https (plain http is allowed only for localhost/loopback), "
            "e.g. https://app.example.com/auth/callback",
        ),
        (
            "zitadel_client_id",
            "",
            "is empty; for example ZITADEL_CLIENT_ID=243864426485212395@my-project",
        ),
    ],
)
def test_each_kind_of_bad_value_is_said_in_our_words_with_an_example(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    problems = problems_from_environment(monkeypatch, **{variable: value})
    assert problems == {variable.upper(): message}


def fields_of_type(*kinds: type) -> list[str]:
    """The settings pydantic parses as one of ``kinds`` (optional ones included)."""
    return [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation in kinds or set(get_args(field.annotation)) & set(kinds)
    ]


@pytest.mark.parametrize("variable", fields_of_type(int, float, bool))
def test_no_number_or_switch_is_left_to_pydantic_s_words(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """Every typed variable, present and future, has our wording and an example that works."""
    [message] = problems_from_environment(monkeypatch, **{variable: "x"}).values()
    assert message.startswith("'x' is not ")
    _, _, suggestion = message.partition("; for example ")
    name, _, value = suggestion.partition("=")
    assert name == variable.upper()
    assert load_settings(None, **{**GOOD, variable: value})  # the example is a valid value


def test_a_missing_variable_says_what_would_do(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    assert info.value.problems == {
        "SESSION_SECRET": "is required but not set; run `zitadel-bff secret` for one",
        "ZITADEL_CALLBACK_URL": "is required but not set; "
        "for example ZITADEL_CALLBACK_URL=https://app.example.com/auth/callback",
        "ZITADEL_CLIENT_ID": "is required but not set; "
        "for example ZITADEL_CLIENT_ID=243864426485212395@my-project",
        "ZITADEL_DOMAIN": "is required but not set; "
        "for example ZITADEL_DOMAIN=https://my-org.zitadel.cloud",
        "ZITADEL_POST_LOGOUT_URL": "is required but not set; "
        "for example ZITADEL_POST_LOGOUT_URL=https://app.example.com/auth/logout/callback",
    }


def test_an_empty_optional_variable_means_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("METRICS_PORT", "")
    monkeypatch.setenv("ACCESS_LOG", " ")
    settings = load_settings(None, **GOOD)
    assert (settings.metrics_port, settings.access_log) == (None, None)


# Values that cannot work -------------------------------------------------------------------


def test_the_env_example_placeholders_are_the_ones_refused() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    lines = set(example.read_text().splitlines())
    assert {
        f"SESSION_SECRET={PLACEHOLDER_SECRET}",
        f"ZITADEL_DOMAIN={PLACEHOLDER_DOMAIN}",
        f"ZITADEL_CLIENT_ID={PLACEHOLDER_CLIENT_ID}",
    } <= lines


@pytest.mark.parametrize(
    "domain", [PLACEHOLDER_DOMAIN, "my-instance.zitadel.cloud", "HTTPS://My-Instance.zitadel.cloud/"]
)
def test_the_placeholder_domain_is_refused(domain: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, "zitadel_domain": domain})
    assert info.value.problems == {
        "ZITADEL_DOMAIN": "still the placeholder from .env.example: put your ZITADEL "
        "instance's domain, e.g. https://my-org.zitadel.cloud"
    }


def test_the_placeholder_client_id_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, "zitadel_client_id": PLACEHOLDER_CLIENT_ID})
    assert info.value.problems == {
        "ZITADEL_CLIENT_ID": "still the placeholder from .env.example: put the Client ID of "
        "your ZITADEL application (the console shows it on the application's page)"
    }


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://app.example.com/callback", "'/callback'"),
        ("https://app.example.com", "'/'"),
        ("https://app.example.com/auth/callback/", "'/auth/callback/'"),
        ("https://app.example.com/api/auth/callback/zitadel", "'/api/auth/callback/zitadel'"),
    ],
)
def test_a_callback_url_the_app_does_not_answer_is_refused(url: str, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, "zitadel_callback_url": url})
    assert info.value.problems == {
        "ZITADEL_CALLBACK_URL": f"the path is {path}, but the app receives the sign-in at "
        f"{CALLBACK_PATH}: set ZITADEL_CALLBACK_URL=https://app.example.com/auth/callback "
        "(and register that redirect URI in ZITADEL)"
    }


def test_a_callback_below_a_mount_prefix_is_accepted() -> None:
    url = "https://example.com/bff/auth/callback"  # an app mounted at /bff (ASGI root_path)
    assert load_settings(None, **{**GOOD, "zitadel_callback_url": url}).zitadel_callback_url == url


def test_check_refuses_a_post_logout_url_on_another_origin() -> None:
    settings = load_settings(
        None, **{**GOOD, "zitadel_post_logout_url": "https://www.example.com/bye"}
    )  # a server starts with it: the sign-out works, its confirmation never shows
    assert settings.check_problems() == {
        "ZITADEL_POST_LOGOUT_URL": "is on https://www.example.com, not on the app's origin "
        "https://app.example.com (from ZITADEL_CALLBACK_URL): set "
        "ZITADEL_POST_LOGOUT_URL=https://app.example.com/auth/logout/callback"
    }
    assert load_settings(None, **GOOD).check_problems() == {}


# What the sessions need --------------------------------------------------------------------


def test_session_settings_need_neither_the_provider_nor_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("SESSION_SECRET", "s" * 32)
    monkeypatch.setenv("PORT", "not-read")  # only SESSION_*, LOG_* are read
    settings = load_session_settings(None)
    assert settings.session_store == "sqlite:///./data/sessions.db"
    assert settings.session_secret.get_secret_value() == "s" * 32
    assert not hasattr(settings, "zitadel_domain")


@pytest.mark.parametrize(
    ("variables", "problems"),
    [
        ({}, {"SESSION_SECRET": "is required but not set; run `zitadel-bff secret` for one"}),
        (
            {"SESSION_SECRET": PLACEHOLDER_SECRET, "SESSION_STORE": "mysql://x"},
            {
                "SESSION_SECRET": "is the .env.example placeholder; "
                "run `zitadel-bff secret` for a new one",
                "SESSION_STORE": "must be sqlite:///path, memory://, redis://host:port/db, "
                "redis+sentinel://host:port,.../master/db or redis+cluster://host:port,.../",
            },
        ),
        (
            {"SESSION_SECRET": "s" * 32, "SESSION_SECRET_PREVIOUS": "s" * 32},
            {"SESSION_SECRET_PREVIOUS": "must not repeat SESSION_SECRET"},
        ),
    ],
    ids=["nothing", "placeholder-and-store", "repeated-secret"],
)
def test_session_settings_are_refused_as_the_full_settings_are(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], problems: dict[str, str]
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_session_settings(None)
    assert info.value.problems == problems
    provider = {k: v for k, v in GOOD.items() if not k.startswith("session_")}
    with pytest.raises(ConfigError) as full:
        load_settings(None, **provider)
    assert full.value.problems == problems  # the same words


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///./data/sessions.db", "sqlite:///./data/sessions.db"),
        ("memory://", "memory://"),
        ("redis://:s3cret@cache:6379/0?password=s3cret", "redis://cache:6379/0"),
        ("rediss://user:s3cret@cache.example.com", "rediss://cache.example.com"),
        ("redis+sentinel://:s3cret@h1:26379,h2:26379/mymaster/0",
         "redis+sentinel://h1:26379,h2:26379/mymaster/0"),
    ],
)
def test_a_store_url_is_shown_without_credentials(url: str, shown: str) -> None:
    assert display_store_url(url) == shown
