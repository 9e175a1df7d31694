"""/api/v1/teams/{team}/models: the model registry (versions, aliases, artifacts)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from sapwood.schemas.models import (
    MAX_VERSION,
    Alias,
    AliasRequest,
    Model,
    ModelSummary,
    ModelVersion,
    PushedModel,
)
from sapwood.server.registry.artifacts import ArtifactStore, open_store
from sapwood.server.routes.deps import Ctx, CtxDep
from sapwood.server.routes.params import AliasPath, NamePath, TeamPath
from sapwood.server.services import model_rules, models
from sapwood.server.services.errors import UnavailableError

router = APIRouter(prefix="/api/v1/teams/{team}/models", tags=["models"])

# The push route: BodyLimit gives it the registry's own (larger) body limit.
PUSH_PATH = re.compile(r"/api/v1/teams/[^/]+/models/[^/]+/versions/?")


def artifact_store(ctx: Ctx) -> ArtifactStore:
    settings = ctx.state.settings
    try:
        return open_store(settings.registry.store_url, home=settings.home)
    except RuntimeError as exc:
        raise UnavailableError(str(exc)) from None


@router.get("")
async def list_models(team: TeamPath, ctx: CtxDep) -> list[ModelSummary]:
    return await models.list_models(ctx.session, ctx.caller, team)


@router.get("/{name}")
async def get_model(team: TeamPath, name: NamePath, ctx: CtxDep) -> Model:
    """The model with every version (newest first) and its aliases."""
    return await models.get_model(ctx.session, ctx.caller, team, name)


@router.post(
    "/{name}/versions",
    status_code=201,
    responses={200: {"model": PushedModel, "description": "these bytes were already a version"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def push_model(
    team: TeamPath,
    name: NamePath,
    request: Request,
    response: Response,
    ctx: CtxDep,
    alias: Annotated[Alias | None, Query(description="point this alias at the version")] = None,
    metric: Annotated[list[str] | None, Query(description="NAME=NUMBER, repeated")] = None,
    framework: Annotated[str | None, Query(description="e.g. sklearn, pytorch")] = None,
    source: Annotated[str | None, Query(description="free text: data, commit, run")] = None,
) -> PushedModel:
    """The body is the ONNX file; 201 with a new version, 200 when the bytes exist already."""
    model_rules.require_push(ctx.caller, team, name)
    options = model_rules.PushOptions(
        alias=alias,
        metrics=model_rules.parse_metrics(metric or []),
        framework=framework,
        source=source,
    )
    pushed = await models.push_model(
        ctx.session,
        ctx.caller,
        team,
        name,
        request.stream(),
        options,
        store=artifact_store(ctx),
        now=ctx.state.clock.now(),
    )
    if not pushed.created:
        response.status_code = 200
    if alias is not None:
        ctx.state.wake("Service")  # the alias may have moved under running services
        ctx.state.wake("Feed")  # and under feeds
    return pushed


@router.get("/{name}/versions/{ref}")
async def get_version(team: TeamPath, name: NamePath, ref: str, ctx: CtxDep) -> ModelVersion:
    """``ref`` is a version number or an alias."""
    return await models.get_version(ctx.session, ctx.caller, team, name, ref)


@router.get(
    "/{name}/versions/{ref}/artifact",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def get_artifact(team: TeamPath, name: NamePath, ref: str, ctx: CtxDep) -> StreamingResponse:
    """The version's ONNX bytes."""
    version, chunks = await models.artifact(
        ctx.session, ctx.caller, team, name, ref, store=artifact_store(ctx)
    )
    headers = {
        "Content-Length": str(version.size),
        "Content-Disposition": f'attachment; filename="{name}-v{version.version}.onnx"',
        "ETag": f'"sha256:{version.sha256}"',
        "X-Sapwood-Model-Version": str(version.version),
        "X-Sapwood-Sha256": version.sha256,
    }
    await ctx.session.close()  # no transaction stays open while the bytes stream
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.put("/{name}/aliases/{alias}")
async def set_alias(
    team: TeamPath, name: NamePath, alias: AliasPath, body: AliasRequest, ctx: CtxDep
) -> ModelVersion:
    """Points the alias at a version, creating or moving it."""
    now = ctx.state.clock.now()
    moved = await models.set_alias(
        ctx.session, ctx.caller, team, name, alias, body.version, now=now
    )
    ctx.state.wake("Service")  # services on the alias roll out the version it names now
    ctx.state.wake("Feed")
    return moved


@router.delete("/{name}/aliases/{alias}", status_code=204)
async def delete_alias(team: TeamPath, name: NamePath, alias: AliasPath, ctx: CtxDep) -> Response:
    await models.delete_alias(ctx.session, ctx.caller, team, name, alias)
    return Response(status_code=204)


# The path names its parameter as GET's does: OpenAPI treats two templates that differ only
# in parameter names as one path, so {ref} here keeps the document valid.
@router.delete("/{name}/versions/{ref}", status_code=204)
async def delete_version(
    team: TeamPath,
    name: NamePath,
    ref: Annotated[int, Path(ge=1, le=MAX_VERSION, description="the version number")],
    ctx: CtxDep,
) -> Response:
    """Refused (409) while a Service serves the version or an alias names it."""
    await models.delete_version(ctx.session, ctx.caller, team, name, ref, store=artifact_store(ctx))
    return Response(status_code=204)
