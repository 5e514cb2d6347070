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
    """200 when the session store answers and the provider's discovery is loaded, else 503
    with the first failure's code; ``checks`` reports each dependency with its latency."""
    checks = await get_auth(request).ready()
    # Each dependency's status at the top (``ok`` or its error code), its details in checks.
    body: dict[str, object] = {
        name: check.get("error", "ok") for name, check in checks.items()
    }
    failed = [check["error"] for check in checks.values() if "error" in check]
    if not failed:
        return JSONResponse({"status": "ok", **body, "checks": checks})
    return JSONResponse(
        {"status": "unavailable", "error": failed[0], **body, "checks": checks}, status_code=503
    )
