"""Liveness and readiness: the only routes that need no token."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from sapwood.server.routes.deps import app_state
from sapwood.server.state import AppState

router = APIRouter(tags=["health"])

# How long readiness waits for a pooled connection. Requests wait up to the pool's 30 s, so
# a server that cannot find one in this time is one whose users see requests hang; 1 s
# also matches the default timeout of a Kubernetes readiness probe.
READY_TIMEOUT_S = 1.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    """Ready when a pooled connection can be had within READY_TIMEOUT_S and the database
    answers on it; 503 with the reason otherwise (pool exhausted, database down)."""
    reason = await database_problem(state.engine, timeout_s=READY_TIMEOUT_S)
    if reason is not None:
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ok"})


async def database_problem(engine: AsyncEngine, *, timeout_s: float) -> str | None:
    """Why the database cannot serve a request now, or None when it can."""
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        pool = engine.pool
        if not isinstance(pool, QueuePool):
            return timeout_reason(None, timeout_s=timeout_s)
        # SQLAlchemy keeps the overflow limit private; size + overflow is the pool's capacity.
        capacity = pool.size() + int(getattr(pool, "_max_overflow", 0))
        return timeout_reason((pool.checkedout(), capacity), timeout_s=timeout_s)
    except Exception as exc:  # any failure means not ready; say which
        return f"the database does not answer: {exc}"[:200]
    return None


def timeout_reason(pool: tuple[int, int] | None, *, timeout_s: float) -> str:
    """What a connection that did not come within ``timeout_s`` means to an operator;
    ``pool`` is (checked out, capacity) where the pool has a capacity."""
    waited = f"no database connection within {timeout_s:g} s"
    if pool is not None and pool[0] >= pool[1]:
        return (
            f"{waited}: the connection pool is exhausted ({pool[0]} of {pool[1]} checked out); "
            "long requests are holding them"
        )
    return f"{waited}: the database is slow or unreachable"
