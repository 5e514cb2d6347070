"""The module's routes (DESIGN.md's route table), one module per concern, collected here."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..dependencies import csrf_protect
from . import backchannel, health, session, signin, signout

__all__ = ["build_router"]


def build_router() -> APIRouter:
    """Every /auth route plus /healthz and /readyz.

    The module protects its own unsafe routes (CSRF token and origin), whether or not the host
    app installs the deny-by-default ``guard``.
    """
    router = APIRouter(dependencies=[Depends(csrf_protect)])
    for module in (signin, signout, session, backchannel, health):
        router.include_router(module.router)
    return router
