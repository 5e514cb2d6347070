"""The proxy's pure parts: path joining, prefix matching, header filtering, configuration."""

from __future__ import annotations

import pytest

from tests.conftest import settings_for
from zitadel_bff import ConfigError, ZitadelAuth
from zitadel_bff.auth.proxy import ProxyConfig
from zitadel_bff.errors import BadRequest
from zitadel_bff.web import Upstream, client_request_headers, upstream_path

ISSUER = "http://127.0.0.1:9000"


def settings(**overrides):
    return settings_for(3000, ISSUER, "memory://", **overrides)


@pytest.mark.parametrize(
    ("raw", "skip", "base", "expected"),
    [
        (b"/api/orders/42", 2, "/v1", "/v1/42"),
        (b"/api/orders", 2, "/v1", "/v1"),
        (b"/api/orders/", 2, "/v1", "/v1/"),
        (b"/api/orders", 2, "", "/"),
        (b"/api/orders/a%20b/c%2Bd", 2, "", "/a%20b/c%2Bd"),
        (b"/x/y", 0, "", "/x/y"),
        (b"/", 0, "/base", "/base/"),
        (b"/api/orders/...", 2, "", "/..."),  # three dots are a name, not a step up
        (b"/api/orders/a..b", 2, "", "/a..b"),
    ],
)
def test_upstream_path_joins_below_the_base(raw, skip, base, expected):
    assert upstream_path(raw, skip, base) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"/a/../b", b"/a/./b", b"/a/..", b"/a/%2e%2e", b"/a/%2E.", b"/a/%252e%252e",
        b"/a/%2f", b"/a/b%2Fc", b"/a/%5c", b"/a/\\b", b"/a//b", b"//host/x", b"/a/%00",
        b"/a/%0a", b"/a/%ff", b"/a/\xc3\xa9", b"/a/b c", b"/a/<x>", b"relative", b"",
        b"/a/%zz",
    ],
)
def test_upstream_path_refuses_escapes_and_ambiguity(raw):
    with pytest.raises(BadRequest):
        upstream_path(raw, 1, "/base")


def test_a_prefix_matches_at_segment_boundaries_only():
    up = Upstream.parse("/api/orders", "http://127.0.0.1:8081/v1")
    assert (up.origin, up.base_path, up.skip) == ("http://127.0.0.1:8081", "/v1", 2)
    assert up.matches("/api/orders") and up.matches("/api/orders/") and up.matches("/api/orders/1")
    assert not up.matches("/api/ordersX") and not up.matches("/api/order")
    assert not up.matches("/api") and not up.matches("/other/api/orders")
    everything = Upstream.parse("/", "https://app.internal")
    assert (everything.origin, everything.base_path, everything.skip) == (
        "https://app.internal", "", 0)
    assert everything.matches("/") and everything.matches("/anything")


def test_the_url_keeps_the_query_and_refuses_raw_spaces():
    up = Upstream.parse("/api", "http://up:1/v1")
    scope = {"path": "/api/x", "raw_path": b"/api/x", "query_string": b"a=1&b=%2F"}
    assert up.url_for(scope) == "http://up:1/v1/x?a=1&b=%2F"
    with pytest.raises(BadRequest):
        up.url_for({**scope, "query_string": b"a=1 b"})


def test_client_headers_are_filtered_and_forwarded_headers_set():
    scope = {
        "client": ("10.0.0.7", 5555),
        "scheme": "https",
        "headers": [
            (b"host", b"app.example.com"),
            (b"cookie", b"zbff_session=secret"),
            (b"authorization", b"Bearer browser"),
            (b"x-csrf-token", b"t"),
            (b"connection", b"keep-alive, x-private"),
            (b"x-private", b"1"),
            (b"transfer-encoding", b"chunked"),
            (b"x-forwarded-user", b"evil"),
            (b"x_forwarded_user", b"evil"),
            (b"x-auth-request-groups", b"admin"),
            (b"forwarded", b"for=1.2.3.4"),
            (b"x-real-ip", b"1.2.3.4"),
            (b"accept", b"application/json"),
            (b"x-request-id", b"abc"),
        ],
    }
    assert client_request_headers(scope) == [
        ("accept", "application/json"),
        ("x-request-id", "abc"),
        ("x-forwarded-for", "10.0.0.7"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
    ]


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
        ("api_timeout", "0", "greater than 0"),
    ],
)
def test_bad_proxy_settings_are_refused_with_a_reason(variable, value, reason):
    with pytest.raises(ConfigError) as caught:
        settings(**{variable: value})
    assert reason in caught.value.problems[variable.upper()]


def test_proxy_settings_are_normalised():
    s = settings(api_routes=" /api/orders/ = http://127.0.0.1:8081/v1/ ,/api/users=https://u",
                 upstream_url="http://127.0.0.1:8000/", public_paths="/, /public/,/static")
    assert s.api_route_map == {"/api/orders": "http://127.0.0.1:8081/v1",
                               "/api/users": "https://u"}
    assert s.upstream_url == "http://127.0.0.1:8000"
    assert s.public_path_list == ("/", "/public", "/static")
    assert s.api_timeout == 30


def test_public_paths_match_whole_segments_and_slash_is_the_root_only():
    config = ProxyConfig(settings(public_paths="/,/public,/a/b"))
    assert [config.is_public(p) for p in ("/", "/public", "/public/x", "/a/b/c")] == [True] * 4
    for path in ("/publicity", "/x", "/a", "/a/bc", "/index.html"):
        assert not config.is_public(path), path


def test_routes_declared_in_code_join_api_routes():
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
