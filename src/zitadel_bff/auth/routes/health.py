"""Liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..dependencies import get_auth, public

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz")
@public
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
@public
async def readyz(request: Request) -> Response:
    """200 when the session store answers and the provider's discovery is loaded, else 503;
    the body reports each dependency with its latency."""
    checks = await get_auth(request).ready()
    if all(check["status"] == "ok" for check in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)
