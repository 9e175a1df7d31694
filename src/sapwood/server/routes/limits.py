"""/api/v1/limits: the size limits this server enforces, for clients that split requests."""

from __future__ import annotations

from fastapi import APIRouter

from sapwood.schemas.limits import ServerLimits
from sapwood.server.routes.deps import CtxDep

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.get("/limits")
async def get_limits(ctx: CtxDep) -> ServerLimits:
    """Any valid token; `sapwood feed push` sizes its chunks from ``maxBodyBytes``."""
    settings = ctx.state.settings
    return ServerLimits(
        max_body_bytes=settings.api.max_body_bytes,
        max_model_bytes=settings.registry.max_upload_bytes,
    )
