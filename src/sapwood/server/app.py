"""create_app(): routes, error handlers, and the lifespan that opens the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sapwood.schemas import ErrorBody, ErrorDetail, ErrorInfo
from sapwood.server.api_docs import install as install_api_docs
from sapwood.server.clock import Clock, SystemClock
from sapwood.server.controller.manager import ControllerConfig, ControllerManager
from sapwood.server.controller.plan import scaling
from sapwood.server.controller.plan.scheduler import Policy
from sapwood.server.controller.reads import RuntimeReader
from sapwood.server.dashboard import routes as dashboard
from sapwood.server.dashboard.errors import install as install_page_errors
from sapwood.server.ingest.brokers import open_broker
from sapwood.server.leader import LeaderElector, default_holder
from sapwood.server.limits import BodyLimit, RouteLimit
from sapwood.server.observe.gateway_load import GatewayLoadSource
from sapwood.server.observe.notifier import Notifier
from sapwood.server.observe.prometheus import PrometheusExporter
from sapwood.server.observe.slack_posts import web_client
from sapwood.server.observe.utilisation import UtilisationMonitor
from sapwood.server.openapi import allowed_methods, unknown_resource
from sapwood.server.openapi import install as install_openapi
from sapwood.server.replicas import ReplicaDirectory, ReplicaHeartbeat
from sapwood.server.routes import (
    feeds,
    health,
    identity,
    limits,
    metrics,
    models,
    notifications,
    objects,
    pause,
    prometheus,
    quotas,
    slack_status,
)
from sapwood.server.routes.deps import unknown_plural
from sapwood.server.runtime_registry import RUNTIMES, runtime_kind
from sapwood.server.runtimes.base import Runtime
from sapwood.server.secrets import read_server_key, workload_token
from sapwood.server.services.bootstrap import bootstrap
from sapwood.server.services.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ServiceError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
)
from sapwood.server.settings import Settings
from sapwood.server.slack import route as slack_route
from sapwood.server.slack.front import SlackFrontEnd
from sapwood.server.state import AppState
from sapwood.server.store import migrate
from sapwood.server.store.changes import ChangeFeed
from sapwood.server.store.changes_pg import PgChangeListener
from sapwood.server.store.engine import create_engine, is_sqlite, session_factory
from sapwood.server.store.leases import LeaseFence
from sapwood.server.store.outage import (
    RETRY_AFTER_S,
    STORE_DOWN_ERRORS,
    OutageTracker,
    outage_reason,
    watch_connections,
)

log = logging.getLogger("sapwood.server")

_STATUS: dict[type[ServiceError], int] = {
    InvalidError: 422,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    UnavailableError: 503,
    TooManyRequestsError: 429,
}

# Called once with the admin token's secret when the server creates it (first start).
OnBootstrap = Callable[[str], None]


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    runtime: Runtime | None = None,
    on_bootstrap: OnBootstrap | None = None,
) -> FastAPI:
    """The whole server as an ASGI app. Its lifespan migrates the database and bootstraps."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        await asyncio.to_thread(_keep_home_private, settings)
        # What is opened is closed in reverse, also when a later step of the startup fails.
        async with contextlib.AsyncExitStack() as stack:
            await _compose(app, stack)
            yield

    async def _compose(app: FastAPI, stack: contextlib.AsyncExitStack) -> None:
        engine = create_engine(settings.database_url, echo=settings.store.echo)
        stack.push_async_callback(engine.dispose)
        changes = ChangeFeed()  # which objects each commit changed, for the controller
        watch_connections(engine, app.state.outages, log)
        state = AppState(
            settings=settings,
            clock=clock or SystemClock(),
            engine=engine,
            sessions=session_factory(engine, changes),
            local_workdirs=runtime_kind(settings.runtime.kind).local_workdirs,
        )
        app.state.sapwood = state
        broker = state.feed_broker = open_broker(settings.feeds.redis_url, state.sessions)
        stack.push_async_callback(broker.close)
        async with state.sessions() as session:
            secret = await bootstrap(session, now=state.clock.now())
        if secret is not None and on_bootstrap is not None:
            on_bootstrap(secret)
        # The notifier posts what the controller records, so its loop runs beside it.
        notifier = Notifier(
            state.sessions,
            state.clock,
            sample_interval_s=settings.controller.utilisation_interval_s,
            policy=settings.notifications.webhook_policy,
            slack=web_client(settings.slack),
        )
        state.notifier = notifier
        # The Slack app (HTTP mode or Socket Mode); its live message updates follow the lead.
        front = app.state.slack = SlackFrontEnd(state) if settings.slack.enabled else None
        if front is not None:
            state.slack_status = front.status
            await front.start()
            stack.push_async_callback(front.stop)

        # The manager this replica runs while it leads: the app alone holds it (to stop
        # it); routes and the dashboard see only its ports, state.controller and .reads.
        running: list[tuple[ControllerManager, UtilisationMonitor]] = []
        listening: list[PgChangeListener] = []
        # While it follows, a replica reads logs and capacity through a runtime of its own.
        reader = await _open_reader(settings, runtime)
        if reader is not None:
            stack.push_async_callback(reader.close)
        follower_reads = RuntimeReader(reader) if reader is not None else None
        state.reads = follower_reads

        # Other replicas find this one's gateway through its row (server/replicas.py).
        replica_id = default_holder()
        heartbeat = _heartbeat(settings, state, replica_id)
        if heartbeat is not None:
            await heartbeat.start()
            stack.push_async_callback(heartbeat.stop)

        async def lead(fence: LeaseFence | None = None) -> None:
            manager, usage = await _start_controller(
                settings, state, runtime, changes, fence, replica_id=replica_id
            )
            running.append((manager, usage))
            if not is_sqlite(settings.database_url):  # other replicas' writes, by NOTIFY
                listener = PgChangeListener(
                    settings.database_url, changes, on_reconnect=manager.resync_soon
                )
                await listener.start()
                listening.append(listener)
            state.controller = state.reads = manager
            state.wake = manager.wake
            state.usage = usage
            await usage.start()
            await notifier.start()
            if front is not None:
                await front.lead()

        async def follow() -> None:
            if front is not None:
                await front.follow()
            await notifier.stop()
            while listening:
                await listening.pop().stop()
            state.controller = state.usage = None
            state.reads = follower_reads
            state.wake = lambda kind: None
            while running:
                controller, usage = running.pop()
                await usage.stop()
                await controller.stop()
                if isinstance(controller.load_source, GatewayLoadSource):
                    await controller.load_source.aclose()

        async def stop_reading() -> None:
            state.reads = None

        stack.push_async_callback(stop_reading)
        stack.push_async_callback(follow)  # stops whatever lead() started
        if settings.controller.enabled and settings.controller.leader_election:
            # Replicas share one database: only the lease holder runs the loops.
            lease_s = settings.controller.leader_lease_s
            elector = LeaderElector(
                state.sessions, state.clock, on_elected=lead, on_lost=follow, lease_s=lease_s
            )
            await elector.start()
            stack.push_async_callback(elector.stop)
        elif settings.controller.enabled:
            await lead()

    app = FastAPI(
        title="Sapwood",
        version="0.1.0",
        summary="Workspaces, jobs and services for AI teams, under quotas.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # api_docs serves /docs from files shipped with the server
        redoc_url=None,
        lifespan=lifespan,
    )
    model_uploads = RouteLimit(
        models.PUSH_PATH,
        settings.registry.max_upload_bytes,
        "the server's SAPWOOD_MAX_MODEL_BYTES sets how large a model may be",
    )
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes, routes=[model_uploads])
    app.include_router(health.router)
    app.include_router(identity.router)
    app.include_router(limits.router)
    app.include_router(quotas.router)
    app.include_router(slack_status.router)
    app.include_router(prometheus.router)
    app.state.prometheus = PrometheusExporter()
    app.state.outages = OutageTracker()
    # Before objects: routes match in order, and its /{plural}/... paths are generic.
    app.include_router(metrics.router)
    app.include_router(notifications.router)
    app.include_router(models.router)
    app.include_router(dashboard.router)
    app.include_router(pause.router)
    app.include_router(slack_route.router)
    app.include_router(feeds.router)
    app.include_router(objects.router)
    _install_error_handlers(app)
    install_page_errors(app)  # the same errors as HTML pages on the dashboard's paths
    install_openapi(app, max_page_size=settings.api.max_page_size)
    install_api_docs(app)
    return app


