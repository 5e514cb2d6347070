"""What went wrong with a call to the provider, in words a person can act on: the DNS name not
found, the address that refused, the TLS reason, the timeout, the status.

httpx says ``ConnectError`` for most of these; the reason is in the exceptions behind it
(httpx wraps httpcore's, which wraps the ``OSError`` of the socket, resolver or TLS layer).
Authlib's token, revocation and introspection calls let httpx's errors through unwrapped.

What is said names the request by its method and endpoint URL only: never its body, which
carries codes, verifiers, tokens and client secrets; and of an answer, its status and content
type, never its body, which may carry tokens too. What the provider sent (the endpoint URLs of
its discovery document, a Location, a Content-Type, an error message that quotes it) is shown
escaped and cut (:func:`~zitadel_bff.observability.shown`).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from ..observability.untrusted import shown

__all__ = ["describe_call", "describe_failure", "describe_not_json", "without_credentials"]

#: getaddrinfo's "there is no such name" (not "the resolver could not be asked").
NO_SUCH_NAME = frozenset(
    {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
)
DEFAULT_PORTS = {"http": 80, "https": 443}
#: What an OpenSSL reason usually means, where its name does not say it.
TLS_HINTS = {"WRONG_VERSION_NUMBER": " (the server there does not speak TLS: http:// instead?)"}
#: At most this much of a Content-Type header is repeated.
MAX_CONTENT_TYPE = 100
#: What a JSON value that is not an object is, by its Python type.
JSON_KINDS: dict[type, str] = {
    list: "a JSON array",
    str: "a JSON string",
    bool: "a JSON boolean",
    int: "a JSON number",
    float: "a JSON number",
    type(None): "JSON null",
}


def describe_call(
    method: str, url: str, outcome: httpx.HTTPError | httpx.Response, *, timeout: float
) -> str:
    """``POST <url> failed: <what failed>`` or ``POST <url> answered 502``: a failed call or an
    unwanted answer, the URL shown without any credentials in it."""
    if isinstance(outcome, httpx.Response):
        said = _status(outcome)
    else:
        said = describe_failure(outcome, url, timeout=timeout)
    return f"{method} {shown(without_credentials(url))} {said}"


def describe_not_json(method: str, url: str, response: httpx.Response) -> str:
    """``GET <url> did not return JSON (but text/html)`` or ``... did not return a JSON object
    (but a JSON array)``: what came back instead of a JSON object, by its content type or the
    kind of JSON value; the URL shown without any credentials in it."""
    try:
        value = response.json()
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        kind = shown(response.headers.get("content-type", "no Content-Type"), MAX_CONTENT_TYPE)
        if not response.content:
            kind = "an empty body"
        said = f"did not return JSON (but {kind})"
    else:
        said = f"did not return a JSON object (but {JSON_KINDS.get(type(value), 'JSON')})"
    return f"{method} {shown(without_credentials(url))} {said}"


def describe_failure(exc: httpx.HTTPError, url: str, *, timeout: float) -> str:
    """What to say after ``GET <url>``: ``answered 404``, or ``failed: <what failed>``.

    ``timeout`` is the client's timeout in seconds, which a timeout has run out of.
    """
    if isinstance(exc, httpx.HTTPStatusError):
        return _status(exc.response)
    return f"failed: {_reason(exc, url, timeout)}"


def _status(response: httpx.Response) -> str:
    location = response.headers.get("location")
    if response.is_redirect and location:
        return f"answered {response.status_code}, a redirect to {shown(location)}"
    return f"answered {response.status_code}"


def without_credentials(url: str) -> str:
    """``url`` without any ``user:password@`` in it."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _reason(exc: httpx.HTTPError, url: str, timeout: float) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    address = f"{host}:{parts.port or DEFAULT_PORTS.get(parts.scheme, 443)}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection to {address} within {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer from {address} within {timeout:g} s"
    for cause in _causes(exc):
        reason = _os_reason(cause, host, address)
        if reason:
            return reason
    # httpx's and h11's messages may quote what the server sent.
    return exc.__class__.__name__ + (f" ({shown(exc)})" if str(exc) else "")


def _os_reason(cause: BaseException, host: str, address: str) -> str | None:
    """The words for one of the socket, resolver or TLS errors behind an httpx error."""
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"the TLS certificate of {host} is not trusted: {cause.verify_message}"
    if isinstance(cause, ssl.SSLError):
        reason = cause.reason or str(cause)
        return f"TLS handshake with {address}: {reason}{TLS_HINTS.get(reason, '')}"
    if isinstance(cause, socket.gaierror):
        if cause.errno in NO_SUCH_NAME:
            return f"DNS name {host} not found"
        return f"DNS lookup of {host} failed: {cause.strerror}"
    if isinstance(cause, ConnectionRefusedError):
        return f"connection refused by {address}"
    if isinstance(cause, OSError) and cause.strerror:
        return f"{address}: {cause.strerror}"
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it, nearest first (groups included)."""
    seen: set[int] = set()
    queue = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            queue.extend(current.exceptions)
        queue.extend(e for e in (current.__cause__, current.__context__) if e is not None)
