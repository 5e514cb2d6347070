"""The session record: how token responses set its refresh schedule, and how it is read back."""

from __future__ import annotations

import pytest

from tests.support.sessions import Tokens
from zitadel_bff.sessions import SessionData

NOW = 1_000_000.0


def session(tokens: Tokens) -> SessionData:
    return SessionData.from_tokens(tokens, sub="1", claims={"sub": "1"}, sid="", now=NOW)


@pytest.mark.parametrize(
    ("lifetime", "refresh_after"),
    [
        (3600.0, 3540.0),  # 60 s before it expires
        (120.0, 60.0),  # twice the skew: both rules agree
        (100.0, 50.0),  # shorter: halfway, else every request would refresh
        (0.0, 0.0),
        (-5.0, 0.0),  # already expired when it arrived: due at once
    ],
)
def test_the_refresh_is_due_before_the_access_token_expires(
    lifetime: float, refresh_after: float
) -> None:
    data = session(Tokens("at", "id", "rt", NOW + lifetime))
    assert data.refresh_at == NOW + refresh_after
    assert not data.needs_refresh(NOW + refresh_after - 0.5)
    assert data.needs_refresh(NOW + refresh_after)
    assert data.oidc_sid is None  # an empty sid is no sid


def test_tokens_without_an_expiry_are_never_refreshed_on_schedule() -> None:
    data = session(Tokens("at", "id", "rt", None))
    assert (data.refresh_at, data.access_expires_at) == (None, None)
    assert not data.needs_refresh(NOW + 10**9)
    assert not data.access_token_expired(NOW + 10**9)


def test_a_refresh_response_keeps_what_it_does_not_replace() -> None:
    data = session(Tokens("at-1", "id-1", "rt-1", NOW + 300))
    data.set_tokens(Tokens("at-2", None, None, NOW + 900), NOW + 250)
    assert (data.access_token, data.id_token, data.refresh_token) == ("at-2", "id-1", "rt-1")
    assert (data.access_expires_at, data.refresh_at) == (NOW + 900, NOW + 840)


def test_a_record_reads_back_as_it_was_written() -> None:
    data = session(Tokens("at", "id", "rt", NOW + 300))
    again = SessionData.from_json(data.to_json(), expires_at=NOW + 3600)
    assert again == data and again.expires_at == NOW + 3600


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"null"])
def test_a_record_that_is_no_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r"^a session record is a JSON object$"):
        SessionData.from_json(raw)