async def _open_reader(settings: Settings, runtime: Runtime | None) -> Runtime | None:
    """The runtime a replica that does not lead reads logs and capacity through: opened
    where replicas elect a leader and the runtime answers any of them (Kubernetes); None
    otherwise (the local runtime's units and logs are on the leader's machine), and when
    a test hands in the runtime."""
    controller = settings.controller
    if runtime is not None or not (controller.enabled and controller.leader_election):
        return None
    kind = runtime_kind(settings.runtime.kind)
    return await kind.open(settings) if kind.reads_anywhere else None


async def _start_controller(
    settings: Settings,
    state: AppState,
    runtime: Runtime | None,
    changes: ChangeFeed,
    fence: LeaseFence | None,
    *,
    replica_id: str,
) -> tuple[ControllerManager, UtilisationMonitor]:
    """The controller, started, and the utilisation monitor it asks about idleness (the
    caller starts that one). Under a `fence` (the leader's term), its writes of statuses
    and workload tokens stop when the term ends."""
    api_url = settings.api_url
    if runtime is None:  # the runtime the settings name (tests hand one in)
        kind = runtime_kind(settings.runtime.kind)
        runtime = await kind.open(settings)
        api_url = kind.api_url(settings)
    key = await asyncio.to_thread(read_server_key, settings.secret_key_file, home=settings.home)
    config = ControllerConfig(
        api_url=api_url,
        server_key=key,
        runs_images=runtime.name in RUNTIMES and RUNTIMES[runtime.name].runs_images,
        fence=fence,
        settings=settings.controller,
        priorities=settings.scheduling.priorities,
        policy=Policy(
            fair_share=settings.scheduling.fair_share,
            service_levels=tuple(h * 3600 for h in settings.scheduling.service_levels_hours),
        ),
    )
    if settings.gateway.enabled:
        config = replace(config, load_source=_load_source(settings, state, key, replica_id))
    usage = UtilisationMonitor(
        sessions=state.sessions,
        runtime=runtime,
        clock=state.clock,
        token_of=lambda view: workload_token(key, view.uid).token,
        # The gateway's figures as the controller last fetched them (bound late: the
        # monitor starts after the controller exists).
        last_requests=lambda: scaling.last_requests(controller.last_loads),
        interval_s=settings.controller.utilisation_interval_s,
        retention_s=settings.controller.utilisation_retention_s,
    )
    controller = ControllerManager(
        sessions=state.sessions,
        runtime=runtime,
        clock=state.clock,
        config=config,
        changes=changes,
        idle=usage,
    )
    await controller.start()
    return controller, usage


