"""Two server replicas on one database, each with its own gateway: the leader's autoscaler
reads both, so a request the follower's gateway holds for a Service scaled to zero is in
the leader's load (before, the leader read its own gateway alone and never saw it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sapwood.server.app import create_app
from sapwood.server.controller.manager import ControllerManager
from sapwood.server.controller.plan.scaling import Loads
from sapwood.server.gateway.server import build_gateway
from sapwood.server.replicas import beat, list_replicas
from sapwood.server.secrets import load_or_create_key
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.testing.fake_runtime import FakeRuntime
from sapwood.testing.servers import free_port
from sapwood.testing.waiting import eventually
from tests.integration.gateway.support import running_gateway, write_routes

pytestmark = pytest.mark.anyio

COLD = ("lab", "cold")
COLD_ROUTE = {
    "team": "lab",
    "service": "cold",
    "endpoints": [],  # scaled to zero: the gateway holds requests until a replica is ready
    "gateway": {"auth": "public", "holdTimeout": "20s"},
}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The key every replica shares (the Secret sapwood-server-key in the install)."""
    path = tmp_path / "server.key"
    load_or_create_key(path)
    return path


@contextmanager
def gateway(tmp_path: Path, name: str, key_file: Path) -> Iterator[str]:
    """A replica's gateway on a free loopback port, routing the cold Service."""
    routes = tmp_path / f"{name}-routes.yaml"
    write_routes(routes, [COLD_ROUTE])
    settings = Settings(home=tmp_path / f"{name}-gateway", secret_key_file=key_file)
    built = build_gateway(settings, routes_file=routes, poll_interval_s=0.05, timeout_s=1.0)
    with running_gateway(built) as url:
        yield url


def hold_a_request(url: str) -> None:
    """A client waits at the gateway `url` for the cold Service (until the gateway stops)."""

    def call() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            try:
                client.get("/s/lab/cold/")
            except httpx.HTTPError:  # the gateway stopped under it
                pass

    threading.Thread(target=call, name="held-request", daemon=True).start()


def replica(
    tmp_path: Path, name: str, database_url: str, key_file: Path, gateway_url: str
) -> FastAPI:
    """A server replica whose own gateway is the one at `gateway_url`, advertised on loopback."""
    settings = Settings(
        home=tmp_path / name,
        secret_key_file=key_file,
        store=StoreSettings(database_url=database_url),
        controller=ControllerSettings(leader_election=True, leader_lease_s=5.0),
        gateway=GatewaySettings(
            port=int(gateway_url.rsplit(":", 1)[1]), advertise_address="127.0.0.1"
        ),
    )
    return create_app(settings, runtime=FakeRuntime())


async def loads_of(app: FastAPI) -> Loads:
    """What the app's controller reads as load, one round."""
    controller = app.state.sapwood.controller
    assert isinstance(controller, ControllerManager), "this replica does not lead"
    assert controller.load_source is not None
    return await controller.load_source() or {}


def held(loads: Loads) -> int:
    load = loads.get(COLD)
    return 0 if load is None else load.held


async def test_the_leader_sees_a_request_held_by_the_followers_gateway(
    tmp_path: Path, database_url: str, key_file: Path
) -> None:
    with gateway(tmp_path, "one", key_file) as one, gateway(tmp_path, "two", key_file) as two:
        leader = replica(tmp_path, "one", database_url, key_file, one)
        follower = replica(tmp_path, "two", database_url, key_file, two)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(leader.router.lifespan_context(leader))
            await stack.enter_async_context(follower.router.lifespan_context(follower))
            assert follower.state.sapwood.controller is None
            hold_a_request(two)  # the Service sapwood-gateway sent it to the follower
            loads = await eventually(lambda: loads_of(leader), lambda got: held(got) == 1)
            assert loads[COLD].in_flight == 1
            hold_a_request(one)  # and another to the leader: both count
            await eventually(lambda: loads_of(leader), lambda got: held(got) == 2)


async def test_an_unreachable_replica_is_skipped_and_a_stopped_one_forgotten(
    tmp_path: Path, database_url: str, key_file: Path
) -> None:
    with gateway(tmp_path, "one", key_file) as one, gateway(tmp_path, "two", key_file) as two:
        leader = replica(tmp_path, "one", database_url, key_file, one)
        follower = replica(tmp_path, "two", database_url, key_file, two)
        async with leader.router.lifespan_context(leader):
            sessions = leader.state.sapwood.sessions
            # A replica that registered, then went silent without a word: nothing answers.
            dead = f"http://127.0.0.1:{free_port()}"
            await beat(sessions, "gone", dead, now=datetime.now(UTC))
            hold_a_request(one)
            loads = await eventually(lambda: loads_of(leader), lambda got: held(got) == 1)
            assert loads[COLD].held == 1  # the leader's own figures, the dead peer left out
            async with follower.router.lifespan_context(follower):
                urls = {r.gateway_url for r in await list_replicas(sessions)}
                assert urls == {one, two, dead}
            # A replica that stops removes its row: the leader no longer asks it.
            urls = {r.gateway_url for r in await list_replicas(sessions)}
            assert urls == {one, dead}
