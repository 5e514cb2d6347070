from pathlib import Path

import pytest

from zitadel_bff.config import DEFAULT_SCOPES, PLACEHOLDER_SECRET, is_loopback_host, load_settings
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
        ({"port": "abc"}, "PORT", "integer"),
        ({"session_duration": 5}, "SESSION_DURATION", "60"),
        ({"log_level": "LOUD"}, "LOG_LEVEL", "one of"),
        ({"zitadel_client_id": ""}, "ZITADEL_CLIENT_ID", "at least 1"),
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
        ({"metrics_port": 0}, "METRICS_PORT", "Input should be greater than or equal to 1"),
        ({"metrics_port": GOOD.get("port", 3000)}, "METRICS_PORT",
         "must differ from PORT (both 3000)"),
        ({"log_format": "xml"}, "LOG_FORMAT", "must be one of text, json"),
        ({"shutdown_timeout": 0}, "SHUTDOWN_TIMEOUT",
         "Input should be greater than or equal to 1"),
    ],
)
def test_operations_settings_fail_fast_naming_the_variable(
    overrides: dict[str, object], name: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**GOOD, **overrides})
    assert info.value.problems == {name: message}
