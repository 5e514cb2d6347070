"""The one place that talks OpenID Connect to the provider, through Authlib and one httpx client.

It owns discovery (cached, issuer checked), the authorization URL (PKCE S256, state, nonce), the
code exchange, userinfo (with the sub check of OIDC Core 5.3.2), refresh (with validation of the
new ID token, OIDC Core 12.2), revocation (RFC 7009) and the end-session URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.base_client.errors import OAuthError

with warnings.catch_warnings():
    # Authlib 1.9 nudges towards the httpx2 fork; the stack stays on httpx (DESIGN.md), which
    # Authlib still supports. Silence only that notice, only for this import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from ..config import Settings
from ..errors import (
    AccessTokenRefused,
    InvalidIDToken,
    ProviderError,
    ProviderMisconfigured,
    ProviderUnavailable,
    TokenExchangeFailed,
    UserinfoMismatch,
)
from ..keyfile import ClientKey
from ..observability.metrics import NO_METRICS, NullMetrics
from ..observability.untrusted import shown
from .answers import TOKEN_ANSWER_HOOKS, json_object, usable_token_answer
from .assertion import PRIVATE_KEY_JWT, ZitadelKeyJWT
from .failures import describe_call, describe_not_json
from .keys import JWKSCache
from .models import AuthRequest, ProviderMetadata, TokenSet, new_auth_request, token_set
from .tokens import TokenValidator

__all__ = ["AuthRequest", "OIDCClient", "ProviderMetadata", "TokenSet", "new_auth_request"]

logger = logging.getLogger(__name__)

DISCOVERY_TTL = 3600.0
DISCOVERY_PATH = "/.well-known/openid-configuration"
ACCESS_TOKEN_HINT = "access_token"  # noqa: S105 - a token type, not a secret
class OIDCClient:
    """Talks to one provider for one client. Create one per app; call :meth:`aclose` at the end."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: list[str],
        id_token_alg: str = "RS256",  # noqa: S107 - an algorithm name
        leeway: int = 60,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        client_key: ClientKey | None = None,
        metrics: NullMetrics = NO_METRICS,
    ) -> None:
        self.issuer = issuer
        #: Times every call to the provider, by endpoint.
        self.metrics = metrics
        self.client_id = client_id
        self.timeout = timeout
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        auth_method = "client_secret_basic" if client_secret else "none"
        if client_key is not None:
            auth_method = PRIVATE_KEY_JWT
        # One client, one connection pool, for every call to the provider: a new client per call
        # costs a TLS context and a fresh connection each time.
        self._http = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret or None,
            token_endpoint_auth_method=auth_method,
            revocation_endpoint_auth_method=auth_method,
            code_challenge_method="S256",
            redirect_uri=redirect_uri,
            scope=" ".join(scopes),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )
        if client_key is not None:
            # Token, refresh, revocation and introspection calls all carry a fresh assertion.
            self._http.register_client_auth_method(ZitadelKeyJWT(client_key, audience=issuer))
        for hook in TOKEN_ANSWER_HOOKS:
            self._http.register_compliance_hook(hook, usable_token_answer)
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._metadata_lock = asyncio.Lock()
        self.validator = TokenValidator(
            issuer=issuer,
            client_id=client_id,
            alg=id_token_alg,
            leeway=leeway,
            jwks=JWKSCache(self._fetch_jwks),
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: NullMetrics = NO_METRICS,
    ) -> OIDCClient:
        return cls(
            issuer=settings.issuer,
            client_id=settings.zitadel_client_id,
            client_secret=settings.zitadel_client_secret.get_secret_value(),
            redirect_uri=settings.zitadel_callback_url,
            scopes=settings.scopes,
            id_token_alg=settings.zitadel_id_token_alg,
            leeway=settings.zitadel_clock_skew,
            timeout=settings.zitadel_timeout,
            transport=transport,
            client_key=settings.client_key,
            metrics=metrics,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # Discovery ------------------------------------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, cached for an hour; a failed reload keeps the old one."""
        if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL:
            return self._metadata
        async with self._metadata_lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL:
                return self._metadata
            try:
                doc = await self._get_json(
                    self.issuer.rstrip("/") + DISCOVERY_PATH, endpoint="discovery"
                )
            except ProviderError as exc:
                if self._metadata is not None:
                    logger.warning("discovery reload failed (%s); keeping the cached document", exc)
                    return self._metadata
                raise
            self._metadata = ProviderMetadata.from_document(doc, self.issuer)
            # Tokens must carry the issuer exactly as discovery spells it.
            self.validator.issuer = self._metadata.issuer
            self._choose_auth_method(self._metadata.token_endpoint_auth_methods)
            self._metadata_at = time.monotonic()
            return self._metadata

    def _choose_auth_method(self, supported: tuple[str, ...]) -> None:
        """client_secret_basic (ZITADEL's and RFC 6749's default) unless the provider says it
        takes only client_secret_post."""
        if self._http.token_endpoint_auth_method in ("none", PRIVATE_KEY_JWT) or not supported:
            return
        method = "client_secret_basic"
        if method not in supported and "client_secret_post" in supported:
            method = "client_secret_post"
        self._http.token_endpoint_auth_method = method
        self._http.revocation_endpoint_auth_method = method

    async def _get_json(self, url: str, *, endpoint: str) -> dict[str, Any]:
        """The JSON object at ``url``. ProviderUnavailable when the provider cannot answer
        (unreachable, timed out, 5xx); ProviderMisconfigured when it answers with something
        else than a JSON object (a 3xx or 4xx: the URL, so ZITADEL_DOMAIN, is wrong)."""
        try:
            with self.metrics.provider_call(endpoint):
                resp = await self._http.request("GET", url, withhold_token=True)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            error: type[ProviderError] = ProviderUnavailable
            if isinstance(exc, httpx.HTTPStatusError) and not exc.response.is_server_error:
                error = ProviderMisconfigured
            raise error(self._described("GET", url, exc)) from exc
        data = json_object(resp)
        if data is None:
            raise ProviderMisconfigured(describe_not_json("GET", url, resp))
        return data

    def _described(self, method: str, url: str, outcome: httpx.HTTPError | httpx.Response) -> str:
        """What became of ``method url``, in words a person can act on (the DNS name, the
        address that refused, the TLS reason, the timeout, the status); never the body."""
        return describe_call(method, url, outcome, timeout=self.timeout)

    async def signing_keys(self) -> int:
        """How many signing keys the provider publishes (loading them if needed)."""
        return len((await self.validator.jwks.key_set()).keys)

    async def _fetch_jwks(self) -> dict[str, Any]:
        return await self._get_json((await self.metadata()).jwks_uri, endpoint="jwks")

    # Login ---------------------------------------------------------------------------------

    async def authorization_url(
        self, request: AuthRequest, *, extra_scopes: tuple[str, ...] = (), **params: str
    ) -> str:
        """The authorize URL (PKCE S256, state, nonce, the client's scopes plus
        ``extra_scopes``); ``params`` add OIDC parameters such as prompt, max_age, login_hint
        and ui_locales."""
        meta = await self.metadata()
        scope = " ".join(dict.fromkeys([*self.scopes, *extra_scopes]))
        url, _ = self._http.create_authorization_url(
            meta.authorization_endpoint,
            state=request.state,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
            scope=scope,
            **params,
        )
        return str(url)

    async def exchange_code(self, code: str, request: AuthRequest) -> TokenSet:
        """Exchange the code, then validate the ID token against this request's nonce."""
        meta = await self.metadata()
        token = await self._token_call(
            meta.token_endpoint,
            self._http.fetch_token(
                meta.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=request.code_verifier,
                redirect_uri=self.redirect_uri,
            )
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidIDToken("the token response has no id_token")
        claims = await self.validator.id_token(
            id_token, nonce=request.nonce, access_token=token["access_token"]
        )
        return token_set(token, claims, fallback_refresh=None)

    async def _token_call(self, url: str, call: Any) -> dict[str, Any]:
        """Await Authlib's call to the token endpoint at ``url``. Authlib raises OAuthError for
        an OAuth error answer and lets httpx's errors through: HTTPStatusError for a 5xx or
        another error status without a JSON body, the transport's error when there is no
        answer. A success it cannot read is ProviderMisconfigured (usable_token_answer)."""
        # Authlib's client keeps the last token on itself; we take the returned value at once
        # (no await in between), so concurrent users never see each other's tokens.
        try:
            with self.metrics.provider_call("token"):
                token = await call
        except OAuthError as exc:
            # The error code only: error_description is free text, and may be anything.
            raise TokenExchangeFailed(f"token endpoint refused: {shown(exc.error)}") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(self._described("POST", url, exc)) from exc
        if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
            raise TokenExchangeFailed("the token response has no access_token")
        return dict(token)

    async def userinfo(self, access_token: str, *, expected_sub: str) -> dict[str, Any]:
        """Userinfo claims, plain JSON or signed (OIDC Core 5.3.2); the sub must equal the ID
        token's. Raises AccessTokenRefused on 401 (RFC 6750 3.1), ProviderUnavailable when the
        provider cannot answer, UserinfoMismatch for anything else wrong."""
        meta = await self.metadata()
        url = meta.userinfo_endpoint
        if url is None:
            return {}
        try:
            with self.metrics.provider_call("userinfo"):
                resp: httpx.Response = await self._http.request(
                    "GET",
                    url,
                    headers={"Authorization": f"Bearer {access_token}"},
                    withhold_token=True,
                )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(self._described("GET", url, exc)) from exc
        if resp.status_code == httpx.codes.UNAUTHORIZED:
            raise AccessTokenRefused("userinfo refused the access token")
        if resp.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise ProviderUnavailable(self._described("GET", url, resp))
        if resp.status_code != httpx.codes.OK:
            raise UserinfoMismatch(self._described("GET", url, resp))
        data = await self._userinfo_claims(url, resp)
        if data.get("sub") != expected_sub:
            raise UserinfoMismatch("userinfo sub differs from the ID token's")
        return data

    async def _userinfo_claims(self, url: str, resp: httpx.Response) -> dict[str, Any]:
        if resp.headers.get("content-type", "").startswith("application/jwt"):
            # A signed userinfo response (OIDC Core 5.3.2): same keys and checks as ID tokens.
            return await self.validator.signed_userinfo(resp.text.strip())
        data = json_object(resp)
        if data is None:
            raise UserinfoMismatch(describe_not_json("GET", url, resp))
        return data

    # Refresh, revoke, logout ----------------------------------------------------------------

    async def refresh(self, refresh_token: str, *, sub: str) -> TokenSet:
        """Use a refresh token; a new ID token must keep iss and sub (OIDC Core 12.2)."""
        meta = await self.metadata()
        token = await self._token_call(
            meta.token_endpoint,
            # No scope parameter: the grant keeps its scopes (RFC 6749 6); Authlib would
            # otherwise resend the whole configured list.
            self._http.refresh_token(meta.token_endpoint, refresh_token=refresh_token, scope=None)
        )
        claims: dict[str, Any] = {}
        if isinstance(token.get("id_token"), str):
            claims = await self.validator.id_token(
                token["id_token"], nonce=None, access_token=token["access_token"], expected_sub=sub
            )
        return token_set(token, claims, fallback_refresh=refresh_token)

    async def revoke(self, token: str, hint: str = "refresh_token") -> bool:
        """Revoke a token (RFC 7009); False when the provider has no endpoint or failed."""
        meta = await self.metadata()
        url = meta.revocation_endpoint
        if url is None:
            return False
        outcome: httpx.HTTPError | httpx.Response
        try:
            with self.metrics.provider_call("revocation"):
                outcome = await self._http.revoke_token(url, token=token, token_type_hint=hint)
        except httpx.HTTPError as exc:
            outcome = exc
        if isinstance(outcome, httpx.Response) and outcome.status_code == httpx.codes.OK:
            return True
        logger.warning("token revocation: %s", self._described("POST", url, outcome))
        return False

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection of an access token, authenticated as this client
        (client_secret_basic or private_key_jwt). The response as sent; the caller checks
        ``active`` and the audience."""
        meta = await self.metadata()
        url = meta.introspection_endpoint
        if url is None:
            raise ProviderMisconfigured("the provider has no introspection endpoint")
        try:
            with self.metrics.provider_call("introspection"):
                resp = await self._http.introspect_token(
                    url, token=token, token_type_hint=ACCESS_TOKEN_HINT
                )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(self._described("POST", url, exc)) from exc
        if resp.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise ProviderUnavailable(self._described("POST", url, resp))
        if resp.status_code != httpx.codes.OK:
            raise ProviderMisconfigured(
                self._described("POST", url, resp) + ": is this client allowed to introspect?"
            )
        data = json_object(resp)
        if data is None:
            raise ProviderMisconfigured(describe_not_json("POST", url, resp))
        return data

    async def end_session_url(
        self, *, id_token_hint: str | None, post_logout_redirect_uri: str, state: str
    ) -> str | None:
        """RP-Initiated Logout 1.0 section 2; None when the provider has no end_session."""
        meta = await self.metadata()
        if meta.end_session_endpoint is None:
            return None
        params = {
            "client_id": self.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "state": state,
        }
        if id_token_hint:
            params = {"id_token_hint": id_token_hint, **params}
        sep = "&" if "?" in meta.end_session_endpoint else "?"
        return meta.end_session_endpoint + sep + urlencode(params)
