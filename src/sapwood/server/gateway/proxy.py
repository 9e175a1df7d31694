"""The gateway's ASGI app: admit, pick a replica, forward, record.

A raw ASGI callable rather than a framework: it runs on every request, and every
microsecond here is overhead the caller pays.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from sapwood.server.gateway.auth import TokenAuth
from sapwood.server.gateway.buckets import BucketSet, retry_after_s
from sapwood.server.gateway.messages import (
    DROP_RESPONSE,
    HttpError,
    Receive,
    Scope,
    Send,
    client_host,
    not_found,
    read_body,
    request_head,
    send_error,
    send_json,
    too_large,
)
from sapwood.server.gateway.metrics import GATEWAY, GatewayMetrics, render_prometheus
from sapwood.server.gateway.routing import Route, least_outstanding, split_path, to_canary
from sapwood.server.gateway.sources import RouteSource
from sapwood.server.gateway.stats import stats_to_json
from sapwood.server.gateway.upstream import (
    ConnectError,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeoutError,
)
from sapwood.server.services.access import can_read
from sapwood.specs.serving import RateLimit

log = logging.getLogger(__name__)


class Gateway:
    """The ASGI app. ``auth`` is None when no store is configured (token routes then 401)."""

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.routes.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def close(self) -> None:
        await self.routes.stop()
        for task in list(self._shadows):
            task.cancel()
        await asyncio.gather(*self._shadows, return_exceptions=True)
        self.pool.close()
        for closer in self._closers:
            await closer()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        parsed = split_path(raw_path.partition(b"?")[0])
        if parsed is None:
            await self._own_path(scope, send)
            return
        team, name, rest = parsed
        started = self.monotonic()
        key = (team, name)
        try:
            route = self.routes.get(team, name)
            if route is None:
                raise not_found(team, name)
            await self._proxy(route, rest, scope, receive, send, started)
        except HttpError as exc:
            await send_error(send, exc)
            self.metrics.answered(key, GATEWAY, exc.status, self.monotonic() - started)

    async def _proxy(
        self,
        route: Route,
        rest: bytes,
        scope: Scope,
        receive: Receive,
        send: Send,
        started: float,
    ) -> None:
        team, name = route.team, route.service
        spec = route.gateway
        authorization = content_length = request_key = request_id = forwarded = None
        for header, value in scope["headers"]:
            if header == b"authorization":
                authorization = value
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
            token_id = await self._authorise(authorization, team, name)
        now = self.monotonic()
        if spec.rate_limit is not None:
            self._limit(self._service_buckets, route, spec.rate_limit, name, now, per="service")
        if spec.token_rate_limit is not None:
            caller = token_id or client_host(scope)
            self._limit(self._token_buckets, route, spec.token_rate_limit, caller, now, per="token")

        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                raise HttpError(400, "invalid", "Content-Length is not a number") from None
            if declared > spec.max_request_bytes:
                raise too_large(spec.max_request_bytes)
        body = await read_body(receive, spec.max_request_bytes)

        metrics = self.metrics.admitted((team, name))
        try:
            await self._forward(
                route, rest, scope, send, body, started,
                request_key=request_key, request_id=request_id, forwarded=forwarded,
            )  # fmt: skip
        finally:
            self.metrics.finished(metrics)

    async def _authorise(self, authorization: bytes | None, team: str, name: str) -> str:
        if self.auth is None:
            raise HttpError(401, "unauthorized", "this gateway has no store to check tokens in")
        try:
            outcome = await self.auth.check(authorization)
        except Exception as exc:  # the store is down: say so, rather than a bare 500
            log.warning("cannot check a token: %s", exc)
            raise HttpError(
                503,
                "unavailable",
                "cannot check the token now: the store is unreachable",
                headers=[(b"retry-after", b"5")],
            ) from None
        if isinstance(outcome, str):
            raise HttpError(
                401, "unauthorized", outcome, headers=[(b"www-authenticate", b"Bearer")]
            )
        if not can_read(outcome, team):
            raise not_found(team, name)
        return outcome.token_id

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
        scope: Scope,
        send: Send,
        body: bytes,
        started: float,
        *,
        request_key: bytes | None,
        request_id: bytes | None,
        forwarded: bytes | None,
    ) -> None:
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
        client = client_host(scope)
        xff = forwarded + b", " + client.encode() if forwarded else client.encode()
        head = request_head(scope, rest, route, xff, request_id, len(body))
        method_head = scope["method"] == "HEAD"

        first = self._choose(endpoints)
        endpoint = first
        response: UpstreamResponse | None = None
        for attempt in (1, 2):
            self.metrics.dispatched(key, endpoint)
            try:
                response = await self.pool.request(
                    endpoint, head + endpoint.encode() + b"\r\n\r\n" + body,
                    head_only=method_head, timeout_s=self.timeout_s,
                )  # fmt: skip
                break
            except ConnectError as exc:
                self.metrics.returned(endpoint)
                others = [e for e in endpoints if e != first]
                if attempt == 2 or not others:
                    log.warning("%s/%s: %s", route.team, route.service, exc)
                    raise HttpError(502, "bad_gateway", f"no replica answered: {exc}") from None
                endpoint = self._choose(others)
            except UpstreamTimeoutError as exc:
                self.metrics.returned(endpoint)
                raise HttpError(504, "gateway_timeout", str(exc)) from None
            except UpstreamError as exc:
                self.metrics.returned(endpoint)
                raise HttpError(502, "bad_gateway", str(exc)) from None
        assert response is not None
        if route.shadow and canary and route.canary_endpoints:
            self._shadow(route, head, body, method_head)
        try:
            await self._relay(response, send, method_head)
        finally:
            self.metrics.returned(endpoint)
            self.metrics.answered(key, endpoint, response.status, self.monotonic() - started)

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

    async def _relay(self, response: UpstreamResponse, send: Send, head_only: bool) -> None:
        headers = [(n, v) for n, v in response.headers if n.lower() not in DROP_RESPONSE]
        if response.done and response.error is None:
            data = b"".join(response.chunks)
            if head_only or response.status in (204, 304):
                headers += [(n, v) for n, v in response.headers if n.lower() == b"content-length"]
            else:
                headers.append((b"content-length", str(len(data)).encode()))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": data})
            return
        headers += [(n, v) for n, v in response.headers if n.lower() == b"content-length"]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        try:
            while (chunk := await response.read()) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            # The status is sent already: all that is left is to cut the response short.
            log.warning("response body cut short: %s", exc)
            raise
        finally:
            response.abort()
        await send({"type": "http.response.body", "body": b""})

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
                head_only=head_only, timeout_s=self.timeout_s,
            )  # fmt: skip
            while await response.read() is not None:
                pass
            status = response.status
        except UpstreamError as exc:
            log.debug("shadow copy to %s failed: %s", endpoint, exc)
        finally:
            self.metrics.returned(endpoint)
            self.metrics.shadowed(key, endpoint, status)

    async def _own_path(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        if path == "/_sapwood/healthz":
            await send_json(send, 200, {"status": "ok"})
            return
        if path not in ("/_sapwood/stats", "/_sapwood/metrics"):
            await send_error(
                send,
                HttpError(404, "not_found", "no such path: services are under /s/TEAM/SERVICE/"),
            )
            return
        presented = next((v for n, v in scope["headers"] if n == b"x-sapwood-gateway-key"), b"")
        if not hmac.compare_digest(presented, self.stats_key):
            await send_error(
                send,
                HttpError(401, "unauthorized", "send the gateway key in X-Sapwood-Gateway-Key"),
            )
            return
        if path == "/_sapwood/stats":
            await send_json(send, 200, stats_to_json(self.metrics.snapshot()))
            return
        text = render_prometheus(self.metrics).encode()
        headers = [
            (b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),
            (b"content-length", str(len(text)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": text})
