"""What every route receives: the app's state (server/state.py), a session, and the
authenticated caller.

Streaming and long-poll routes take ``StreamCtxDep`` instead: it authenticates in a session
that is closed before the route runs, because a ``yield`` dependency's session stays open
(holding a pooled connection) until the whole response has been sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from sapwood.server.services.access import Caller
from sapwood.server.services.errors import NotFoundError
from sapwood.server.services.tokens import authenticate, single_authorization
from sapwood.server.services.workload_scope import ApiCall
from sapwood.server.state import AppState
from sapwood.server.store.engine import AsyncSession
from sapwood.specs.objects import PLURALS
from sapwood.specs.suggest import did_you_mean


@dataclass(frozen=True)
class Ctx:
    state: AppState
    session: AsyncSession
    caller: Caller


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.sapwood
    return state


def api_call(request: Request) -> ApiCall:
    """The request as workload_scope decides on it: method, matched route template, params."""
    route = request.scope.get("route")
    # path_format drops convertors: "/api/v1/{plural}/{name}", not "{plural:plural}".
    template = getattr(route, "path_format", None)
    return ApiCall(
        request.method,
        template if isinstance(template, str) else request.url.path,
        dict(request.path_params),
        team=request.query_params.get("team"),
    )


async def context(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> AsyncIterator[Ctx]:
    async with state.sessions() as session:
        header = single_authorization(request.headers.getlist("authorization"))
        caller = await authenticate(session, header, now=state.clock.now(), call=api_call(request))
        yield Ctx(state, session, caller)


CtxDep = Annotated[Ctx, Depends(context)]


@dataclass(frozen=True)
class StreamCtx:
    """A caller authenticated in a session that is closed already: the route opens short
    sessions of its own (``state.sessions()``) and holds none while it streams or waits."""

    state: AppState
    caller: Caller


async def stream_context(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> StreamCtx:
    async with state.sessions() as session:
        header = single_authorization(request.headers.getlist("authorization"))
        caller = await authenticate(session, header, now=state.clock.now(), call=api_call(request))
    return StreamCtx(state, caller)


StreamCtxDep = Annotated[StreamCtx, Depends(stream_context)]


def kind_of_plural(plural: str) -> str:
    """The kind a path's plural names; 404 naming the plurals there are."""
    kind = PLURALS.get(plural)
    if kind is None:
        raise NotFoundError(unknown_plural(plural))
    return kind


def unknown_plural(plural: str) -> str:
    """The 404 message for a path that names no resource: the plurals there are, and the
    closest one."""
    hint = did_you_mean(plural, PLURALS, ignore_case=True)
    return f"no such resource {plural!r}: expected one of {', '.join(PLURALS)}{hint}"
