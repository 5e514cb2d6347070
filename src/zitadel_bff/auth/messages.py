"""What users are told for each error code: (title, explanation, HTTP status)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["MESSAGES", "Message", "message_for"]


class Message(NamedTuple):
    title: str
    text: str
    status: int


MESSAGES: dict[str, Message] = {
    "access_denied": Message(
        "Sign-in was cancelled",
        "The identity provider did not sign you in. If you cancelled, you can simply try again.",
        400,
    ),
    "invalid_state": Message(
        "This sign-in attempt has expired",
        "It was already used, is too old, or was started in another browser. Please start again.",
        400,
    ),
    "invalid_request": Message(
        "The sign-in response was malformed",
        "The identity provider's answer was missing required parts. Please start again.",
        400,
    ),
    "login_failed": Message(
        "Sign-in failed",
        "The identity provider reported an error while signing you in. Please try again.",
        400,
    ),
    "token_exchange_failed": Message(
        "Sign-in could not be completed",
        "The identity provider refused to finish the sign-in. Please start again.",
        400,
    ),
    "invalid_id_token": Message(
        "The sign-in could not be verified",
        "The identity provider's answer did not pass our security checks, so we did not trust it.",
        400,
    ),
    "userinfo_failed": Message(
        "Your profile could not be loaded",
        "The identity provider did not return your profile consistently. Please try again.",
        400,
    ),
    "provider_unavailable": Message(
        "The identity provider is unreachable",
        "We could not reach the sign-in service. Please try again in a moment.",
        503,
    ),
    "provider_misconfigured": Message(
        "Sign-in is misconfigured",
        "The identity provider's configuration does not match this app. An administrator has been "
        "notified in the logs.",
        503,
    ),
    "store_unavailable": Message(
        "Sessions are unavailable",
        "The session store cannot be reached right now. Please try again in a moment.",
        503,
    ),
    "session_expired": Message(
        "Your session has expired",
        "You were inactive for a while, or signed in too long ago. Please sign in again.",
        401,
    ),
    "refresh_failed": Message(
        "Your session was ended",
        "The identity provider no longer accepts your session. Please sign in again.",
        401,
    ),
    "token_refused": Message(
        "Your session was ended",
        "The identity provider no longer accepts your session. Please sign in again.",
        401,
    ),
    "auth_too_old": Message(
        "Please sign in again",
        "This page needs a recent sign-in, and the identity provider did not confirm one.",
        401,
    ),
    "reauthentication_required": Message(
        "Please sign in again",
        "This page needs a recent sign-in. Sign in again to continue.",
        401,
    ),
    "invalid_token": Message(
        "The access token was refused",
        "It is malformed, expired, revoked, or was issued for another application.",
        401,
    ),
    "not_authenticated": Message("Please sign in", "This page is only for signed-in users.", 401),
    "csrf_failed": Message(
        "This form has expired",
        "For your protection the request was refused. Reload the page and try again.",
        403,
    ),
    "forbidden": Message(
        "You don't have access to this page",
        "Your account does not have the role this page needs. Ask an administrator for access.",
        403,
    ),
    "not_found": Message("Page not found", "There is nothing at this address.", 404),
    "method_not_allowed": Message(
        "Method not allowed", "This address does not accept that kind of request.", 405
    ),
    "bad_request": Message("Bad request", "The request could not be understood.", 400),
    "upstream_unavailable": Message(
        "The application is unavailable",
        "The service behind this address could not be reached. Please try again in a moment.",
        502,
    ),
    "upstream_timeout": Message(
        "The application did not answer in time",
        "The service behind this address took too long to answer. Please try again in a moment.",
        504,
    ),
    "invalid_logout_token": Message("Invalid logout token", "The logout token was refused.", 400),
    "internal_error": Message(
        "Something went wrong", "An unexpected error occurred. It has been logged.", 500
    ),
}


def message_for(code: str | None) -> Message:
    return MESSAGES.get(code or "", MESSAGES["login_failed"])