def _heartbeat(settings: Settings, state: AppState, replica_id: str) -> ReplicaHeartbeat | None:
    """This replica's row for the leader to find its gateway by, where it has a gateway and
    advertises an address; None otherwise (one process: the leader is the only gateway)."""
    url = settings.advertised_gateway_url
    if not settings.gateway.enabled or url is None:
        return None
    return ReplicaHeartbeat(state.sessions, state.clock, replica_id=replica_id, gateway_url=url)


def _load_source(
    settings: Settings, state: AppState, key: bytes, replica_id: str
) -> GatewayLoadSource:
    """The leader's own gateway over loopback and, where replicas elect a leader, every
    other live replica's at the address it advertises."""
    peers = None
    if settings.controller.leader_election:
        own = settings.advertised_gateway_url
        peers = ReplicaDirectory(state.sessions, state.clock, own_id=replica_id, own_url=own)
    return GatewayLoadSource(settings.gateway_url, key, peers=peers, clock=state.clock)


def _keep_home_private(settings: Settings) -> None:
    """The home (keys, database, unit files) is the server's alone: 0700, its files 0600."""
    home = settings.home
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    for name in ("sapwood.db", "sapwood.db-wal", "sapwood.db-shm", "secret.key"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(home / name, 0o600)


def _error(status: int, info: ErrorInfo, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=info).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        details = [ErrorDetail(path=d.path, message=d.message) for d in exc.details]
        info = ErrorInfo(code=exc.code, message=exc.message, details=details, hint=exc.hint)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        if isinstance(exc, TooManyRequestsError):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return _error(_STATUS.get(type(exc), 400), info, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [_detail(e) for e in exc.errors()]
        info = ErrorInfo(code="invalid", message="the request is not valid", details=details)
        return _error(422, info)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: a 405 names the methods the path takes
            allow = allowed_methods(request.app.openapi(), request.url.path)
            headers["Allow"] = allow or headers.get("Allow", "")
        message = str(exc.detail)
        if exc.status_code == 404:  # no route: name the resources there are
            unknown = unknown_resource(request.app.openapi(), request.url.path)
            message = message if unknown is None else unknown_plural(unknown)
        info = ErrorInfo(code=code, message=message)
        return _error(exc.status_code, info, headers or None)

    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        # One line per outage, not a traceback per request (store/outage.py).
        line = request.app.state.outages.failed(outage_reason(exc))
        if line is not None:
            log.error(line)
        info = ErrorInfo(
            code="unavailable",
            message="the database is unreachable; try again shortly",
            hint=f"retry after {RETRY_AFTER_S} s; the server log says why",
        )
        return _error(503, info, {"Retry-After": str(RETRY_AFTER_S)})

    for error in STORE_DOWN_ERRORS:
        app.add_exception_handler(error, store_down)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        info = ErrorInfo(code="internal", message="internal server error; see the server log")
        return _error(500, info)


def _detail(error: Any) -> ErrorDetail:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        message = f"invalid JSON: {error.get('ctx', {}).get('error', message)}"
    return ErrorDetail(path=".".join(loc), message=message)
