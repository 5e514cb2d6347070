"""ZITADEL's claim shapes, read into plain Python values (no Authlib here).

ZITADEL emits project roles as a map, not a list: role key -> granting org id -> that org's
primary domain, under ``urn:zitadel:iam:org:project:roles`` and again under
``urn:zitadel:iam:org:project:<projectId>:roles``. Metadata values are base64url without padding.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = [
    "ROLES_SCOPE",
    "ClaimRow",
    "Organisation",
    "UserProfile",
    "has_roles_claim",
    "metadata_from_claims",
    "roles_from_claims",
]

ROLES_CLAIM = "urn:zitadel:iam:org:project:roles"
ROLES_SCOPE = "urn:zitadel:iam:org:projects:roles"
PROJECT_ROLES_CLAIM = re.compile(r"^urn:zitadel:iam:org:project:[^:]+:roles$")
METADATA_CLAIM = "urn:zitadel:iam:user:metadata"
RESOURCE_OWNER_PREFIX = "urn:zitadel:iam:user:resourceowner:"

#: Claims that describe the token, not the user; kept out of the profile table.
PROTOCOL_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "azp", "jti", "sid",
     "auth_time", "amr", "acr", "client_id"}
)


def _role_map(value: object) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping):
        return {}
    roles: dict[str, dict[str, str]] = {}
    for role, orgs in value.items():
        if not isinstance(role, str):
            continue
        granted = {str(k): str(v) for k, v in orgs.items()} if isinstance(orgs, Mapping) else {}
        roles[role] = granted
    return roles


def has_roles_claim(claims: Mapping[str, Any]) -> bool:
    """Whether ZITADEL sent a roles claim at all (an empty map is a claim: no roles granted).

    Without one, the app cannot tell "no roles" from "roles not asserted": ZITADEL asserts them
    only with the scope urn:zitadel:iam:org:projects:roles and the project's setting "Assert
    Roles on Authentication".
    """
    return ROLES_CLAIM in claims or any(PROJECT_ROLES_CLAIM.match(name) for name in claims)


def roles_from_claims(claims: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Every project role of the user, merged from the generic and per-project claims."""
    roles = _role_map(claims.get(ROLES_CLAIM))
    for name, value in claims.items():
        if PROJECT_ROLES_CLAIM.match(name):
            for role, orgs in _role_map(value).items():
                roles.setdefault(role, {}).update(orgs)
    return roles


def _b64url_text(value: str) -> str:
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return value


def metadata_from_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The user's metadata, decoded from base64url; undecodable values are kept as sent."""
    value = claims.get(METADATA_CLAIM)
    if not isinstance(value, Mapping):
        return {}
    return {str(k): _b64url_text(v) if isinstance(v, str) else str(v) for k, v in value.items()}


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str | None = None
    primary_domain: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One claim as the profile page shows it: structured values as indented JSON."""

    name: str
    text: str
    structured: bool


@dataclass(frozen=True)
class UserProfile:
    """What pages and APIs need to know about the signed-in user.

    Immutable; derived views (the claim rows, the JSON) are computed once per instance.
    """

    sub: str
    name: str | None = None
    email: str | None = None
    email_verified: bool = False
    preferred_username: str | None = None
    roles: dict[str, dict[str, str]] = field(default_factory=dict)
    organisation: Organisation | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> UserProfile:
        org_id = claims.get(RESOURCE_OWNER_PREFIX + "id")
        org = None
        if isinstance(org_id, str):
            org = Organisation(
                id=org_id,
                name=_str_or_none(claims.get(RESOURCE_OWNER_PREFIX + "name")),
                primary_domain=_str_or_none(claims.get(RESOURCE_OWNER_PREFIX + "primary_domain")),
            )
        return cls(
            sub=str(claims["sub"]),
            name=_str_or_none(claims.get("name")),
            email=_str_or_none(claims.get("email")),
            email_verified=claims.get("email_verified") is True,
            preferred_username=_str_or_none(claims.get("preferred_username")),
            roles=roles_from_claims(claims),
            organisation=org,
            metadata=metadata_from_claims(claims),
            claims=dict(claims),
        )

    @property
    def roles_asserted(self) -> bool:
        """False when ZITADEL sent no roles claim (see :func:`has_roles_claim`)."""
        return has_roles_claim(self.claims)

    @property
    def display_name(self) -> str:
        return self.name or self.preferred_username or self.email or self.sub

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def user_claims(self) -> dict[str, Any]:
        """The claims about the user, without the token bookkeeping ones."""
        return {k: v for k, v in self.claims.items() if k not in PROTOCOL_CLAIMS}

    @cached_property
    def claim_rows(self) -> list[ClaimRow]:
        return [_claim_row(name, value) for name, value in sorted(self.user_claims().items())]

    @cached_property
    def claims_json(self) -> str:
        return json.dumps(self.user_claims(), indent=2, sort_keys=True, ensure_ascii=False)


def _claim_row(name: str, value: object) -> ClaimRow:
    if isinstance(value, dict | list | bool) or value is None:
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
        return ClaimRow(name, text, structured=not isinstance(value, bool) and value is not None)
    return ClaimRow(name, str(value), structured=False)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
