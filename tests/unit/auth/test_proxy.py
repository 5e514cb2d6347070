"""The proxy's settings (API_ROUTES, UPSTREAM_URL, PUBLIC_PATHS, API_TIMEOUT) and the routes
declared in code (auth/proxy.py ProxyConfig)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.settings import settings_for
from zitadel_bff import ConfigError, Settings, ZitadelAuth
from zitadel_bff.auth.proxy import ProxyConfig

ISSUER = "http://127.0.0.1:9000"


def settings(**overrides: Any) -> Settings:
    return settings_for(3000, ISSUER, "memory://", **overrides)


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("api_routes", "/api", "'/api' must be PREFIX=URL"),
        ("api_routes", "api=http://x", "'api' is not a path: it must start with /"),
        ("api_routes", "/=http://x", "/ cannot be an API prefix"),
        ("api_routes", "/auth/api=http://x", "/auth/api overlaps /auth"),
        ("api_routes", "/healthz=http://x", "/healthz overlaps /healthz"),
        ("api_routes", "/a/../b=http://x", "has an empty, '.' or '..' segment"),
        ("api_routes", "/a%2f=http://x", "may only contain plain path characters"),
        ("api_routes", "/a=ftp://x", "must be an absolute http(s) URL"),
        ("api_routes", "/a=http://x?q=1", "must not have a query"),
        ("api_routes", "/a=http://u:p@x", "credentials in the URL are not supported"),
        ("api_routes", "/a=http://x,/a/=http://y", "/a is listed twice"),
        ("upstream_url", "127.0.0.1:8000", "must be an absolute http(s) URL"),
        ("upstream_url", "http://x:99999", "has an invalid port"),
        ("public_paths", "/ok,nope", "'nope' is not a path"),
        ("api_timeout", "0", "must be more than 0 seconds, not 0"),
    ],
)
def test_bad_proxy_settings_are_refused_with_a_reason(
    variable: str,
    value: str,
    reason: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**{variable: value})
    assert reason in caught.value.problems[variable.upper()]


def test_proxy_settings_are_normalised() -> None:
    s = settings(api_routes=" /api/orders/ = http://127.0.0.1:8081/v1/ ,/api/users=https://u",
                 upstream_url="http://127.0.0.1:8000/", public_paths="/, /public/,/static")
    assert s.api_route_map == {"/api/orders": "http://127.0.0.1:8081/v1",
                               "/api/users": "https://u"}
    assert s.upstream_url == "http://127.0.0.1:8000"
    assert s.public_path_list == ("/", "/public", "/static")
    assert s.api_timeout == 30


def test_public_paths_match_whole_segments_and_slash_is_the_root_only() -> None:
    config = ProxyConfig(settings(public_paths="/,/public,/a/b"))
    assert [config.is_public(p) for p in ("/", "/public", "/public/x", "/a/b/c")] == [True] * 4
    for path in ("/publicity", "/x", "/a", "/a/bc", "/index.html"):
        assert not config.is_public(path), path


def test_routes_declared_in_code_join_api_routes() -> None:
    auth = ZitadelAuth(settings(api_routes="/api/a=http://a"), api_routes={"/api/b": "http://b/v2"})
    auth.add_api_route("/api/c/", "https://c")
    assert {p: (u.origin, u.base_path) for p, u in auth.proxy_config.api.items()} == {
        "/api/a": ("http://a", ""),
        "/api/b": ("http://b", "/v2"),
        "/api/c": ("https://c", ""),
    }
    with pytest.raises(ValueError, match="/api/a is declared twice"):
        auth.add_api_route("/api/a", "http://other")
    with pytest.raises(ValueError, match="overlaps /auth"):
        auth.add_api_route("/auth", "http://other")


def test_api_routes_find_the_longest_prefix() -> None:
    from zitadel_bff.auth.proxy import ApiRoutes
    from zitadel_bff.web import Upstream

    auth = ZitadelAuth(settings())
    upstreams = [Upstream.parse("/api", "http://a"), Upstream.parse("/api/b", "http://b")]
    routes = ApiRoutes(auth, upstreams)
    found = routes.find("/api/b/1")
    assert found is not None and found.origin == "http://b"
    found = routes.find("/api/bx")
    assert found is not None and found.origin == "http://a"
    assert routes.find("/apix") is None
