"""describe_failure and describe_call: what an httpx error to the provider says. The common
failures are met for real through ``zitadel-bff check`` (tests/unit/app/test_cli.py) and each
call of the client (tests/unit/oidc/test_client.py); here the rest, one each."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.broken import answering
from tests.support.hostile import HOSTILE, check_said
from tests.support.hostile import LONG as TEN_THOUSAND
from zitadel_bff.oidc.failures import describe_call, describe_failure, describe_not_json

URL = "https://idp.example.com/.well-known/openid-configuration"
LONG = "text/html; " + "a" * 300


def behind(
    cause: BaseException, error: type[httpx.TransportError] = httpx.ConnectError
) -> httpx.HTTPError:
    """``error`` raised from ``cause``, as httpx raises its errors from httpcore's."""
    exc = error(str(cause))
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (
            behind(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")),
            "failed: DNS lookup of idp.example.com failed: Temporary failure in name resolution",
        ),
        (
            behind(ConnectionResetError(104, "Connection reset by peer"), httpx.ReadError),
            "failed: idp.example.com:443: Connection reset by peer",
        ),
        (  # several addresses, each refused
            behind(BaseExceptionGroup("attempts", [ConnectionRefusedError(111, "refused")])),
            "failed: connection refused by idp.example.com:443",
        ),
        (httpx.ConnectTimeout(""), "failed: no connection to idp.example.com:443 within 2.5 s"),
        (httpx.WriteTimeout(""), "failed: no answer from idp.example.com:443 within 2.5 s"),
        (httpx.ConnectError("provider down"), "failed: ConnectError (provider down)"),
        (httpx.RemoteProtocolError(""), "failed: RemoteProtocolError"),
    ],
    ids=["dns-unavailable", "reset", "group", "connect-timeout", "timeout", "bare", "empty"],
)
def test_each_failure_says_what_failed(exc: httpx.HTTPError, said: str) -> None:
    assert describe_failure(exc, URL, timeout=2.5) == said


async def test_https_to_a_server_without_tls_says_so() -> None:
    with answering(200, "{}") as url:
        https = url.replace("http://", "https://") + "/x"
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(https)
    address = url.removeprefix("http://")
    assert describe_failure(info.value, https, timeout=1) == (
        f"failed: TLS handshake with {address}: WRONG_VERSION_NUMBER "
        "(the server there does not speak TLS: http:// instead?)"
    )


def test_a_redirect_says_where_to() -> None:
    request = httpx.Request("GET", URL)
    response = httpx.Response(
        308, headers={"location": "https://idp.example.com/x"}, request=request
    )
    exc = httpx.HTTPStatusError("redirect", request=request, response=response)
    assert describe_failure(exc, URL, timeout=1) == (
        "answered 308, a redirect to https://idp.example.com/x"
    )


def test_a_call_is_named_by_its_method_and_url_without_credentials() -> None:
    url = "https://user:pass@idp.example.com:8443/oauth/v2/token"
    response = httpx.Response(502, request=httpx.Request("POST", url))
    assert describe_call("POST", url, response, timeout=1) == (
        "POST https://idp.example.com:8443/oauth/v2/token answered 502"
    )
    refused = behind(ConnectionRefusedError(111, "refused"))
    assert describe_call("POST", url, refused, timeout=1) == (
        "POST https://idp.example.com:8443/oauth/v2/token failed: "
        "connection refused by idp.example.com:8443"
    )


@pytest.mark.parametrize(
    ("response", "said"),
    [
        (
            httpx.Response(200, text='{"access_token": "at-1"', headers={"content-type": LONG}),
            f"did not return JSON (but {LONG[:100]}... (311 characters))",
        ),
        (httpx.Response(200, content=b"\xff\xfe"), "did not return JSON (but no Content-Type)"),
        (httpx.Response(200, content=b"null"), "did not return a JSON object (but JSON null)"),
        (httpx.Response(200, json=7), "did not return a JSON object (but a JSON number)"),
    ],
    ids=["long-content-type", "not-utf8", "null", "number"],
)
def test_an_answer_that_is_no_json_object_is_named_by_its_kind_never_its_body(
    response: httpx.Response, said: str
) -> None:
    url = "https://user:pass@idp.example.com/oauth/v2/token"
    assert describe_not_json("POST", url, response) == (
        f"POST https://idp.example.com/oauth/v2/token {said}"
    )


def test_an_error_that_repeats_what_the_server_sent_is_told_on_one_short_line() -> None:
    """h11 and httpx put what the server sent into their messages."""
    exc = httpx.RemoteProtocolError(f"illegal header line: {HOSTILE}{TEN_THOUSAND}")
    said = describe_failure(exc, URL, timeout=1)
    check_said(said)
    assert said.startswith("failed: RemoteProtocolError (illegal header line: invalid_grant\\r\\n")
