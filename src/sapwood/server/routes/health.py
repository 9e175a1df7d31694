"""Liveness and readiness: the only routes that need no token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from sapwood.server.routes.deps import AppState, app_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    """Ready when the database answers."""
    try:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse({"status": "unavailable", "reason": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ok"})
