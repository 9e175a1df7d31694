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
from sapwood.server.controller.scheduler import Policy
from sapwood.server.dashboard import routes as dashboard
from sapwood.server.dashboard.errors import install as install_page_errors
from sapwood.server.gateway_load import GatewayLoadSource
from sapwood.server.ingest.brokers import open_broker
from sapwood.server.leader import LeaderElector
from sapwood.server.limits import BodyLimit, RouteLimit
from sapwood.server.openapi import allowed_methods, unknown_resource
from sapwood.server.openapi import install as install_openapi
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
)
from sapwood.server.routes.deps import AppState, unknown_plural
from sapwood.server.runtimes.base import Runtime
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.server.runtimes.local.runtime import LocalRuntime
from sapwood.server.runtimes.local.settings import LocalRuntimeSettings
from sapwood.server.secrets import load_or_create_key
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
from sapwood.server.services.notifier import Notifier
from sapwood.server.services.prometheus import PrometheusExporter
from sapwood.server.settings import Settings
from sapwood.server.store import migrate
from sapwood.server.store.engine import create_engine, session_factory
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
        engine = create_engine(settings.database_url, echo=settings.store.echo)
        watch_connections(engine, app.state.outages, log)
        state = AppState(
            settings=settings,
            clock=clock or SystemClock(),
            engine=engine,
            sessions=session_factory(engine),
        )
        app.state.sapwood = state
        broker = state.feed_broker = open_broker(settings.feeds.redis_url, state.sessions)
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
        )
        state.notifier = notifier

        async def lead() -> None:
            state.controller = await _start_controller(settings, state, runtime)
            state.wake = state.controller.wake
            if settings.controller.loop:
                await notifier.start()

        async def follow() -> None:
            await notifier.stop()
            controller, state.controller = state.controller, None
            state.wake = lambda kind: None
            if controller is not None:
                await controller.stop()
                if isinstance(controller.load_source, GatewayLoadSource):
                    await controller.load_source.aclose()

        elector: LeaderElector | None = None
        if settings.controller.enabled and settings.controller.leader_election:
            # Replicas share one database: only the lease holder runs the loops.
            lease_s = settings.controller.leader_lease_s
            elector = LeaderElector(
                state.sessions, state.clock, on_elected=lead, on_lost=follow, lease_s=lease_s
            )
            await elector.start()
        elif settings.controller.enabled:
            await lead()
        try:
            yield
        finally:
            if elector is not None:
                await elector.stop()
            await follow()
            await broker.close()
            await engine.dispose()

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
    app.include_router(prometheus.router)
    app.state.prometheus = PrometheusExporter()
    app.state.outages = OutageTracker()
    # Before objects: routes match in order, and its /{plural}/... paths are generic.
    app.include_router(metrics.router)
    app.include_router(notifications.router)
    app.include_router(models.router)
    app.include_router(dashboard.router)
    app.include_router(pause.router)
    app.include_router(feeds.router)
    app.include_router(objects.router)
    _install_error_handlers(app)
    install_page_errors(app)  # the same errors as HTML pages on the dashboard's paths
    install_openapi(app, max_page_size=settings.api.max_page_size)
    install_api_docs(app)
    return app


async def _start_controller(
    settings: Settings, state: AppState, runtime: Runtime | None
) -> ControllerManager:
    api_url = settings.api_url
    if runtime is None and settings.runtime.kind == "kubernetes":
        # Loading the kubeconfig reads files: off the event loop.
        runtime = await asyncio.to_thread(KubernetesRuntime, kubernetes_runtime_settings(settings))
        api_url = settings.runtime.kube_api_url
        log.info("kubernetes runtime: namespaces %s<team>", settings.runtime.kube_namespace_prefix)
    if runtime is None:
        local = LocalRuntime(
            LocalRuntimeSettings(
                data_dir=settings.home / "runtime",
                reserve_cpu_millis=settings.runtime.reserve_cpu_millis,
                reserve_memory_bytes=settings.runtime.reserve_memory_bytes,
                use_cgroups=settings.runtime.use_cgroups,
                isolation=settings.runtime.isolation,
                single_tenant=settings.runtime.single_tenant,
                hidden=(settings.home, *settings.runtime.hidden),
            )
        )
        await asyncio.to_thread(
            _log_local_limits, local, single_tenant=settings.runtime.single_tenant
        )
        runtime = local
    key = await asyncio.to_thread(load_or_create_key, settings.home / "secret.key")
    config = ControllerConfig(
        api_url=api_url,
        server_key=key,
        runs_images=runtime.name == "kubernetes",
        resync_s=settings.controller.resync_s,
        slow_pass_s=settings.controller.slow_pass_s,
        utilisation_interval_s=settings.controller.utilisation_interval_s,
        utilisation_retention_s=settings.controller.utilisation_retention_s,
        priorities=settings.scheduling.priorities,
        policy=Policy(
            fair_share=settings.scheduling.fair_share,
            service_levels=tuple(h * 3600 for h in settings.scheduling.service_levels_hours),
        ),
    )
    if settings.gateway.enabled:
        config = replace(config, load_source=GatewayLoadSource(settings.gateway_url, key))
    controller = ControllerManager(
        sessions=state.sessions, runtime=runtime, clock=state.clock, config=config
    )
    if settings.controller.loop:
        await controller.start()
    return controller


def _keep_home_private(settings: Settings) -> None:
    """The home (keys, database, unit files) is the server's alone: 0700, its files 0600."""
    home = settings.home
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    for name in ("sapwood.db", "sapwood.db-wal", "sapwood.db-shm", "secret.key"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(home / name, 0o600)


def _log_local_limits(local: LocalRuntime, *, single_tenant: bool) -> None:
    """What the local runtime enforces on this machine, said once at start (blocking:
    it probes cgroupfs and bubblewrap)."""
    log.info("local runtime: limits enforced by %s", local.limits_mechanism)
    if local.limits_mechanism == "rlimit":
        log.warning("no writable cgroupfs: memory limits use rlimits, CPU quotas are off")
    sandbox = local.sandbox
    log.info("local runtime: workloads isolated by %s", sandbox.describe())
    for missing in sandbox.missing:
        log.warning("isolation: %s", missing)
    if not sandbox.isolates:
        if single_tenant:
            log.warning("isolation: teams are NOT kept apart (--single-tenant)")
        else:
            log.warning(
                "isolation: teams cannot be kept apart, so one team's workloads run at a "
                "time; start with --single-tenant if every team trusts every other"
            )


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


def kubernetes_runtime_settings(settings: Settings) -> KubernetesRuntimeSettings:
    """The Kubernetes runtime's settings from the server's (SAPWOOD_KUBE*)."""
    return KubernetesRuntimeSettings(
        kubeconfig=settings.runtime.kubeconfig,
        context=settings.runtime.kube_context,
        namespace_prefix=settings.runtime.kube_namespace_prefix,
        image=settings.runtime.kube_image,
        server_image=settings.runtime.kube_server_image,
        jupyter_image=settings.runtime.kube_jupyter_image,
        api_url=settings.runtime.kube_api_url,
    )
