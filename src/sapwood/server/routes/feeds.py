"""/api/v1/feeds/{name}/...: records in, batches out to workers, results back, figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from sapwood.schemas.base import MAX_BIGINT
from sapwood.schemas.feeds import (
    ARROW_STREAM,
    ATTEMPT_HEADER,
    FEATURES_HEADER,
    FILL_MISSING_PARAM,
    FIRST_SEQUENCE_HEADER,
    IDEMPOTENCY_HEADER,
    LEASE_HEADER,
    MODEL_HEADER,
    MODEL_VERSION_HEADER,
    PARQUET,
    REPLAYED_HEADER,
    FeedFigures,
    FeedResultPage,
    IngestResponse,
)
from sapwood.server.ingest.broker import Broker
from sapwood.server.ingest.results import ResultFilter
from sapwood.server.routes.deps import CtxDep, StreamCtxDep
from sapwood.server.routes.params import NamePath
from sapwood.server.services import feed_ingest, feed_results, feeds
from sapwood.server.services.errors import UnavailableError
from sapwood.server.services.paging import clamp_limit
from sapwood.server.state import AppState

router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"])

TeamQuery = Annotated[str | None, Query(description="the owning team")]


def _broker(state: AppState) -> Broker:
    if state.feed_broker is None:  # pragma: no cover - the lifespan sets it
        raise UnavailableError("the feed broker is not running")
    return state.feed_broker


@router.post("/{name}/records", response_model=IngestResponse)
async def post_records(
    name: NamePath,
    request: Request,
    ctx: CtxDep,
    team: TeamQuery = None,
    batch_id: Annotated[str | None, Query(alias="batchId")] = None,
    idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)] = None,
    fill_missing: Annotated[
        bool,
        Query(
            alias=FILL_MISSING_PARAM,
            description="absent feature columns take the schema's values instead of a 422",
        ),
    ] = False,
) -> JSONResponse:
    """Validates and stores the records (JSON, JSON lines, CSV, Arrow IPC or Parquet), all
    or none. A repeated batch id with the same body answers as before and stores nothing;
    with another body, 422. Records lacking feature columns are refused unless
    ``fillMissing`` (or the feed's ``ingest.fillMissing``)."""
    ingested = await feed_ingest.ingest(
        ctx.session,
        ctx.caller,
        name,
        team=team,
        body=await request.body(),
        content_type=request.headers.get("content-type", "application/json"),
        batch_key=idempotency_key or batch_id,
        now=ctx.state.clock.now(),
        broker=_broker(ctx.state),
        signals=ctx.state.feed_signals,
        fill_missing=fill_missing,
    )
    headers = {REPLAYED_HEADER: "true"} if ingested.replayed else {}
    if ingested.scales:  # more records may want more workers; a fixed count waits its pass
        ctx.state.wake("Feed")
    return JSONResponse(ingested.response.model_dump(mode="json", by_alias=True), headers=headers)


@router.post("/{name}/lease")
async def lease(
    name: NamePath,
    ctx: StreamCtxDep,
    team: TeamQuery = None,
    consumer: str = "worker",
    wait: Annotated[float, Query(ge=0, description="seconds to wait for a batch")] = 0.0,
) -> Response:
    """One batch of records as an Arrow IPC stream, with its lease id and the model to score
    it with in headers; 204 when none arrived within ``wait`` seconds. A long poll: the
    session below holds a connection only while it reads, never while it waits."""
    settings = ctx.state.settings.feeds
    async with ctx.state.sessions() as session:
        leased = await feeds.lease_batch(
            session,
            ctx.caller,
            name,
            team=team,
            consumer=consumer[:64],
            visibility=timedelta(seconds=settings.visibility_timeout_s),
            wait_s=min(wait, settings.max_lease_wait_s),
            clock=ctx.state.clock,
            broker=_broker(ctx.state),
            signals=ctx.state.feed_signals,
        )
    if leased is None:
        return Response(status_code=204)
    return Response(
        content=leased.records,
        media_type=ARROW_STREAM,
        headers={
            LEASE_HEADER: leased.lease_id,
            MODEL_HEADER: leased.model,
            FEATURES_HEADER: ",".join(leased.features),
            FIRST_SEQUENCE_HEADER: str(leased.first_seq),
            ATTEMPT_HEADER: str(leased.attempt),
        },
    )


@router.post("/{name}/ack")
async def ack(
    name: NamePath,
    request: Request,
    ctx: CtxDep,
    lease: Annotated[str, Query(description="the lease id the batch came with")],
    team: TeamQuery = None,
    model_version: Annotated[str | None, Header(alias=MODEL_VERSION_HEADER)] = None,
) -> dict[str, object]:
    """Stores the batch's results (an Arrow IPC stream, one row per record) and finishes
    the batch; acking a batch whose results are stored already changes nothing."""
    acked = await feeds.ack_batch(
        ctx.session,
        ctx.caller,
        name,
        team=team,
        lease_id=lease,
        body=await request.body(),
        model_version=model_version or "",
        now=ctx.state.clock.now(),
        broker=_broker(ctx.state),
    )
    ctx.state.wake("Feed")  # a smaller backlog may want fewer workers
    return {"stored": acked.stored, "firstSequence": acked.first_seq, "count": acked.count}


@router.get("/{name}/results", response_model=FeedResultPage)
async def results(
    name: NamePath,
    ctx: CtxDep,
    team: TeamQuery = None,
    since: datetime | None = None,
    until: datetime | None = None,
    prediction: int | None = None,
    from_sequence: Annotated[int | None, Query(alias="fromSequence", ge=1, le=MAX_BIGINT)] = None,
    to_sequence: Annotated[int | None, Query(alias="toSequence", ge=1, le=MAX_BIGINT)] = None,
    limit: int | None = None,
    continue_: Annotated[str | None, Query(alias="continue")] = None,
    format: Annotated[str, Query(description="json (a page), csv or parquet (all)")] = "json",
) -> Response:
    """Scored records in sequence order, filtered; ``format=csv|parquet`` exports them all."""
    where = ResultFilter(
        since=since,
        until=until,
        prediction=prediction,
        from_seq=from_sequence,
        to_seq=to_sequence,
    )
    if format != "json":
        data = await feed_results.export_results(
            ctx.session, ctx.caller, name, team=team, where=where, fmt=format
        )
        media = "text/csv; charset=utf-8" if format == "csv" else PARQUET
        filename = f"{name}-results.{format}"
        return Response(
            data,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    api = ctx.state.settings.api
    page = await feed_results.list_results(
        ctx.session,
        ctx.caller,
        name,
        team=team,
        where=where,
        limit=clamp_limit(limit, default=api.page_size, maximum=api.max_page_size),
        continue_=continue_,
    )
    # Serialised by pydantic, which writes any NaN or infinity left as null, where
    # JSONResponse's json.dumps(allow_nan=False) would answer 500.
    return Response(page.model_dump_json(by_alias=True), media_type="application/json")


@router.get("/{name}/figures")
async def figures(name: NamePath, ctx: CtxDep, team: TeamQuery = None) -> FeedFigures:
    """Ingest and scoring rates, backlog, latency, flagged share and, with labels, rolling
    accuracy, precision and recall over the last five minutes."""
    return await feed_results.feed_figures(
        ctx.session, ctx.caller, name, team=team, now=ctx.state.clock.now()
    )
