"""OpenID Connect with ZITADEL: the only package that imports Authlib."""

from .claims import Organisation, UserProfile, metadata_from_claims, roles_from_claims
from .client import AuthRequest, OIDCClient, ProviderMetadata, TokenSet, new_auth_request
from .keys import JWKSCache
from .tokens import BACKCHANNEL_EVENT, TokenValidator

__all__ = [
    "BACKCHANNEL_EVENT",
    "AuthRequest",
    "JWKSCache",
    "OIDCClient",
    "Organisation",
    "ProviderMetadata",
    "TokenSet",
    "TokenValidator",
    "UserProfile",
    "metadata_from_claims",
    "new_auth_request",
    "roles_from_claims",
]
