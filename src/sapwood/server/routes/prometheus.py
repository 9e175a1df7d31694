"""/metrics: Prometheus's text format. Any valid token may scrape; see docs/metrics.md."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from sapwood.server.observe.gateway_metrics import gateway_exposition
from sapwood.server.observe.prometheus import PrometheusExporter
from sapwood.server.routes.deps import CtxDep
from sapwood.server.secrets import read_server_key

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(request: Request, ctx: CtxDep) -> Response:
    """Object counts, queues, preemptions, restarts and controller passes, collected now,
    and the gateway's request figures.

    An admin's token sees every team; any other token sees the teams it reads.
    """
    exporter: PrometheusExporter = request.app.state.prometheus
    body = await exporter.scrape(
        ctx.session,
        ctx.caller,
        ctx.state.controller,
        now=ctx.state.clock.now(),
        usage=ctx.state.usage,
    )
    settings = ctx.state.settings
    if settings.gateway.enabled:
        key = await asyncio.to_thread(read_server_key, settings.secret_key_file, home=settings.home)
        gateway = await gateway_exposition(settings.gateway_url, key, ctx.caller)
        body = bytes(body) + gateway.encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
