"""Key selection for provider JWTs: kid-less tokens (OIDC Core 10.1), rotation, logout-token
subject types and the replay window."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from tests.support.tokens import (
    CLIENT,
    ISSUER,
    KEY,
    OTHER,
    Fetcher,
    id_claims,
    logout_claims,
    sign,
    validator,
)
from zitadel_bff.errors import InvalidIDToken, InvalidLogoutToken
from zitadel_bff.oidc.keys import JWKSCache
from zitadel_bff.oidc.tokens import TokenValidator

EC = ECKey.generate_key("P-256", parameters={"kid": "ec", "use": "sig"})
ENC = RSAKey.generate_key(2048, parameters={"kid": "enc", "use": "enc"})
PS = RSAKey.generate_key(2048, parameters={"kid": "ps", "alg": "PS256"})


async def test_kidless_token_is_verified_with_the_only_usable_key() -> None:
    # Keys of another type, for encryption, or pinned to another algorithm are not candidates.
    fetch = Fetcher(KEY, EC, ENC, PS)
    claims = await validator(fetch).id_token(sign(id_claims(), kid=None), nonce="n-1")
    assert claims["sub"] == "301234567890123456"
    assert fetch.calls == 1


async def test_kidless_token_after_rotation_refetches_the_jwks() -> None:
    fetch = Fetcher(KEY)
    v = validator(fetch)
    await v.id_token(sign(id_claims(), kid=None), nonce="n-1")
    fetch.keys = [OTHER]  # the provider rotated its only key
    claims = await v.id_token(sign(id_claims(), key=OTHER, kid=None), nonce="n-1")
    assert claims["sub"] == "301234567890123456" and fetch.calls == 2


async def test_kidless_token_refused_when_the_refetched_set_has_several_keys() -> None:
    fetch = Fetcher(KEY)
    v = validator(fetch)
    await v.id_token(sign(id_claims()), nonce="n-1")
    fetch.keys = [KEY, OTHER]
    with pytest.raises(InvalidIDToken, match="no kid"):
        await v.id_token(sign(id_claims(), key=OTHER, kid=None), nonce="n-1")


async def test_kidless_forgeries_are_rate_limited() -> None:
    fetch = Fetcher(KEY)
    v = validator(fetch)
    for _ in range(10):
        with pytest.raises(InvalidIDToken):
            await v.id_token(sign(id_claims(), key=OTHER, kid=None), nonce="n-1")
    assert fetch.calls == 1 + 3  # the first load plus the refetch burst


async def test_known_kid_with_a_replaced_key_refetches() -> None:
    replaced = RSAKey.generate_key(2048, parameters={"kid": "1", "use": "sig"})
    fetch = Fetcher(KEY)
    v = validator(fetch)
    await v.id_token(sign(id_claims()), nonce="n-1")
    fetch.keys = [replaced]
    claims = await v.id_token(sign(id_claims(), key=replaced), nonce="n-1")
    assert claims["sub"] == "301234567890123456"
    assert fetch.calls == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"sid": 42},
        {"sid": ["sid-1"]},
        {"sid": ""},
        {"sub": 301234567890123456},
        {"sub": {"id": "1"}},
        {"sub": 1, "sid": None},
        {"sid": True, "sub": None},
    ],
)
async def test_logout_token_subject_and_session_must_be_strings(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidLogoutToken, match="not a string"):
        await validator().logout_token(sign(logout_claims(**changes)))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: object, payload: bytes = b"{}") -> str:
    """A token whose header is checked before any signature is."""
    return f"{b64(json.dumps(header).encode())}.{b64(payload)}.c2ln"


async def test_tokens_of_the_wrong_shape_are_refused() -> None:
    signed_array = jws.serialize_compact({"alg": "RS256", "kid": "1"}, b'["sub"]', KEY)
    for token, reason in [
        (unsigned([1]), "bad JOSE header"),
        (unsigned({"alg": "RS256", "kid": 1}), "kid is not a string"),
        (signed_array, "payload is not a JSON object"),
    ]:
        with pytest.raises(InvalidIDToken) as info:
            await validator().id_token(token, nonce="n-1")
        assert str(info.value) == f"ID token rejected: {reason}"


async def test_an_unreadable_jwks_refuses_the_token() -> None:
    async def junk() -> dict[str, Any]:
        return {"keys": [{"kty": "RSA", "n": 1}]}

    v = TokenValidator(issuer=ISSUER, client_id=CLIENT, alg="RS256", leeway=0, jwks=JWKSCache(junk))
    with pytest.raises(InvalidIDToken) as info:
        await v.id_token(sign(id_claims()), nonce="n-1")
    assert str(info.value) == "ID token rejected: the provider's JWKS could not be read"


async def test_concurrent_first_tokens_load_the_jwks_once() -> None:
    entered, gate = asyncio.Event(), asyncio.Event()
    fetches = 0

    async def slow_fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        entered.set()
        await gate.wait()  # the first token is still loading the keys when the others come
        return {"keys": [KEY.as_dict(private=False)]}

    v = TokenValidator(
        issuer=ISSUER, client_id=CLIENT, alg="RS256", leeway=0, jwks=JWKSCache(slow_fetch)
    )
    checks = [asyncio.ensure_future(v.id_token(sign(id_claims()), nonce="n-1")) for _ in range(5)]
    await entered.wait()
    gate.set()
    results = await asyncio.gather(*checks)
    assert [r["sub"] for r in results] == ["301234567890123456"] * 5
    assert fetches == 1
