"""ZITADEL's sign-in options against the development provider, which records every authorize
request: sign-up (prompt=create), the organisation scope, IdP hints, login_hint, ui_locales,
and step-up (prompt=login with max_age, auth_time checked)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from devtools.flows import FlowResult, csrf_token, follow, form_token, login
from devtools.provider import OPProcess

from tests.support.clients import browser_client
from zitadel_bff.auth.routes.signin import check_auth_time
from zitadel_bff.errors import StaleAuthentication

ORG_ID = "301234567890123000"
IDP = "243864426485212111"
JSON = {"accept": "application/json"}


def scopes_of(request: dict[str, str]) -> list[str]:
    return request["scope"].split()


def last_authorize(op: OPProcess) -> dict[str, str]:
    requests = op.authorize_requests()
    assert requests, "the provider saw no authorize request"
    return requests[-1]


def start(client: httpx.Client, app_url: str, path: str, **form: str) -> httpx.Response:
    token = form_token(client, app_url)
    return client.post(app_url + path, data={"csrf_token": token, **form})


def authorize_params(resp: httpx.Response) -> dict[str, str]:
    """The parameters of the authorize request the app redirects to."""
    assert resp.status_code == 303
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}


def test_sign_up_asks_for_zitadels_registration_form_and_keeps_return_to(
    app: Any, client: httpx.Client, op: OPProcess
) -> None:
    op.reset_stats()
    resp = start(client, app.url, "/auth/signup", returnTo="/admin")
    assert resp.status_code == 303
    assert parse_qs(urlsplit(resp.headers["location"]).query)["prompt"] == ["create"]
    page = client.get(resp.headers["location"], follow_redirects=True)
    assert "Create your account" in page.text
    result = FlowResult(resp)
    final = follow(client, resp, result)
    assert str(final.request.url) == app.url + "/admin"
    assert last_authorize(op)["prompt"] == "create"


@pytest.mark.parametrize(
    ("setting", "scope"),
    [
        ({"zitadel_org_id": ORG_ID}, f"urn:zitadel:iam:org:id:{ORG_ID}"),
        (
            {"zitadel_org_domain": "acme.localhost"},
            "urn:zitadel:iam:org:domain:primary:acme.localhost",
        ),
    ],
)
def test_the_organisation_scope_is_sent_and_the_organisation_shown(
    start_app: Any, op: OPProcess, setting: dict[str, str], scope: str
) -> None:
    app = start_app(**setting)
    op.reset_stats()
    with browser_client() as client:
        login(client, app.url)
        assert scope in scopes_of(last_authorize(op))
        session = client.get(app.url + "/auth/session", headers=JSON).json()
        assert session["user"]["organisation"] == {
            "id": ORG_ID, "name": "ACME", "primary_domain": "acme.localhost"
        }
        assert "ACME" in client.get(app.url + "/profile").text


def test_idp_hints_only_for_listed_ids_and_login_hint_passes(
    start_app: Any, op: OPProcess
) -> None:
    app = start_app(zitadel_idp_hints=f"{IDP},243864426485212222")
    op.reset_stats()
    with browser_client() as client:
        direct = client.get(app.url + f"/auth/login?idp={IDP}&login_hint=alice")
        assert f"urn:zitadel:iam:org:idp:id:{IDP}" in scopes_of(authorize_params(direct))
        page = client.get(app.url + f"/auth/login?error=session_expired&idp={IDP}")
        assert f'name="idp" value="{IDP}"' in page.text
        token = csrf_token(page.text)
        resp = client.post(app.url + "/auth/signin",
                           data={"csrf_token": token, "idp": IDP, "login_hint": "alice"})
        sent = authorize_params(resp)
        assert f"urn:zitadel:iam:org:idp:id:{IDP}" in scopes_of(sent)
        assert sent["login_hint"] == "alice"
        provider_page = client.get(resp.headers["location"], follow_redirects=True)
        assert 'value="alice"' in provider_page.text  # the provider got the hint
        assert last_authorize(op)["login_hint"] == "alice"
        other = client.post(app.url + "/auth/signin", data={"csrf_token": token, "idp": "999"})
        assert not any(s.startswith("urn:zitadel:iam:org:idp:id:")
                       for s in scopes_of(authorize_params(other)))


def test_ui_locales_follow_the_browser_or_the_setting(start_app: Any, op: OPProcess) -> None:
    browser_app = start_app()
    fixed_app = start_app(zitadel_ui_locales="fr en")
    for app, expected in ((browser_app, "de-CH de en"), (fixed_app, "fr en")):
        op.reset_stats()
        with browser_client() as client:
            client.headers["accept-language"] = "de-CH, de;q=0.9, en;q=0.8, *;q=0.1, x;q=0"
            resp = start(client, app.url, "/auth/signin")
            assert authorize_params(resp)["ui_locales"] == expected


def test_step_up_signs_in_again_with_max_age(start_app: Any, op: OPProcess) -> None:
    app = start_app(admin_max_age=60)
    sessions = app.app.state.zitadel_auth.sessions
    with browser_client() as client:
        login(client, app.url)
        assert client.get(app.url + "/admin").status_code == 200
        sessions.clock = lambda: time.time() + 120  # the sign-in is now two minutes old
        try:
            resp = client.get(app.url + "/admin")
            api = client.get(app.url + "/admin", headers=JSON)
        finally:
            sessions.clock = time.time
        assert resp.status_code == 303
        assert resp.headers["location"] == (
            "/auth/login?returnTo=%2Fadmin&prompt=login&max_age=60"
        )
        assert api.status_code == 401
        assert api.json() == {"error": "reauthentication_required",
                              "message": "Please sign in again", "max_age": 60}
        op.reset_stats()
        result = FlowResult(resp)
        final = follow(client, resp, result)
        assert str(final.request.url) == app.url + "/admin" and final.status_code == 200
        sent = last_authorize(op)
        assert (sent["prompt"], sent["max_age"]) == ("login", "60")
        assert any("/ui/login/" in hop.url for hop in result.hops)  # asked to sign in again


def test_a_non_admin_is_refused_before_any_step_up(start_app: Any) -> None:
    app = start_app(admin_max_age=60)
    with browser_client() as client:
        login(client, app.url, username="alice")
        assert client.get(app.url + "/admin").status_code == 403


@pytest.mark.parametrize(
    ("auth_time", "ok"),
    [(1000, True), (940, True), (939, False), (None, False), ("1000", False), (True, False)],
)
def test_auth_time_is_checked_against_max_age(auth_time: object, ok: bool) -> None:
    def check() -> None:
        check_auth_time(auth_time, max_age=60, now=1000.0, leeway=0)

    if ok:
        check()
    else:
        with pytest.raises(StaleAuthentication):
            check()


def test_missing_roles_are_made_visible_and_logged_once(
    start_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = start_app(zitadel_scopes="openid profile email offline_access")
    with caplog.at_level("WARNING", logger="zitadel_bff.auth.module"):
        for _ in range(2):
            with browser_client() as client:
                login(client, app.url)
                page = client.get(app.url + "/profile").text
                assert 'id="roles-missing"' in page and "Assert Roles on Authentication" in page
    warnings = [r.getMessage() for r in caplog.records if "no roles claim" in r.getMessage()]
    assert len(warnings) == 1


def test_roles_asserted_show_no_notice(app: Any, client: httpx.Client) -> None:
    login(client, app.url, username="alice")  # alice holds no admin role, but a roles claim
    page = client.get(app.url + "/profile").text
    assert 'id="roles-missing"' not in page
