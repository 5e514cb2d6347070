"""The module's own dependencies without FastAPI's dependency solver.

``user: CurrentUser`` is an ``Annotated[..., Depends(...)]`` so that routes read like their
contract, but each dependency FastAPI solves costs a recursive ``solve_dependencies`` call,
about 9 µs here: a quarter of a small JSON route. The value itself is already known to the
request's :class:`~zitadel_bff.web.AuthContext`.

For a route whose first dependencies are the module's own (``CurrentUser``,
``CurrentSession``, ``OptionalUser``, ``OptionalSession``, ``BearerUser``, ``AnyUser``, in any
number, before any other), :func:`fast_app` builds a second handler with FastAPI's own
:meth:`~fastapi.routing.APIRoute.get_route_handler`, for a copy of the route whose dependant
lacks those dependencies; their values are resolved from the scope and given to the endpoint.
Everything else (parameters, the body, other dependencies, the response model, the response
class) is FastAPI's, unchanged. The route keeps its original handler for everything the
shortcut does not cover:

- a dependency override of one of ours (``app.dependency_overrides``, as tests use): FastAPI
  solves it as usual;
- a route included through a router: FastAPI serves it from its own per-inclusion handler,
  which this never replaces;
- a synchronous endpoint, or one that the module's dependencies do not lead.

The order of evaluation is FastAPI's: the module's dependencies come first in the signature,
so FastAPI would also have resolved them first.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from fastapi.routing import APIRoute, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Resolver", "fast_app", "register"]

Resolver = Callable[[Scope], Awaitable[Any]]

#: A dependency function of the module -> the same value read from the scope.
_RESOLVERS: dict[Callable[..., Any], Resolver] = {}
#: The resolved values, from the dispatcher to the endpoint's wrapper (the same task).
_VALUES: ContextVar[dict[str, Any]] = ContextVar("zitadel_bff_fast_values")


def register(dependency: Callable[..., Any], resolver: Resolver) -> None:
    """``resolver(scope)`` must return what ``dependency(request)`` returns, or raise what it
    raises."""
    _RESOLVERS[dependency] = resolver


def fast_app(route: APIRoute) -> ASGIApp | None:
    """An ASGI app for ``route.app``'s place that skips the solver for the module's leading
    dependencies, or None when the route has none (or cannot take the shortcut)."""
    dependant = route.dependant
    endpoint = dependant.call
    if endpoint is None or not asyncio.iscoroutinefunction(endpoint):
        return None
    leading: list[tuple[str | None, Resolver]] = []
    for sub in dependant.dependencies:
        resolver = _RESOLVERS.get(sub.call) if sub.call is not None else None
        if resolver is None or sub.dependencies:
            break
        leading.append((sub.name, resolver))
    if not leading:
        return None
    calls = frozenset(sub.call for sub in dependant.dependencies[: len(leading)])

    @functools.wraps(endpoint)
    async def call(**values: Any) -> Any:
        return await endpoint(**values, **_VALUES.get())

    shortcut = copy.copy(route)
    shortcut.dependant = dataclasses.replace(
        dependant, dependencies=dependant.dependencies[len(leading):], call=call
    )
    fast = request_response(shortcut.get_route_handler())
    slow = route.app
    provider = route.dependency_overrides_provider

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        overrides = getattr(provider, "dependency_overrides", None)
        if overrides and not calls.isdisjoint(overrides):
            await slow(scope, receive, send)
            return
        values: dict[str, Any] = {}
        for name, resolver in leading:
            value = await resolver(scope)
            if name is not None:
                values[name] = value
        token = _VALUES.set(values)
        try:
            await fast(scope, receive, send)
        finally:
            _VALUES.reset(token)

    return app
