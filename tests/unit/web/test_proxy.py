"""The proxy's pure parts: path joining, prefix matching, header filtering (web/proxy.py)."""

from __future__ import annotations

import pytest

from zitadel_bff.errors import BadRequest
from zitadel_bff.web import Upstream, client_request_headers, upstream_path


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
def test_upstream_path_joins_below_the_base(
    raw: bytes,
    skip: int,
    base: str,
    expected: str,
) -> None:
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
def test_upstream_path_refuses_escapes_and_ambiguity(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        upstream_path(raw, 1, "/base")


def test_a_prefix_matches_at_segment_boundaries_only() -> None:
    up = Upstream.parse("/api/orders", "http://127.0.0.1:8081/v1")
    assert (up.origin, up.base_path, up.skip) == ("http://127.0.0.1:8081", "/v1", 2)
    assert up.matches("/api/orders") and up.matches("/api/orders/") and up.matches("/api/orders/1")
    assert not up.matches("/api/ordersX") and not up.matches("/api/order")
    assert not up.matches("/api") and not up.matches("/other/api/orders")
    everything = Upstream.parse("/", "https://app.internal")
    assert (everything.origin, everything.base_path, everything.skip) == (
        "https://app.internal", "", 0)
    assert everything.matches("/") and everything.matches("/anything")


def test_the_url_keeps_the_query_and_refuses_raw_spaces() -> None:
    up = Upstream.parse("/api", "http://up:1/v1")
    scope = {"path": "/api/x", "raw_path": b"/api/x", "query_string": b"a=1&b=%2F"}
    assert up.url_for(scope) == "http://up:1/v1/x?a=1&b=%2F"
    with pytest.raises(BadRequest):
        up.url_for({**scope, "query_string": b"a=1 b"})


def test_the_url_leaves_out_the_apps_root_path() -> None:
    # uvicorn --root-path /bff puts the root in front of both path and raw_path.
    up = Upstream.parse("/api", "http://up:1/v1")
    scope = {"path": "/bff/api/x", "raw_path": b"/bff/api/x", "root_path": "/bff",
             "query_string": b""}
    assert up.url_for(scope) == "http://up:1/v1/x"


def test_client_headers_are_filtered_and_forwarded_headers_set() -> None:
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
            (b"content-length", b"5"),  # framing is the proxy's own to set
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
        (b"accept", b"application/json"),
        (b"x-request-id", b"abc"),
        (b"x-forwarded-for", b"10.0.0.7"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"app.example.com"),
    ]
