"""Liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ...errors import BFFError
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
    """200 when the session store answers and the provider's discovery is loaded, else 503."""
    try:
        checks = await get_auth(request).ready()
    except BFFError as exc:
        return JSONResponse({"status": "unavailable", "error": exc.code}, status_code=503)
    return JSONResponse({"status": "ok", **checks})
