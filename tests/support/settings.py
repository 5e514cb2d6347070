"""Settings for the apps the tests build: the test secret and the development provider's client."""

from __future__ import annotations

from typing import Any

from devtools.provider import CLIENT_ID, CLIENT_SECRET

from zitadel_bff.config import Settings, load_settings

__all__ = ["TEST_SECRET", "settings_for"]

TEST_SECRET = "test-session-secret-0123456789-abcdefghijklmnop"


def settings_for(port: int, issuer: str, store: str, **overrides: Any) -> Settings:
    """An app on ``http://127.0.0.1:<port>`` signing in at ``issuer`` as the development
    provider's client, with sessions in ``store``; ``overrides`` are further settings."""
    base: dict[str, Any] = {
        "session_secret": TEST_SECRET,
        "zitadel_domain": issuer,
        "zitadel_client_id": CLIENT_ID,
        "zitadel_client_secret": CLIENT_SECRET,
        "zitadel_callback_url": f"http://127.0.0.1:{port}/auth/callback",
        "zitadel_post_logout_url": f"http://127.0.0.1:{port}/auth/logout/callback",
        "session_store": store,
        "zitadel_clock_skew": 0,
        "port": port,
    }
    base.update(overrides)
    return load_settings(None, **base)
