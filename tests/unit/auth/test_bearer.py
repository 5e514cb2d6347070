"""Bearer tokens in-process: the validator's cache (positive, short negative, never past exp)
and JWT access tokens checked against the provider's keys."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.tokens import CLIENT, ISSUER, KEY, OTHER, sign, validator
from zitadel_bff.auth.bearer import NEGATIVE_TTL, POSITIVE_TTL, BearerValidator, bearer_token
from zitadel_bff.errors import InvalidBearerToken

AUDIENCES = frozenset({CLIENT, "243864426485212394"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeOIDC:
    """Introspection answers as scripted; counts the calls."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}
        self.calls = 0
        self.validator = validator()

    async def introspect(self, token: str) -> dict[str, Any]:
        self.calls += 1
        return dict(self.answer)


def active(**changes: Any) -> dict[str, Any]:
    claims = {"active": True, "sub": "1", "aud": [CLIENT, "243864426485212394"],
              "exp": int(time.time()) + 3600,
              "urn:zitadel:iam:org:project:roles": {"admin": {"9": "acme"}}}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def make(jwt_tokens: bool = False) -> tuple[BearerValidator, FakeOIDC, Clock]:
    oidc, clock = FakeOIDC(), Clock()
    bearer = BearerValidator(oidc, audiences=AUDIENCES, jwt_tokens=jwt_tokens,  # type: ignore[arg-type]
                             clock=clock)
    return bearer, oidc, clock


async def test_an_active_token_is_cached_briefly() -> None:
    bearer, oidc, clock = make()
    oidc.answer = active()
    user = await bearer.user("t1")
    assert user.sub == "1" and user.has_role("admin")
    await bearer.user("t1")
    assert oidc.calls == 1
    clock.now += POSITIVE_TTL
    await bearer.user("t1")
    assert oidc.calls == 2


async def test_a_refusal_is_cached_only_for_seconds() -> None:
    bearer, oidc, clock = make()
    oidc.answer = {"active": False}
    for _ in range(3):
        with pytest.raises(InvalidBearerToken):
            await bearer.user("t2")
    assert oidc.calls == 1
    clock.now += NEGATIVE_TTL
    oidc.answer = active()
    assert (await bearer.user("t2")).sub == "1"


async def test_a_token_near_its_exp_is_not_cached_past_it() -> None:
    bearer, oidc, clock = make()
    oidc.answer = active(exp=int(time.time()) + 2)
    await bearer.user("t3")
    clock.now += 3
    await bearer.user("t3")
    assert oidc.calls == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"active": False},
        {"active": "true", "sub": "1", "aud": [CLIENT]},
        active(aud=["someone-else"]),
        active(aud="someone-else"),
        active(sub=None),
    ],
)
async def test_inactive_foreign_or_subjectless_tokens_are_refused(answer: dict[str, Any]) -> None:
    bearer, oidc, _ = make()
    oidc.answer = answer
    with pytest.raises(InvalidBearerToken):
        await bearer.user("t4")


def jwt_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "1", "aud": [CLIENT, "243864426485212394"],
              "exp": now + 300, "iat": now}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_jwt_access_tokens_are_checked_locally() -> None:
    bearer, oidc, _ = make(jwt_tokens=True)
    user = await bearer.user(sign(jwt_claims()))
    assert user.sub == "1" and oidc.calls == 0


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"iss": "https://evil.example"}, KEY),
        ({"aud": ["another"]}, KEY),
        ({"exp": int(time.time()) - 10}, KEY),
        ({"nbf": int(time.time()) + 600}, KEY),
        ({"sub": None}, KEY),
        ({}, OTHER),
    ],
)
async def test_bad_jwt_access_tokens_are_refused(changes: dict[str, Any], key: Any) -> None:
    bearer, _, _ = make(jwt_tokens=True)
    with pytest.raises(InvalidBearerToken):
        await bearer.user(sign(jwt_claims(**changes), key=key, kid="1"))


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None),
     ("", None), (None, None)],
)
def test_bearer_header_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
