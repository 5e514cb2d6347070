"""The provider client against scripted HTTP answers: discovery, the token endpoint, userinfo,
revocation and the end-session URL, and what each failure becomes (OIDC Core, RFC 7009,
RP-Initiated Logout 1.0); then each call against a provider that really fails on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from tests.support.broken import answering, closed_port, silent
from tests.support.hostile import HOSTILE, LONG, check_said
from tests.support.tokens import CLIENT, ISSUER, KEY, sign
from zitadel_bff import (
    InvalidIDToken,
    OIDCClient,
    ProviderMisconfigured,
    ProviderUnavailable,
    TokenExchangeFailed,
    UserinfoMismatch,
)
from zitadel_bff.oidc import client as client_module
from zitadel_bff.oidc.client import AuthRequest

Handler = Callable[[httpx.Request], httpx.Response]
AsyncHandler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
SUB = "301234567890123456"
DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_URL = ISSUER + DISCOVERY_PATH
TOKEN_URL = f"{ISSUER}/oauth/v2/token"
USERINFO_URL = f"{ISSUER}/oidc/v1/userinfo"
REVOKE_URL = f"{ISSUER}/oauth/v2/revoke"
REQUEST = AuthRequest(state="s", nonce="n", code_verifier="v" * 43)


def discovery(**changes: Any) -> dict[str, Any]:
    doc = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/oauth/v2/authorize",
        "token_endpoint": f"{ISSUER}/oauth/v2/token",
        "jwks_uri": f"{ISSUER}/oauth/v2/keys",
        "userinfo_endpoint": f"{ISSUER}/oidc/v1/userinfo",
        "revocation_endpoint": f"{ISSUER}/oauth/v2/revoke",
        "end_session_endpoint": f"{ISSUER}/oidc/v1/end_session",
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


class Provider:
    """Discovery (``doc``) and the JWKS; every other path answers as ``routes`` say."""

    def __init__(self, doc: dict[str, Any] | None = None, **routes: Handler) -> None:
        self.doc = doc if doc is not None else discovery()
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            return unreachable(request)
        if request.url.path == DISCOVERY_PATH:
            return httpx.Response(200, json=self.doc)
        if request.url.path == "/oauth/v2/keys":
            return httpx.Response(200, json={"keys": [KEY.as_dict(private=False)]})
        name = request.url.path.rsplit("/", 1)[-1]
        return self.routes[name](request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def client_for(handler: Handler | AsyncHandler) -> OIDCClient:
    return client_on(httpx.MockTransport(handler))


def client_on(transport: httpx.AsyncBaseTransport, timeout: float = 10.0) -> OIDCClient:
    return OIDCClient(
        issuer=ISSUER,
        client_id=CLIENT,
        client_secret="secret",
        redirect_uri="https://app.example/auth/callback",
        scopes=["openid"],
        timeout=timeout,
        transport=transport,
    )


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


UNREACHABLE = "failed: ConnectError (connection refused)"


def answer(status: int, **kwargs: Any) -> Handler:
    return lambda request: httpx.Response(status, **kwargs)


# Discovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (
            httpx.Response(200, json=discovery(token_endpoint=None, jwks_uri=None)),
            ProviderMisconfigured,
            "discovery lacks token_endpoint, jwks_uri",
        ),
        (
            httpx.Response(200, text="<html>login</html>"),
            ProviderMisconfigured,
            f"GET {DISCOVERY_URL} did not return JSON (but text/plain; charset=utf-8)",
        ),
        (
            httpx.Response(200, json=[discovery()]),
            ProviderMisconfigured,
            f"GET {DISCOVERY_URL} did not return a JSON object (but a JSON array)",
        ),
        (
            httpx.Response(502, text="bad gateway"),
            ProviderUnavailable,
            f"GET {DISCOVERY_URL} answered 502",
        ),
        (  # the provider answers, but not there: ZITADEL_DOMAIN is wrong
            httpx.Response(404, text="instance not found"),
            ProviderMisconfigured,
            f"GET {DISCOVERY_URL} answered 404",
        ),
        (
            httpx.Response(301, headers={"location": "https://elsewhere.example/"}),
            ProviderMisconfigured,
            f"GET {DISCOVERY_URL} answered 301, a redirect to https://elsewhere.example/",
        ),
    ],
    ids=["missing-endpoints", "html", "array", "bad-gateway", "not-found", "redirect"],
)
async def test_unusable_discovery_documents_are_refused(
    response: httpx.Response, error: type[Exception], message: str
) -> None:
    client = client_for(lambda request: response)
    with pytest.raises(error) as info:
        await client.metadata()
    assert str(info.value) == message


#: What a broken or hostile provider may answer, and how what is said about it begins: its
#: text shown on one line (escaped) and cut.
HOSTILE_ANSWERS: dict[str, tuple[Handler, str]] = {
    "discovery-issuer": (
        answer(200, json=discovery(issuer=HOSTILE + LONG)),
        "discovery issuer 'invalid_grant\\r\\n2030-01-01 ",
    ),
    "redirect": (  # httpx refuses a Location with an ASCII control; C1 and length pass
        answer(302, headers=[(b"location", b"https://e.example/\x9b2J" + LONG.encode())]),
        f"GET {DISCOVERY_URL} answered 302, a redirect to https://e.example/\\x9b2JAAA",
    ),
    "content-type": (
        answer(200, text="<html>", headers=[(b"content-type", b"text/html\x1b[2J\x9b31m")]),
        f"GET {DISCOVERY_URL} did not return JSON (but text/html\\x1b[2J\\x9b31m)",
    ),
}


@pytest.mark.parametrize(("response", "begins"), HOSTILE_ANSWERS.values(), ids=HOSTILE_ANSWERS)
async def test_a_hostile_discovery_answer_is_told_on_one_short_line(
    response: Handler, begins: str
) -> None:
    with pytest.raises(ProviderMisconfigured) as info:
        await client_for(response).metadata()
    said = str(info.value)
    check_said(said)
    assert said.startswith(begins)


async def test_discovery_is_loaded_once_by_concurrent_callers() -> None:
    provider = Provider()
    entered, gate = asyncio.Event(), asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        entered.set()
        await gate.wait()  # the first caller is still loading when the second one asks
        return provider(request)

    client = client_for(slow)
    calls = [asyncio.ensure_future(client.metadata()) for _ in range(2)]
    await entered.wait()
    gate.set()
    first, second = await asyncio.gather(*calls)
    assert first is second
    assert provider.paths() == [DISCOVERY_PATH]


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (unreachable, f"GET {DISCOVERY_URL} {UNREACHABLE}"),
        (answer(404), f"GET {DISCOVERY_URL} answered 404"),
        (
            answer(200, text="<html>"),
            f"GET {DISCOVERY_URL} did not return JSON (but text/plain; charset=utf-8)",
        ),
    ],
    ids=["unreachable", "not-found", "not-json"],
)
async def test_a_failed_reload_keeps_the_cached_document(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, failure: Handler, cause: str
) -> None:
    provider = Provider()
    paths: list[str] = []

    def first_then_failing(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return failure(request) if paths[1:] else provider(request)

    client = client_for(first_then_failing)
    cached = await client.metadata()
    monkeypatch.setattr(client_module, "DISCOVERY_TTL", 0.0)  # the hour has passed
    assert await client.metadata() is cached
    assert paths == [DISCOVERY_PATH, DISCOVERY_PATH]  # it did try again
    assert [r.getMessage() for r in caplog.records] == [
        f"discovery reload failed ({cause}); keeping the cached document"
    ]


# The token endpoint -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "error", "message"),
    [
        (answer(502, text="bad gateway"), ProviderUnavailable, f"POST {TOKEN_URL} answered 502"),
        (unreachable, ProviderUnavailable, f"POST {TOKEN_URL} {UNREACHABLE}"),
        (  # a gateway's page instead of an OAuth error: Authlib raises the status
            answer(404, text="<html>not found</html>"),
            ProviderUnavailable,
            f"POST {TOKEN_URL} answered 404",
        ),
        (
            answer(400, json={"error": "invalid_grant"}),
            TokenExchangeFailed,
            "token endpoint refused: invalid_grant",
        ),
        (
            answer(200, json={"token_type": "Bearer"}),
            TokenExchangeFailed,
            "the token response has no access_token",
        ),
        (
            answer(200, json={"access_token": "at", "token_type": "Bearer"}),
            InvalidIDToken,
            "the token response has no id_token",
        ),
    ],
    ids=["bad-gateway", "unreachable", "not-found", "refused", "no-access-token", "no-id-token"],
)
async def test_what_a_failed_code_exchange_becomes(
    token: Handler, error: type[Exception], message: str
) -> None:
    client = client_for(Provider(token=token))
    with pytest.raises(error) as info:
        await client.exchange_code("code", REQUEST)
    assert str(info.value) == message


@pytest.mark.parametrize("field", ["error", "error_description"])
async def test_a_hostile_oauth_error_is_told_on_one_short_line(field: str) -> None:
    """The token endpoint's ``error`` is repeated (escaped, cut), its ``error_description``
    never: it may be anything at all."""
    refusal = {"error": "invalid_grant", field: HOSTILE + LONG}
    client = client_for(Provider(token=answer(400, json=refusal)))
    with pytest.raises(TokenExchangeFailed) as info:
        await client.exchange_code("code", REQUEST)
    said = str(info.value)
    check_said(said)
    assert said.startswith("token endpoint refused: invalid_grant")


#: 200 answers that are no JSON object, and what is said about each after the endpoint's URL:
#: the content type or the kind of JSON value, never the body.
NOT_JSON_OBJECTS: dict[str, tuple[Handler, str]] = {
    "html": (
        answer(200, text="<html>sign in</html>", headers={"content-type": "text/html"}),
        "did not return JSON (but text/html)",
    ),
    "plain-text": (answer(200, text="ok"), "did not return JSON (but text/plain; charset=utf-8)"),
    "invalid-json": (
        answer(200, content=b'{"access_token": "at', headers={"content-type": "application/json"}),
        "did not return JSON (but application/json)",
    ),
    "empty": (answer(200), "did not return JSON (but an empty body)"),
    "array": (
        answer(200, json=[{"access_token": "at"}]),
        "did not return a JSON object (but a JSON array)",
    ),
    "string": (answer(200, json="at"), "did not return a JSON object (but a JSON string)"),
}
TOKEN_CALLS: dict[str, Callable[[OIDCClient], Awaitable[object]]] = {
    "code-exchange": lambda c: c.exchange_code("the-code", REQUEST),
    "refresh": lambda c: c.refresh("the-refresh-token", sub=SUB),
}


@pytest.mark.parametrize("answered", NOT_JSON_OBJECTS)
@pytest.mark.parametrize("call", TOKEN_CALLS)
async def test_a_token_answer_that_is_no_json_object_is_refused(call: str, answered: str) -> None:
    # Authlib raises a bare ValueError for these, which would escape as a 500.
    token, said = NOT_JSON_OBJECTS[answered]
    with pytest.raises(ProviderMisconfigured) as info:
        await TOKEN_CALLS[call](client_for(Provider(token=token)))
    assert str(info.value) == f"POST {TOKEN_URL} {said}"


@pytest.mark.parametrize(
    "token",
    [
        {"access_token": "at", "expires_in": "soon"},
        {"access_token": "at", "expires_in": [3600]},
        {"access_token": "at", "expires_at": {"at": 1}},
    ],
    ids=["text", "array", "object-expires-at"],
)
@pytest.mark.parametrize("call", TOKEN_CALLS)
async def test_a_token_answer_with_an_unreadable_expiry_is_refused(
    call: str, token: dict[str, Any]
) -> None:
    # Authlib turns these into whole seconds with int(), which raises.
    with pytest.raises(ProviderMisconfigured) as info:
        await TOKEN_CALLS[call](client_for(Provider(token=answer(200, json=token))))
    assert str(info.value) == (
        f"POST {TOKEN_URL} answered a token response whose expires_in or expires_at is no number"
    )


async def test_an_infinite_expiry_is_refused() -> None:
    # 1e400 is JSON, and a float infinity to Python: int() overflows.
    token = answer(200, content=b'{"access_token": "at", "expires_in": 1e400}')
    with pytest.raises(ProviderMisconfigured):
        await client_for(Provider(token=token)).refresh("rt-1", sub=SUB)


async def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    # expires_in true is no number of seconds (though bool is an int in Python): the expiry
    # is unknown, not one second away.
    token = answer(200, json={"access_token": "at-2", "token_type": "Bearer", "expires_in": True})
    tokens = await client_for(Provider(token=token)).refresh("rt-1", sub=SUB)
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_at) == ("at-2", "rt-1", None)
    assert (tokens.id_token, tokens.id_claims) == (None, {})


# Userinfo -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("userinfo", "error", "message"),
    [
        (unreachable, ProviderUnavailable, f"GET {USERINFO_URL} {UNREACHABLE}"),
        (answer(502), ProviderUnavailable, f"GET {USERINFO_URL} answered 502"),
        (answer(403), UserinfoMismatch, f"GET {USERINFO_URL} answered 403"),
        (
            answer(200, text="not json"),
            UserinfoMismatch,
            f"GET {USERINFO_URL} did not return JSON (but text/plain; charset=utf-8)",
        ),
        (
            answer(200, json={"sub": "someone-else"}),
            UserinfoMismatch,
            "userinfo sub differs from the ID token's",
        ),
        (
            answer(200, json=[SUB]),
            UserinfoMismatch,
            f"GET {USERINFO_URL} did not return a JSON object (but a JSON array)",
        ),
    ],
    ids=["unreachable", "bad-gateway", "forbidden", "not-json", "other-sub", "array"],
)
async def test_what_a_failed_userinfo_becomes(
    userinfo: Handler, error: type[Exception], message: str
) -> None:
    client = client_for(Provider(userinfo=userinfo))
    with pytest.raises(error) as info:
        await client.userinfo("at", expected_sub=SUB)
    assert str(info.value) == message


@pytest.mark.parametrize("answered", NOT_JSON_OBJECTS)
async def test_an_introspection_answer_that_is_no_json_object_is_refused(answered: str) -> None:
    introspect, said = NOT_JSON_OBJECTS[answered]
    url = f"{ISSUER}/oauth/v2/introspect"
    client = client_for(Provider(discovery(introspection_endpoint=url), introspect=introspect))
    with pytest.raises(ProviderMisconfigured) as info:
        await client.introspect("at")
    assert str(info.value) == f"POST {url} {said}"


async def test_signed_userinfo_is_verified_with_the_providers_keys() -> None:
    jwt = sign({"sub": SUB, "iss": ISSUER, "aud": CLIENT, "name": "Ada"})
    signed = answer(200, text=jwt, headers={"content-type": "application/jwt; charset=utf-8"})
    claims = await client_for(Provider(userinfo=signed)).userinfo("at", expected_sub=SUB)
    assert claims == {"sub": SUB, "iss": ISSUER, "aud": CLIENT, "name": "Ada"}


async def test_without_a_userinfo_endpoint_there_are_no_extra_claims() -> None:
    provider = Provider(discovery(userinfo_endpoint=None))
    assert await client_for(provider).userinfo("at", expected_sub=SUB) == {}
    assert provider.paths() == [DISCOVERY_PATH]


# Revocation and the end-session URL ---------------------------------------------------------


async def test_revocation_posts_the_token_with_its_hint() -> None:
    provider = Provider(revoke=answer(200))
    assert await client_for(provider).revoke("rt-1") is True
    revoke = provider.requests[-1]
    assert revoke.content == b"token=rt-1&token_type_hint=refresh_token"


@pytest.mark.parametrize(
    ("revoke", "logged"),
    [
        (unreachable, f"token revocation: POST {REVOKE_URL} {UNREACHABLE}"),
        (
            answer(400, json={"error": "unsupported_token_type"}),
            f"token revocation: POST {REVOKE_URL} answered 400",
        ),
    ],
    ids=["unreachable", "refused"],
)
async def test_a_failed_revocation_is_logged_and_reported(
    revoke: Handler, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="zitadel_bff.oidc.client")
    assert await client_for(Provider(revoke=revoke)).revoke("rt-1") is False
    assert [r.getMessage() for r in caplog.records] == [logged]


@pytest.mark.parametrize(
    "body", [b"", b"<html>revoked</html>", b"[]"], ids=["empty", "html", "array"]
)
async def test_any_body_of_a_successful_revocation_is_ignored(body: bytes) -> None:
    # RFC 7009 2.2: the client ignores the content of the response body.
    revoke = answer(200, content=body, headers={"content-type": "text/html"})
    assert await client_for(Provider(revoke=revoke)).revoke("rt-1") is True


async def test_without_a_revocation_endpoint_nothing_is_revoked() -> None:
    provider = Provider(discovery(revocation_endpoint=None))
    assert await client_for(provider).revoke("rt-1") is False
    assert provider.paths() == [DISCOVERY_PATH]


async def test_the_end_session_url() -> None:
    client = client_for(Provider(discovery(end_session_endpoint=f"{ISSUER}/logout?ui=1")))
    url = await client.end_session_url(
        id_token_hint=None, post_logout_redirect_uri="https://app.example/bye", state="st"
    )
    assert url == (
        f"{ISSUER}/logout?ui=1&client_id=243864426485212395%40project"
        "&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=st"
    )
    none = client_for(Provider(discovery(end_session_endpoint=None)))
    assert (
        await none.end_session_url(
            id_token_hint="id", post_logout_redirect_uri="https://app.example/bye", state="st"
        )
        is None
    )


# Each call against a provider that really fails -----------------------------------------------

#: The client's timeout where the provider never answers (seconds).
SHORT_TIMEOUT = 0.2
#: The request's secrets, none of which may be in what is said about a failure.
SECRETS = ("the-code", REQUEST.code_verifier, "the-refresh-token", "the-access-token", "secret")


class DiscoveryHere(httpx.AsyncBaseTransport):
    """Discovery and the keys from ``provider``; every other call goes out on the network."""

    def __init__(self, provider: Provider) -> None:
        self.provider = httpx.MockTransport(provider)
        self.network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path in (DISCOVERY_PATH, "/oauth/v2/keys"):
            return await self.provider.handle_async_request(request)
        return await self.network.handle_async_request(request)

    async def aclose(self) -> None:
        await self.network.aclose()


@contextmanager
def refused() -> Iterator[str]:
    yield f"http://127.0.0.1:{closed_port()}"


#: How the provider fails (its base URL), and what is said about it at ``{address}``.
FAULTS: dict[str, tuple[Callable[[], AbstractContextManager[str]], str]] = {
    "refused": (refused, "failed: connection refused by {address}"),
    "server-error": (
        lambda: answering(500, "<html>internal error</html>"),
        "answered 500",
    ),
    "silent": (silent, f"failed: no answer from {{address}} within {SHORT_TIMEOUT:g} s"),
}

#: Each call: its method, its endpoint's path and how the client makes it.
CALLS: dict[str, tuple[str, str, Callable[[OIDCClient], Awaitable[object]]]] = {
    "code-exchange": ("POST", "/oauth/v2/token", lambda c: c.exchange_code("the-code", REQUEST)),
    "refresh": ("POST", "/oauth/v2/token", lambda c: c.refresh("the-refresh-token", sub=SUB)),
    "userinfo": (
        "GET",
        "/oidc/v1/userinfo",
        lambda c: c.userinfo("the-access-token", expected_sub=SUB),
    ),
    "introspection": ("POST", "/oauth/v2/introspect", lambda c: c.introspect("the-access-token")),
}


def endpoints_at(base: str) -> Provider:
    """A provider whose discovery sends every call but discovery and keys to ``base``."""
    return Provider(
        discovery(
            token_endpoint=f"{base}/oauth/v2/token",
            userinfo_endpoint=f"{base}/oidc/v1/userinfo",
            revocation_endpoint=f"{base}/oauth/v2/revoke",
            introspection_endpoint=f"{base}/oauth/v2/introspect",
        )
    )


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("call", CALLS)
async def test_a_failed_call_says_which_endpoint_and_what_failed(fault: str, call: str) -> None:
    method, path, make = CALLS[call]
    broken, said = FAULTS[fault]
    with broken() as base:
        client = client_on(DiscoveryHere(endpoints_at(base)), timeout=SHORT_TIMEOUT)
        with pytest.raises(ProviderUnavailable) as info:
            await make(client)
        await client.aclose()
    address = base.removeprefix("http://")
    assert str(info.value) == f"{method} {base}{path} {said.format(address=address)}"
    assert not [s for s in SECRETS if s in str(info.value)]


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_failed_revocation_logs_what_failed(
    fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="zitadel_bff.oidc.client")
    broken, said = FAULTS[fault]
    with broken() as base:
        client = client_on(DiscoveryHere(endpoints_at(base)), timeout=SHORT_TIMEOUT)
        assert await client.revoke("the-refresh-token") is False
        await client.aclose()
    address = base.removeprefix("http://")
    assert [r.getMessage() for r in caplog.records] == [
        f"token revocation: POST {base}/oauth/v2/revoke {said.format(address=address)}"
    ]


#: What each call raises when the provider answers 200 with an HTML page.
NOT_JSON_ERRORS: dict[str, type[Exception]] = {
    "code-exchange": ProviderMisconfigured,
    "refresh": ProviderMisconfigured,
    "userinfo": UserinfoMismatch,
    "introspection": ProviderMisconfigured,
}


@pytest.mark.parametrize("call", CALLS)
async def test_an_html_page_instead_of_json_says_which_endpoint_and_what_came_back(
    call: str,
) -> None:
    # e.g. a proxy's or a captive portal's sign-in page, answered with 200.
    method, path, make = CALLS[call]
    with answering(200, "<html>the-access-token</html>") as base:
        client = client_on(DiscoveryHere(endpoints_at(base)))
        with pytest.raises(NOT_JSON_ERRORS[call]) as info:
            await make(client)
        await client.aclose()
    said = "did not return JSON (but text/html; charset=utf-8)"
    assert str(info.value) == f"{method} {base}{path} {said}"
    assert not [s for s in SECRETS if s in str(info.value)]
