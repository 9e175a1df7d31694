"""Where the route table comes from: the store (``StoreRoutes``) or a file (``StaticRoutes``).

Either way the table is immutable and replaced whole, and a change wakes requests that
wait for a first replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sapwood.server.gateway.polling import Polled
from sapwood.server.gateway.routing import Route, RouteTable
from sapwood.server.store.engine import session_factory
from sapwood.server.store.tables import ObjectRow
from sapwood.specs.base import SpecModel
from sapwood.specs.serving import Canary, GatewaySpec

log = logging.getLogger(__name__)


class RouteSource(Protocol):
    def get(self, team: str, service: str) -> Route | None:
        """The route of a service; None when there is no such service. Returns at once."""
        ...

    async def changed(self, timeout_s: float) -> None:
        """Returns when the table next changes, or after ``timeout_s``."""
        ...

    async def start(self) -> None:
        """Loads the first table (raising when it cannot) and starts following changes."""
        ...

    async def stop(self) -> None: ...


class _Table(Polled[RouteTable]):
    """The current table and a way to wait for the next one."""

    def __init__(self, poll_interval_s: float) -> None:
        super().__init__(poll_interval_s, what="routes")
        self.routes: RouteTable = {}
        self._changed = asyncio.Event()

    def get(self, team: str, service: str) -> Route | None:
        return self.routes.get((team, service))

    async def changed(self, timeout_s: float) -> None:
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            pass

    def publish(self, routes: RouteTable) -> None:
        if routes == self.routes:
            return
        self.routes = routes
        event, self._changed = self._changed, asyncio.Event()
        event.set()


class RouteEntry(SpecModel):
    """One service in a routes file."""

    team: str
    service: str
    endpoints: list[str] = Field(default_factory=list, description="host:port of ready replicas")
    canary_endpoints: list[str] = Field(default_factory=list)
    canary_weight: int = Field(default=0, ge=0, le=100)
    shadow: bool = False
    gateway: GatewaySpec = Field(default_factory=GatewaySpec)
    paused: bool = False


class RoutesFile(SpecModel):
    services: list[RouteEntry] = Field(default_factory=list)


def parse_routes_file(text: str, *, source: str) -> RouteTable:
    """The table a routes file (YAML or JSON) describes; ValueError naming the bad field."""
    try:
        data = yaml.safe_load(text) or {}
        parsed = RoutesFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not YAML or JSON: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"{source}: {problems}") from exc
    routes: dict[tuple[str, str], Route] = {}
    for entry in parsed.services:
        routes[(entry.team, entry.service)] = Route(
            team=entry.team,
            service=entry.service,
            endpoints=tuple(entry.endpoints),
            canary_endpoints=tuple(entry.canary_endpoints),
            canary_weight=entry.canary_weight,
            shadow=entry.shadow,
            gateway=entry.gateway,
            paused=entry.paused,
        )
    return routes


class StaticRoutes(_Table):
    """Routes from a file, re-read whenever it changes (for tests and benchmarks)."""

    def __init__(self, path: Path, *, poll_interval_s: float = 0.5) -> None:
        super().__init__(poll_interval_s)
        self.path = path
        self._seen: tuple[int, int] | None = None

    async def load(self) -> RouteTable:
        stat = self.path.stat()
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return self.routes
        routes = parse_routes_file(self.path.read_text(), source=str(self.path))
        self._seen = seen
        return routes


class StoreRoutes(_Table):
    """Routes from the Service objects in the store, polled (a cheap query) twice a second."""

    may_start_empty = True  # the server may still be migrating the store

    def __init__(self, engine: AsyncEngine, *, poll_interval_s: float = 0.5) -> None:
        super().__init__(poll_interval_s)
        self._sessions = session_factory(engine)
        self._specs: dict[tuple[str, int], tuple[GatewaySpec, int, bool]] = {}

    async def load(self) -> RouteTable:
        query = select(
            ObjectRow.uid,
            ObjectRow.generation,
            ObjectRow.team,
            ObjectRow.name,
            ObjectRow.spec,
            ObjectRow.status,
        ).where(ObjectRow.kind == "Service", ObjectRow.deletion_timestamp.is_(None))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        routes: dict[tuple[str, str], Route] = {}
        specs: dict[tuple[str, int], tuple[GatewaySpec, int, bool]] = {}
        for uid, generation, team, name, spec, status in rows:
            key = (uid, generation)
            parsed = self._specs.get(key) or _spec_parts(spec, where=f"{team}/{name}")
            specs[key] = parsed
            gateway, weight, shadow = parsed
            # A paused service has no replica, whatever an older status still lists.
            paused = spec.get("paused") is True
            routes[(team, name)] = Route(
                team=team,
                service=name,
                endpoints=() if paused else _endpoints(status, "endpoints"),
                canary_endpoints=() if paused else _endpoints(status, "canaryEndpoints"),
                canary_weight=weight,
                shadow=shadow,
                gateway=gateway,
                paused=paused,
            )
        self._specs = specs  # parsed once per generation; deleted services are forgotten
        return routes


def _spec_parts(spec: Mapping[str, Any], *, where: str) -> tuple[GatewaySpec, int, bool]:
    try:
        gateway = GatewaySpec.model_validate(spec.get("gateway") or {})
        canary = Canary.model_validate(spec["canary"]) if spec.get("canary") else None
    except ValidationError:
        # The API validated it on the way in; an older row may not match today's spec.
        log.warning("service %s: unreadable gateway or canary spec, using defaults", where)
        return GatewaySpec(), 0, False
    return gateway, (canary.weight if canary else 0), (canary.shadow if canary else False)


def _endpoints(status: Mapping[str, Any] | None, field: str) -> tuple[str, ...]:
    values = (status or {}).get(field) or []
    return tuple(str(v) for v in values if isinstance(v, str) and ":" in v)
