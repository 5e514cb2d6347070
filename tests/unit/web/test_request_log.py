"""Request ids and the access log (RequestLogMiddleware), and the JSON log format, in-process."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from zitadel_bff.observability import JsonFormatter, audit, current_request_id
from zitadel_bff.observability.logs import RequestIdFilter
from zitadel_bff.sessions import Keyring, SessionManager
from zitadel_bff.web import CookiePolicy, RequestLogMiddleware, security_headers

SEEN: list[str | None] = []


async def item(request: Request) -> PlainTextResponse:
    SEEN.append(current_request_id())
    audit("sign_out")
    return PlainTextResponse("ok")


def no_sessions() -> SessionManager:
    raise AssertionError("not asked")


def client(*, trusted: bool) -> httpx.AsyncClient:
    app = RequestLogMiddleware(
        Starlette(routes=[Route("/items/{number}", item)]),
        trust_request_id=trusted,
        sessions=no_sessions,
        policy=CookiePolicy(secure=False, session_max_age=60),
        keyring=Keyring("unit-test-secret-0123456789-0123456789"),
        public_origin="http://testserver",
        headers=security_headers(form_targets=[], https=False),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_a_new_id_per_request_echoed_and_logged_with_the_route_template(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    SEEN.clear()
    async with client(trusted=False) as c:
        first = await c.get("/items/7?code=secret-code", headers={"x-request-id": "from-client"})
        second = await c.get("/items/8")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != "from-client" and len(set(ids)) == 2  # untrusted: never taken
    assert ids == SEEN
    access = [r for r in caplog.records if r.name == "zitadel_bff.access"]
    fields = ("method", "route", "status", "request_id")
    assert [tuple(getattr(r, f) for f in fields) for r in access] == [
        ("GET", "/items/{number}", 200, ids[0]), ("GET", "/items/{number}", 200, ids[1])
    ]
    ours = [r for r in caplog.records if r.name.startswith("zitadel_bff")]
    assert all("secret-code" not in r.getMessage() for r in ours)
    audits = [r for r in caplog.records if r.name == "zitadel_bff.audit"]
    assert [(getattr(r, "event"), getattr(r, "request_id")) for r in audits] == [  # noqa: B009
        ("sign_out", i) for i in ids
    ]
    assert current_request_id() is None  # reset after the request


async def test_a_trusted_proxy_id_is_kept_when_it_looks_like_one() -> None:
    async with client(trusted=True) as c:
        kept = await c.get("/items/1", headers={"x-request-id": "4f1c-9a2b.7"})
        bad = await c.get("/items/1", headers={"x-request-id": "a b\"<script>"})
        unmatched = await c.get("/nowhere")
    assert kept.headers["x-request-id"] == "4f1c-9a2b.7"
    assert bad.headers["x-request-id"] != "a b\"<script>"
    assert unmatched.status_code == 404 and unmatched.headers["x-request-id"]


def test_the_json_format_is_one_object_with_the_request_fields() -> None:
    record = logging.LogRecord("zitadel_bff.access", logging.INFO, __file__, 1,
                               "GET %s %d", ("/x", 200), None)
    record.route, record.status, record.request_id = "/x", 200, "abc"
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "GET /x 200" and entry["level"] == "INFO"
    assert (entry["logger"], entry["route"], entry["status"], entry["request_id"]) == (
        "zitadel_bff.access", "/x", 200, "abc"
    )
    assert entry["time"].endswith("Z")
