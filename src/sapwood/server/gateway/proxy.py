"""The gateway's decisions for one request: admit, pick a replica, forward, record.

``Gateway.handle`` takes a parsed ``Request`` and returns a ``Response``; it knows
nothing of sockets on the client side (``front.py`` does that), so it can be driven
directly in tests. It runs on every request: every microsecond here is overhead the
caller pays.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from sapwood.server.auth.tokens import many_authorizations
from sapwood.server.gateway.auth import TokenAuth, authorise
from sapwood.server.gateway.buckets import BucketSet, retry_after_s
from sapwood.server.gateway.messages import (
    DROP_RESPONSE,
    Headers,
    HttpError,
    Request,
    Response,
    error_response,
    json_response,
    not_found,
    request_head,
    too_large,
)
from sapwood.server.gateway.metrics import (
    GATEWAY,
    GatewayMetrics,
    ServiceMetrics,
    render_prometheus,
)
from sapwood.server.gateway.routing import (
    Route,
    least_outstanding,
    paused_message,
    split_path,
    to_canary,
)
from sapwood.server.gateway.sources import RouteSource
from sapwood.server.gateway.stats import stats_to_json
from sapwood.server.gateway.upstream import (
    ConnectError,
    UpstreamClosedError,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeoutError,
)
from sapwood.specs.serving import RateLimit

if TYPE_CHECKING:
    from sapwood.server.gateway.workspaces import WorkspaceProxy

log = logging.getLogger(__name__)

PROMETHEUS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
# RFC 9110 section 9.2.2: sending these twice has the effect of sending them once.
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})


def may_resend(method: bytes, error: UpstreamError) -> bool:
    """Whether a request that failed with ``error`` may go to another replica.

    Always when no connection was made (nothing was sent); after the request was written,
    only for an idempotent method, since the replica may have acted on it. Never after a
    timeout: the replica is busy with it, and the client has waited long enough.
    """
    if isinstance(error, ConnectError):
        return True
    return isinstance(error, UpstreamClosedError) and method in IDEMPOTENT_METHODS


class Gateway:
    """Routes requests to replicas; ``auth`` is None without a store (token routes: 401)."""

    def __init__(
        self,
        routes: RouteSource,
        *,
        auth: TokenAuth | None,
        stats_key: str,
        timeout_s: float = 300.0,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.routes = routes
        self._closers = closers
        self.auth = auth
        self.stats_key = stats_key.encode()
        self.timeout_s = timeout_s
        self.monotonic = monotonic
        self.metrics = GatewayMetrics(wall_clock)
        self.pool = UpstreamPool()
        self._service_buckets: dict[tuple[str, str], tuple[RateLimit, BucketSet]] = {}
        self._token_buckets: dict[tuple[str, str], tuple[RateLimit, BucketSet]] = {}
        self._turn = 0
        self._shadows: set[asyncio.Task[None]] = set()
        # /w/TEAM/WORKSPACE/…: set by build_gateway when there is a store (workspaces.py).
        self.workspaces: WorkspaceProxy | None = None

    async def start(self) -> None:
        """Loads the first route table; raises when it cannot (a bad routes file)."""
        await self.routes.start()
        if self.workspaces is not None:
            await self.workspaces.routes.start()

    async def close(self) -> None:
        await self.routes.stop()
        if self.workspaces is not None:
            await self.workspaces.routes.stop()
        for task in list(self._shadows):
            task.cancel()
        await asyncio.gather(*self._shadows, return_exceptions=True)
        self.pool.close()
        for closer in self._closers:
            await closer()

    def tunnels(self, target: bytes) -> bool:
        """Whether an upgrade (WebSocket) to ``target`` may go through: workspaces only."""
        return self.workspaces is not None and target.startswith(b"/w/")

    async def handle(self, request: Request) -> Response:
        """The response to one request; never raises for anything the client did."""
        parsed = split_path(request.path)
        if parsed is None:
            if self.workspaces is not None and request.path.startswith(b"/w/"):
                return await self.workspaces.handle(request)
            return self._own_path(request)
        team, name, rest = parsed
        started = self.monotonic()
        key = (team, name)
        try:
            route = self.routes.get(team, name)
            if route is None:
                raise not_found(team, name)
            return await self._proxy(route, rest, request, started)
        except HttpError as exc:
            self.metrics.answered(key, GATEWAY, exc.status, self.monotonic() - started)
            return error_response(exc)

    async def _proxy(self, route: Route, rest: bytes, request: Request, started: float) -> Response:
        team, name = route.team, route.service
        spec = route.gateway
        authorization = content_length = request_key = request_id = forwarded = None
        authorizations = 0
        for header, value in request.headers:
            if header == b"authorization":
                authorization = value
                authorizations += 1
            elif header == b"content-length":
                content_length = value
            elif header == b"x-sapwood-request-key":
                request_key = value
            elif header == b"x-request-id":
                request_id = value
            elif header == b"x-forwarded-for":
                forwarded = value

        token_id = ""
        if spec.auth == "token":
            if authorizations > 1:  # as the API does: never pick one of several
                raise HttpError(
                    401,
                    "unauthorized",
                    many_authorizations(authorizations),
                    headers=[(b"www-authenticate", b"Bearer")],
                )
            token_id = await self._authorise(authorization, team, name)
        if spec.rate_limit is not None or spec.token_rate_limit is not None:
            now = self.monotonic()
            if spec.rate_limit is not None:
                self._limit(self._service_buckets, route, spec.rate_limit, name, now, per="service")
            if spec.token_rate_limit is not None:
                caller = token_id or request.client
                limit = spec.token_rate_limit
                self._limit(self._token_buckets, route, limit, caller, now, per="token")

        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                raise HttpError(400, "invalid", "Content-Length is not a number") from None
            if declared > spec.max_request_bytes:
                raise too_large(spec.max_request_bytes)
        incoming = request.body
        if incoming.complete and incoming.size <= spec.max_request_bytes:
            parts = incoming.parts  # all there already: the common case, without a coroutine
            body = parts[0] if len(parts) == 1 else b"".join(parts)
        else:
            body = await incoming.read(spec.max_request_bytes)

        load = self.metrics.admitted((team, name))
        try:
            return await self._forward(
                route, rest, request, body, started, load,
                request_key=request_key, request_id=request_id, forwarded=forwarded,
            )  # fmt: skip
        except BaseException:
            self.metrics.finished(load)
            raise

    async def _authorise(self, authorization: bytes | None, team: str, name: str) -> str:
        if self.auth is None:
            raise HttpError(401, "unauthorized", "this gateway has no store to check tokens in")
        caller = await authorise(
            self.auth, authorization, team=team, not_found=lambda: not_found(team, name)
        )
        return caller.token_id

    def _limit(
        self,
        buckets: dict[tuple[str, str], tuple[RateLimit, BucketSet]],
        route: Route,
        limit: RateLimit,
        key: str,
        now: float,
        *,
        per: str,
    ) -> None:
        """429 when the bucket of ``key`` is empty; ``per`` is "service" or "token"."""
        field = "rateLimit" if per == "service" else "tokenRateLimit"
        entry = buckets.get((route.team, route.service))
        if entry is None or (entry[0] is not limit and entry[0] != limit):  # new, or changed
            entry = (limit, BucketSet(limit.requests_per_second, limit.capacity))
            buckets[(route.team, route.service)] = entry
        wait_s = entry[1].take(key, now)
        if wait_s > 0:
            seconds = retry_after_s(wait_s)
            raise HttpError(
                429,
                "rate_limited",
                f"gateway.{field} of service {route.team}/{route.service} exceeded "
                f"({limit.requests_per_second:g} requests/s per {per}); retry in {seconds} s",
                headers=[(b"retry-after", str(seconds).encode())],
            )

    async def _forward(
        self,
        route: Route,
        rest: bytes,
        request: Request,
        body: bytes,
        started: float,
        load: ServiceMetrics,
        *,
        request_key: bytes | None,
        request_id: bytes | None,
        forwarded: bytes | None,
    ) -> Response:
        key = (route.team, route.service)
        canary = False
        if route.canary_weight and route.canary_endpoints:
            canary = to_canary(
                route.canary_weight,
                key=request_key.decode("latin-1") if request_key is not None else None,
                draw=random.random() * 100,
            )
        if route.shadow or not canary:
            endpoints = route.endpoints or (() if route.shadow else route.canary_endpoints)
        else:
            endpoints = route.canary_endpoints or route.endpoints
        if not endpoints:
            route = await self._hold(route)
            endpoints = route.endpoints or route.canary_endpoints
        client = request.client.encode()
        xff = forwarded + b", " + client if forwarded else client
        head = request_head(request, rest, route, xff, request_id, len(body))
        head_only = request.method == b"HEAD"

        metrics = self.metrics
        method = request.method
        idempotent = method in IDEMPOTENT_METHODS
        first = self._choose(endpoints)
        endpoint = first
        response: UpstreamResponse | None = None
        for attempt in (1, 2):
            metrics.dispatched(key, endpoint)
            try:
                response = await self.pool.request(
                    endpoint, head + endpoint.encode() + b"\r\n\r\n" + body,
                    head_only=head_only, idempotent=idempotent, timeout_s=self.timeout_s,
                )  # fmt: skip
                break
            except UpstreamTimeoutError as exc:
                metrics.returned(endpoint)
                raise HttpError(504, "gateway_timeout", str(exc)) from None
            except UpstreamError as exc:
                metrics.returned(endpoint)
                others = [e for e in endpoints if e != first]
                if attempt == 1 and others and may_resend(method, exc):
                    endpoint = self._choose(others)
                    continue
                log.warning("%s/%s: %s", route.team, route.service, exc)
                raise upstream_failed(method, exc) from None
        assert response is not None
        if route.shadow and canary and route.canary_endpoints:
            self._shadow(route, head, body, head_only)
        status = response.status
        monotonic = self.monotonic

        def done() -> None:  # once the response is written (or abandoned)
            metrics.returned(endpoint)
            metrics.answered(key, endpoint, status, monotonic() - started)
            metrics.finished(load)

        return relay(response, head_only=head_only, after=done)

    def _choose(self, endpoints: Sequence[str]) -> str:
        self._turn += 1
        return least_outstanding(endpoints, self.metrics.outstanding, start=self._turn)

    async def _hold(self, route: Route) -> Route:
        """Waits for a first ready replica; 503 after ``gateway.holdTimeout``."""
        key = (route.team, route.service)
        metrics = self.metrics.service(key)
        timeout_s = route.gateway.hold_timeout.total_seconds()
        deadline = self.monotonic() + timeout_s
        metrics.held += 1
        try:
            while True:
                current = self.routes.get(route.team, route.service)
                if current is None:
                    raise not_found(route.team, route.service)
                if current.paused:  # nothing will start it: say how to, at once
                    raise HttpError(503, "paused", paused_message(current))
                if current.endpoints or (current.canary_endpoints and not current.shadow):
                    return current
                left = deadline - self.monotonic()
                if left <= 0:
                    raise HttpError(
                        503,
                        "unavailable",
                        f"service {route.team}/{route.service} has no ready replica "
                        f"(waited {timeout_s:g} s)",
                        headers=[(b"retry-after", b"5")],
                    )
                await self.routes.changed(left)
        finally:
            metrics.held -= 1

    def _shadow(self, route: Route, head: bytes, body: bytes, head_only: bool) -> None:
        endpoint = self._choose(route.canary_endpoints)
        task = asyncio.create_task(self._send_shadow(route, endpoint, head, body, head_only))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _send_shadow(
        self, route: Route, endpoint: str, head: bytes, body: bytes, head_only: bool
    ) -> None:
        key = (route.team, route.service)
        status = 0
        self.metrics.dispatched(key, endpoint)
        try:
            response = await self.pool.request(
                endpoint, head + endpoint.encode() + b"\r\n\r\n" + body,
                head_only=head_only, idempotent=False, timeout_s=self.timeout_s,
            )  # fmt: skip
            while await response.read() is not None:
                pass
            status = response.status
        except UpstreamError as exc:
            log.debug("shadow copy to %s failed: %s", endpoint, exc)
        finally:
            self.metrics.returned(endpoint)
            self.metrics.shadowed(key, endpoint, status)

    def _own_path(self, request: Request) -> Response:
        path = request.path
        if path == b"/_sapwood/healthz":
            return json_response(200, {"status": "ok"})
        if path not in (b"/_sapwood/stats", b"/_sapwood/metrics"):
            return error_response(
                HttpError(
                    404,
                    "not_found",
                    "no such path: services are under /s/TEAM/SERVICE/, "
                    "workspaces under /w/TEAM/WORKSPACE/",
                )
            )
        presented = next((v for n, v in request.headers if n == b"x-sapwood-gateway-key"), b"")
        if not hmac.compare_digest(presented, self.stats_key):
            return error_response(
                HttpError(401, "unauthorized", "send the gateway key in X-Sapwood-Gateway-Key")
            )
        if path == b"/_sapwood/stats":
            return json_response(200, stats_to_json(self.metrics.snapshot()))
        text = render_prometheus(self.metrics).encode()
        return Response(200, [(b"content-type", PROMETHEUS_TYPE)], text)


def upstream_failed(method: bytes, error: UpstreamError) -> HttpError:
    """The 502 for a request no replica answered; it says whether the request may have
    been acted on, so the client knows whether sending it again is safe."""
    if isinstance(error, ConnectError):
        return HttpError(502, "bad_gateway", f"no replica answered: {error}")
    if method in IDEMPOTENT_METHODS:
        return HttpError(502, "bad_gateway", f"no replica answered: {error}")
    name = method.decode("latin-1")
    return HttpError(
        502,
        "bad_gateway",
        f"{error} before answering; the replica may have received this {name} request, and "
        f"the gateway does not send a {name} twice (it is not idempotent): check its effect "
        "before you retry it",
    )


def relay(response: UpstreamResponse, *, head_only: bool, after: Callable[[], None]) -> Response:
    """The client's response to an upstream one: whole when it has all arrived, else streamed.

    Hop-by-hop headers are dropped; the connection sets its own framing.
    """
    headers: Headers = []
    length: Headers = []
    for header in response.headers:
        name = header[0]
        if name not in DROP_RESPONSE:
            headers.append(header)
        elif name == b"content-length":
            length.append(header)
    status = response.status
    if response.done and response.error is None:
        if head_only or status == 204 or status == 304:
            return Response(status, headers + length, bodyless=True, after=after)
        chunks = response.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return Response(status, headers, data, after=after)
    return Response(status, headers + length, stream=response, after=after)
