"""Routes led by the module's dependencies skip FastAPI's solver for them (auth/fastpath.py),
and behave exactly as when FastAPI solves them: values, errors, overrides, other parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, get_args

import fastapi.dependencies.utils
import fastapi.routing
import pytest
from fastapi import APIRouter, Depends, FastAPI

from tests.support.clients import JSON_HEADERS
from tests.support.inprocess import Browser, FakeProvider, ManualClock, module_for, running
from tests.support.sessions import ADMIN_SUB
from zitadel_bff import (
    AnyUser,
    CurrentSession,
    CurrentUser,
    MemoryStore,
    OptionalSession,
    OptionalUser,
    Store,
    UserProfile,
    public,
)
from zitadel_bff.sessions import Entry

SIGN_IN_FIRST = {"error": "not_authenticated", "message": "Please sign in"}


async def _seven() -> int:
    return 7


def direct_app(provider: FakeProvider, store: Store | None = None) -> FastAPI:
    """Routes declared on the app itself (included routers keep FastAPI's own handler)."""
    app = FastAPI()
    module_for(provider, store=store).install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    @app.get("/both")
    async def both(user: CurrentUser, session: CurrentSession, n: int = 1) -> dict[str, Any]:
        return {"sub": user.sub, "sid": session.oidc_sid, "n": n}

    @app.get("/optional")
    @public
    async def optional(user: OptionalUser, session: OptionalSession) -> dict[str, Any]:
        return {"user": user.sub if user else None, "session": session is not None}

    @app.get("/public-but-needs-user")
    @public
    async def needs_user(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    @app.get("/other-first")
    async def other_first(n: Annotated[int, Depends(_seven)], user: AnyUser) -> dict[str, Any]:
        return {"n": n, "sub": user.sub}

    @app.get("/sync")
    def sync(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    included = APIRouter(prefix="/included")

    @included.get("/me")
    async def included_me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    app.include_router(included)
    guarded = APIRouter(prefix="/guarded", dependencies=[Depends(_seven)])

    @guarded.get("/me")
    async def guarded_me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    app.include_router(guarded)
    return app


@pytest.fixture
async def browser(provider: FakeProvider, clock: ManualClock) -> AsyncIterator[Browser]:
    async with running(direct_app(provider), clock) as started:
        yield started


@pytest.fixture
def solves(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """Each call FastAPI makes to its solver (the route's own, then one per dependency), by
    the function whose dependencies it solved."""
    calls: list[Callable[..., Any]] = []
    original = fastapi.dependencies.utils.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["dependant"].call)
        return await original(**kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "solve_dependencies", counting)
    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return calls


async def test_the_module_dependencies_are_not_solved_by_fastapi(
    browser: Browser, solves: list[Callable[..., Any]]
) -> None:
    await browser.sign_in()
    resp = await browser.http.get("/both?n=3")
    assert (resp.status_code, resp.json()) == (200, {"sub": ADMIN_SUB, "sid": "sid-1", "n": 3})
    assert len(solves) == 1  # the route's own parameters (n), nothing for user and session


async def test_routes_of_included_routers_take_the_shortcut_too(
    browser: Browser, solves: list[Callable[..., Any]]
) -> None:
    await browser.sign_in()
    resp = await browser.http.get("/included/me")
    assert (resp.status_code, resp.json()) == (200, {"sub": ADMIN_SUB})
    assert len(solves) == 1
    solves.clear()
    guarded = await browser.http.get("/guarded/me")  # the router's own dependency leads
    assert (guarded.status_code, guarded.json()) == (200, {"sub": ADMIN_SUB})
    assert len(solves) == 3  # the route, _seven, CurrentUser


async def test_a_route_led_by_another_dependency_is_solved_as_usual(
    browser: Browser, solves: list[Callable[..., Any]]
) -> None:
    await browser.sign_in()
    resp = await browser.http.get("/other-first")
    assert (resp.status_code, resp.json()) == (200, {"n": 7, "sub": ADMIN_SUB})
    assert len(solves) == 3  # the route, _seven, AnyUser


async def test_values_and_validation_are_fastapis(browser: Browser) -> None:
    await browser.sign_in()
    assert (await browser.http.get("/me")).json() == {"sub": ADMIN_SUB}
    invalid = await browser.http.get("/both?n=many", headers=JSON_HEADERS)
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["query", "n"]


async def test_optional_dependencies_are_none_when_signed_out(browser: Browser) -> None:
    signed_out = await browser.http.get("/optional")
    assert signed_out.json() == {"user": None, "session": False}
    await browser.sign_in()
    assert (await browser.http.get("/optional")).json() == {"user": ADMIN_SUB, "session": True}


async def test_a_public_route_that_needs_the_user_answers_as_the_dependency_would(
    browser: Browser,
) -> None:
    resp = await browser.http.get("/public-but-needs-user", headers=JSON_HEADERS)
    assert (resp.status_code, resp.json()) == (401, SIGN_IN_FIRST)


async def test_a_sync_endpoint_gets_the_user_too(browser: Browser) -> None:
    await browser.sign_in()
    assert (await browser.http.get("/sync")).json() == {"sub": ADMIN_SUB}


async def test_dependency_overrides_win(browser: Browser) -> None:
    await browser.sign_in()
    app = browser.http._transport.app  # type: ignore[attr-defined]
    dependency = get_args(CurrentUser)[1].dependency
    app.dependency_overrides[dependency] = lambda: UserProfile(sub="test-user")
    try:
        assert (await browser.http.get("/me")).json() == {"sub": "test-user"}
    finally:
        app.dependency_overrides.clear()
    assert (await browser.http.get("/me")).json() == {"sub": ADMIN_SUB}


class CountingStore(MemoryStore):
    """Counts the reads that reach the store (what a Redis round trip or a query would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, key: str) -> Entry | None:
        self.reads += 1
        return await super().get(key)


async def test_a_signed_in_request_with_nothing_due_reads_nothing_from_the_store(
    provider: FakeProvider, clock: ManualClock
) -> None:
    store = CountingStore()
    app = direct_app(provider, store=store)
    async with running(app, clock) as browser:
        await browser.sign_in()
        for path in ("/me", "/both", "/optional"):
            assert (await browser.http.get(path)).status_code == 200
        assert store.reads == 0  # the record this process wrote is vouched for by the store
        clock.now += browser.auth.sessions.touch_interval  # the sliding expiry is due
        assert (await browser.http.get("/me")).status_code == 200
        assert store.reads == 1  # read, and moved
