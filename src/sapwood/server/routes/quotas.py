"""/api/v1/quotas and /api/v1/queue."""

from __future__ import annotations

from fastapi import APIRouter, Response

from sapwood.schemas import QueueEntry, Quota, QuotaRequest
from sapwood.server.routes.deps import CtxDep
from sapwood.server.routes.params import TeamPath
from sapwood.server.services import quotas

router = APIRouter(prefix="/api/v1", tags=["scheduling"])


@router.get("/quotas")
async def list_quotas(ctx: CtxDep) -> list[Quota]:
    return await quotas.list_quotas(ctx.session, ctx.caller)


@router.put("/quotas/{team}")
async def set_quota(team: TeamPath, body: QuotaRequest, ctx: CtxDep) -> Quota:
    quota = await quotas.set_quota(ctx.session, ctx.caller, team, body, now=ctx.state.clock.now())
    ctx.state.wake("quota")
    return quota


@router.delete("/quotas/{team}", status_code=204)
async def delete_quota(team: TeamPath, ctx: CtxDep) -> Response:
    await quotas.delete_quota(ctx.session, ctx.caller, team)
    ctx.state.wake("quota")
    return Response(status_code=204)


@router.get("/queue")
async def list_queue(ctx: CtxDep, team: str | None = None) -> list[QueueEntry]:
    return await quotas.list_queue(ctx.session, ctx.caller, team=team)
