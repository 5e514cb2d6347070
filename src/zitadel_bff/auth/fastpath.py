"""The module's own dependencies without FastAPI's dependency solver.

``user: CurrentUser`` is an ``Annotated[..., Depends(...)]`` so that routes read like their
contract, but each dependency FastAPI solves costs a recursive ``solve_dependencies`` call,
about 9 µs here: a quarter of a small JSON route. The value itself is already known to the
request's :class:`~zitadel_bff.web.AuthContext`.

For a route whose first dependencies are the module's own (``CurrentUser``,
``CurrentSession``, ``OptionalUser``, ``OptionalSession``, ``BearerUser``, ``AnyUser``, in any
number, before any other), :func:`install` makes the route's handler a pair: FastAPI's own
(:meth:`~fastapi.routing.APIRoute.get_route_handler`), and a second one FastAPI builds the same
way for a dependant without those dependencies, whose values are resolved from the scope and
given to the endpoint. Everything else (parameters, the body, other dependencies, the response
model, the response class) is FastAPI's, unchanged. FastAPI builds a route's handler once per
app and once per router inclusion (``get_route_handler`` is its hook for integrations), so
routes of included routers take the shortcut too.

FastAPI's own handler serves a request instead when:

- one of the module's dependencies is overridden (``app.dependency_overrides``, as tests do);
- the endpoint is synchronous, or the module's dependencies do not lead (a router's own
  ``dependencies=[...]`` come first, for instance).

The order of evaluation is FastAPI's: the module's dependencies come first, so FastAPI would
also have resolved them first.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any

import fastapi.routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, request_response
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Resolver", "install", "register"]

Resolver = Callable[[Any], Awaitable[Any]]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]

#: A dependency function of the module -> the same value read from the scope.
_RESOLVERS: dict[Callable[..., Any], Resolver] = {}
#: The resolved values, from the handler to the endpoint's wrapper (the same task).
_VALUES: ContextVar[dict[str, Any]] = ContextVar("zitadel_bff_fast_values")
#: FastAPI's per-inclusion route context while it builds a handler (None: the route itself).
_INCLUSION: ContextVar[Any] | None = getattr(fastapi.routing, "_effective_route_context_var", None)


def register(dependency: Callable[..., Any], resolver: Resolver) -> None:
    """``resolver(scope)`` must return what ``dependency(request)`` returns, or raise what it
    raises."""
    _RESOLVERS[dependency] = resolver


def install(route: APIRoute) -> None:
    """Give ``route`` the shortcut wherever FastAPI builds its handler from now on, and
    rebuild its handler for the app it was declared on."""
    build = route.get_route_handler

    def get_route_handler() -> Handler:
        return _handler(route, build)

    route.get_route_handler = get_route_handler  # type: ignore[method-assign]
    route.app = request_response(route.get_route_handler())


def _leading(dependant: Dependant) -> list[tuple[str | None, Resolver]]:
    leading = []
    for sub in dependant.dependencies:
        resolver = _RESOLVERS.get(sub.call) if sub.call is not None else None
        if resolver is None or sub.dependencies:
            break
        leading.append((sub.name, resolver))
    return leading


def _handler(route: APIRoute, build: Callable[[], Handler]) -> Handler:
    """FastAPI's handler for the route (or for its inclusion, when FastAPI is building that),
    with the shortcut in front when the route qualifies."""
    slow = build()
    inclusion = _INCLUSION.get() if _INCLUSION is not None else None
    if inclusion is not None and getattr(inclusion, "original_route", None) is not route:
        inclusion = None
    dependant: Dependant | None = inclusion.dependant if inclusion is not None else route.dependant
    endpoint = dependant.call if dependant is not None else None
    if dependant is None or endpoint is None or not asyncio.iscoroutinefunction(endpoint):
        return slow
    leading = _leading(dependant)
    if not leading:
        return slow
    calls = frozenset(sub.call for sub in dependant.dependencies[: len(leading)])

    @functools.wraps(endpoint)
    async def call(**values: Any) -> Any:
        return await endpoint(**values, **_VALUES.get())

    shortcut = dataclasses.replace(
        dependant, dependencies=dependant.dependencies[len(leading):], call=call
    )
    if inclusion is not None:
        assert _INCLUSION is not None
        context = copy.copy(inclusion)
        context.dependant = shortcut
        token = _INCLUSION.set(context)
        try:
            fast = build()
        finally:
            _INCLUSION.reset(token)
    else:
        copied = copy.copy(route)
        copied.dependant = shortcut
        fast = type(route).get_route_handler(copied)
    provider = (inclusion or route).dependency_overrides_provider

    async def handler(request: Request) -> Response:
        overrides = getattr(provider, "dependency_overrides", None)
        if overrides and not calls.isdisjoint(overrides):
            return await slow(request)
        values: dict[str, Any] = {}
        for name, resolver in leading:
            value = await resolver(request.scope)
            if name is not None:
                values[name] = value
        token = _VALUES.set(values)
        try:
            return await fast(request)
        finally:
            _VALUES.reset(token)

    return handler
