"""ID-token and logout-token validation (OIDC Core 3.1.3.7, Back-Channel Logout 2.6)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from tests.support.hostile import HOSTILE, LONG, check_said, unsigned_jwt
from tests.support.times import FromNow
from tests.support.tokens import (
    ACCESS,
    CLIENT,
    ISSUER,
    KEY,
    OTHER,
    Fetcher,
    at_hash,
    id_claims,
    logout_claims,
    sign,
    validator,
)
from zitadel_bff.errors import InvalidIDToken, InvalidLogoutToken
from zitadel_bff.oidc.keys import REFETCH_BURST
from zitadel_bff.oidc.tokens import BACKCHANNEL_EVENT


async def test_valid_id_token() -> None:
    claims = await validator().id_token(sign(id_claims()), nonce="n-1", access_token=ACCESS)
    assert claims["sub"] == "301234567890123456" and claims["sid"] == "sid-1"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://evil.example"}, "Invalid claim: 'iss'"),
        ({"aud": ["someone-else"]}, "Invalid claim: 'aud'"),
        ({"aud": "someone-else"}, "Invalid claim: 'aud'"),
        ({"azp": "someone-else"}, "Invalid claim: 'azp'"),
        ({"azp": None}, "Missing claim: 'azp'"),  # several audiences need azp
        ({"exp": FromNow(-10)}, "The token is expired"),
        ({"exp": None}, "Missing claim: 'exp'"),
        ({"iat": None}, "Missing claim: 'iat'"),
        ({"sub": None}, "Missing claim: 'sub'"),
        ({"nonce": "other"}, "Invalid claim: 'nonce'"),
        ({"nonce": None}, "Missing claim: 'nonce'"),
        ({"at_hash": at_hash("another-token")}, "Invalid claim: 'at_hash'"),
    ],
)
async def test_invalid_id_tokens(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidIDToken, match=re.escape(reason)):
        await validator().id_token(sign(id_claims(**changes)), nonce="n-1", access_token=ACCESS)


async def test_wrong_signature_and_algorithms() -> None:
    v = validator()
    token = sign(id_claims())
    head, body, sig = token.split(".")
    with pytest.raises(InvalidIDToken):
        await v.id_token(f"{head}.{body}.{sig[:-4]}AAAA", nonce="n-1")
    none_head = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).decode().rstrip("=")
    with pytest.raises(InvalidIDToken):
        await v.id_token(f"{none_head}.{body}.", nonce="n-1")
    with pytest.raises(InvalidIDToken):
        await v.id_token(sign(id_claims(), key=OTHER, kid="1"), nonce="n-1")
    for junk in ["", "a.b", "a.b.c", "x" * 20000, "....", "e30.e30.e30"]:
        with pytest.raises(InvalidIDToken):
            await v.id_token(junk, nonce="n-1")


async def test_token_without_kid_is_refused_when_several_keys_could_sign_it() -> None:
    fetch = Fetcher(OTHER, KEY)
    with pytest.raises(InvalidIDToken, match="no kid"):
        await validator(fetch).id_token(sign(id_claims(), kid=None), nonce="n-1")


async def test_unknown_kid_refetches_the_jwks_once() -> None:
    fetch = Fetcher(KEY)
    v = validator(fetch)
    await v.id_token(sign(id_claims()), nonce="n-1")
    assert fetch.calls == 1
    fetch.keys = [OTHER]  # the provider rotated its key
    await v.id_token(sign(id_claims(), key=OTHER), nonce="n-1")
    assert fetch.calls == 2
    await v.id_token(sign(id_claims(), key=OTHER), nonce="n-1")
    assert fetch.calls == 2


async def test_forged_kids_are_rate_limited() -> None:
    fetch = Fetcher(KEY)
    v = validator(fetch)
    for i in range(10):
        with pytest.raises(InvalidIDToken):
            await v.id_token(sign(id_claims(), key=OTHER, kid=f"forged-{i}"), nonce="n-1")
    assert fetch.calls == 1 + REFETCH_BURST  # the first load, then the burst; no more


async def test_refreshed_id_token_must_keep_the_subject() -> None:
    v = validator()
    await v.id_token(sign(id_claims(nonce=None)), nonce=None, expected_sub="301234567890123456")
    with pytest.raises(InvalidIDToken):
        await v.id_token(sign(id_claims(nonce=None, sub="1")), nonce=None, expected_sub="2")


async def test_valid_logout_tokens() -> None:
    v = validator()
    assert (await v.logout_token(sign(logout_claims())))["sid"] == "sid-1"
    assert (await v.logout_token(sign(logout_claims(), typ="logout+jwt")))["sid"] == "sid-1"
    by_sub = await v.logout_token(sign(logout_claims(sid=None)))
    assert by_sub["sub"] == "301234567890123456" and "sid" not in by_sub
    by_sid = await v.logout_token(sign(logout_claims(sub=None)))
    assert by_sid["sid"] == "sid-1" and "sub" not in by_sid


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "x"}, "wrong iss"),
        ({"aud": ["x"]}, "wrong aud"),
        ({"iat": None}, "iat missing"),
        ({"iat": FromNow(100)}, "iat in the future"),
        ({"exp": FromNow(-1)}, "expired or exp missing"),
        ({"exp": None}, "expired or exp missing"),
        ({"jti": None}, "jti missing"),
        ({"events": None}, "events claim wrong"),
        ({"events": {BACKCHANNEL_EVENT: "x"}}, "events claim wrong"),
        ({"events": {"other": {}}}, "events claim wrong"),
        ({"nonce": "n"}, "nonce present"),
        ({"sid": None, "sub": None}, "neither sid nor sub"),
    ],
)
async def test_invalid_logout_tokens(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidLogoutToken, match=f"rejected: {reason}$"):
        await validator().logout_token(sign(logout_claims(**changes)))


async def test_logout_token_typ_must_fit() -> None:
    with pytest.raises(InvalidLogoutToken):
        await validator().logout_token(sign(logout_claims(), typ="at+jwt"))


@pytest.mark.parametrize(
    "header",
    [{"alg": HOSTILE + LONG}, {"alg": "RS256", "kid": 7, "typ": "JWT"}, {"alg": ["RS256"]}],
    ids=["hostile-alg", "kid-not-a-string", "alg-a-list"],
)
async def test_a_hostile_token_header_is_told_on_one_short_line(header: dict[str, Any]) -> None:
    """Anybody may post a logout token or send a bearer token: what its header says is
    repeated escaped and cut."""
    token = unsigned_jwt(header, logout_claims())
    with pytest.raises(InvalidLogoutToken) as logout:
        await validator().logout_token(token)
    with pytest.raises(InvalidIDToken) as id_token:
        await validator().id_token(token, nonce="n-1")
    for said in (str(logout.value), str(id_token.value)):
        check_said(said)
    assert str(logout.value).startswith("logout token rejected: ")


async def test_signed_userinfo() -> None:
    from zitadel_bff.errors import UserinfoMismatch

    v = validator()
    ok = await v.signed_userinfo(sign({"sub": "1", "iss": ISSUER, "aud": CLIENT, "name": "A"}))
    assert ok["name"] == "A"
    assert await v.signed_userinfo(sign({"sub": "1"})) == {"sub": "1"}  # iss, aud optional
    for claims in [{"sub": "1", "iss": "x"}, {"sub": "1", "aud": "x"}]:
        with pytest.raises(UserinfoMismatch):
            await v.signed_userinfo(sign(claims))
    with pytest.raises(UserinfoMismatch):
        await v.signed_userinfo(sign({"sub": "1"}, key=OTHER, kid="1"))


def test_client_auth_method_follows_discovery() -> None:
    from zitadel_bff.oidc.client import OIDCClient

    def client(secret: str) -> OIDCClient:
        return OIDCClient(
            issuer=ISSUER, client_id=CLIENT, client_secret=secret,
            redirect_uri="https://app/cb", scopes=["openid"],
        )

    c = client("s")
    c._choose_auth_method(("client_secret_post", "private_key_jwt"))
    assert c._http.token_endpoint_auth_method == "client_secret_post"
    c = client("s")
    c._choose_auth_method(("client_secret_basic", "client_secret_post"))
    assert c._http.token_endpoint_auth_method == "client_secret_basic"
    c = client("s")
    c._choose_auth_method(())
    assert c._http.token_endpoint_auth_method == "client_secret_basic"
    c = client("")
    c._choose_auth_method(("client_secret_post",))
    assert c._http.token_endpoint_auth_method == "none"
