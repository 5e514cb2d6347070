from zitadel_bff.oidc.claims import UserProfile, metadata_from_claims, roles_from_claims

ZITADEL_CLAIMS = {
    "sub": "301234567890123456",
    "name": "Ada Admin",
    "email": "admin@acme.localhost",
    "email_verified": True,
    "urn:zitadel:iam:org:project:roles": {
        "admin": {"301234567890123000": "acme.localhost"},
    },
    "urn:zitadel:iam:org:project:243864426485212394:roles": {
        "admin": {"301234567890123000": "acme.localhost"},
        "user": {"999": "other.localhost"},
    },
    "urn:zitadel:iam:user:metadata": {"department": "cGxhdGZvcm0"},
    "urn:zitadel:iam:user:resourceowner:id": "301234567890123000",
    "urn:zitadel:iam:user:resourceowner:name": "ACME",
    "urn:zitadel:iam:user:resourceowner:primary_domain": "acme.localhost",
    "iss": "https://x",
    "aud": ["a"],
    "exp": 1,
    "iat": 1,
    "sid": "s",
}


def test_roles_are_merged_from_both_claims() -> None:
    assert roles_from_claims(ZITADEL_CLAIMS) == {
        "admin": {"301234567890123000": "acme.localhost"},
        "user": {"999": "other.localhost"},
    }


def test_malformed_roles_are_ignored() -> None:
    assert roles_from_claims({"urn:zitadel:iam:org:project:roles": ["admin"]}) == {}
    assert roles_from_claims({"urn:zitadel:iam:org:project:roles": {"admin": "x"}}) == {"admin": {}}
    assert roles_from_claims({}) == {}


def test_metadata_is_base64url_decoded_without_padding() -> None:
    assert metadata_from_claims(ZITADEL_CLAIMS) == {"department": "platform"}
    assert metadata_from_claims({"urn:zitadel:iam:user:metadata": {"k": "%%%"}}) == {"k": "%%%"}
    assert metadata_from_claims({"urn:zitadel:iam:user:metadata": {"k": "_w"}}) == {"k": "_w"}
    assert metadata_from_claims({"urn:zitadel:iam:user:metadata": "x"}) == {}


def test_profile() -> None:
    user = UserProfile.from_claims(ZITADEL_CLAIMS)
    assert user.sub == "301234567890123456"
    assert user.display_name == "Ada Admin"
    assert user.email_verified is True
    assert user.has_role("admin") and user.has_role("user") and not user.has_role("owner")
    assert user.organisation is not None
    assert (user.organisation.id, user.organisation.name) == ("301234567890123000", "ACME")
    assert "iss" not in user.user_claims() and "sid" not in user.user_claims()
    assert user.user_claims()["name"] == "Ada Admin"


def test_profile_with_minimal_claims() -> None:
    user = UserProfile.from_claims({"sub": "1", "email_verified": "true"})
    assert user.display_name == "1"
    assert user.email_verified is False  # only a JSON true counts
    assert user.organisation is None and user.roles == {} and user.metadata == {}
