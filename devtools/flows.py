"""Drive the sign-in and sign-out journeys over plain HTTP, the way a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_RE = re.compile(r"<form[^>]*id=\"op\.logoutForm\"[^>]*>(.*?)</form>", re.S)
ACTION_RE = re.compile(r'<form[^>]*id="op\.logoutForm"[^>]*action="([^"]+)"')
HIDDEN_RE = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')
MAX_HOPS = 15


@dataclass
class Hop:
    method: str
    url: str
    status: int
    location: str | None


@dataclass
class FlowResult:
    response: httpx.Response
    hops: list[Hop] = field(default_factory=list)

    def url_of(self, prefix: str) -> str | None:
        return next((h.url for h in self.hops if h.url.startswith(prefix)), None)


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token field on the page"
    return unescape(match.group(1))


def follow(
    client: httpx.Client,
    resp: httpx.Response,
    result: FlowResult,
    *,
    stop_at: str | None = None,
    username: str = "admin",
) -> httpx.Response:
    """Follow redirects (and the provider's login and logout forms) until a final page."""
    for _ in range(MAX_HOPS):
        location = resp.headers.get("location")
        result.hops.append(
            Hop(resp.request.method, str(resp.request.url), resp.status_code, location)
        )
        if location and resp.status_code in (301, 302, 303, 307, 308):
            target = urljoin(str(resp.request.url), location)
            if stop_at and target.startswith(stop_at):
                return resp
            resp = client.get(target)
            continue
        path = urlsplit(str(resp.request.url)).path
        if resp.request.method == "GET" and path.startswith("/ui/login/"):
            resp = client.post(str(resp.request.url), data={"username": username})
            continue
        if resp.status_code == 200 and 'id="op.logoutForm"' in resp.text:
            action_match, form_match = ACTION_RE.search(resp.text), FORM_RE.search(resp.text)
            assert action_match and form_match, "the provider's logout form has changed"
            action, body = unescape(action_match.group(1)), form_match.group(1)
            fields = {unescape(k): unescape(v) for k, v in HIDDEN_RE.findall(body)}
            resp = client.post(urljoin(str(resp.request.url), action), data=fields)
            continue
        return resp
    raise AssertionError("too many redirects")


def form_token(client: httpx.Client, app_url: str) -> str:
    """This browser's CSRF token, as an SPA gets it (``/auth/session``)."""
    resp = client.get(f"{app_url}/auth/session", headers={"accept": "application/json"})
    assert resp.status_code == 200, resp.status_code
    token: str = resp.json()["csrf_token"]
    return token


def login(
    client: httpx.Client,
    app_url: str,
    *,
    username: str = "admin",
    return_to: str | None = None,
    stop_at: str | None = None,
    prompt: str | None = None,
) -> FlowResult:
    """Sign in the way a browser does: ``/auth/login`` sends it straight to the provider
    (``prompt="login"`` signs in again when already signed in)."""
    params = {"returnTo": return_to} if return_to is not None else {}
    if prompt is not None:
        params["prompt"] = prompt
    resp = client.get(f"{app_url}/auth/login", params=params, headers={"accept": "text/html"})
    result = FlowResult(resp)
    result.response = follow(client, resp, result, stop_at=stop_at, username=username)
    return result


def logout(client: httpx.Client, app_url: str) -> FlowResult:
    page = client.get(f"{app_url}/profile", headers={"accept": "text/html"})
    resp = client.post(f"{app_url}/auth/logout", data={"csrf_token": csrf_token(page.text)})
    result = FlowResult(resp)
    result.response = follow(client, resp, result)
    return result


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
