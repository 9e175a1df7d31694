"""Server replicas on one PostgreSQL database hear each other's writes through NOTIFY.

Replica A runs the controller with a resync an hour away (and its clock never moves), so
only a notification can tell it about an object replica B stores; after A's LISTEN
connection is killed, it reconnects and compares the store whole, so a write made while
nobody listened is not lost either.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from sapwood.schemas import Phase
from sapwood.server.app import create_app
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime
from sapwood.testing.waiting import eventually
from tests.conftest import _postgres_schema_url
from tests.support import Api, job

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

ADMITTED = {"Admitted", "Running"}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_schema_url()


@dataclass
class Replicas:
    a_name: str  # replica A's application_name, to find its connections
    runtime: FakeRuntime  # replica A's
    b: Api  # replica B's API: every write goes through it
    url: str


@pytest.fixture
async def replicas(tmp_path: Path, postgres_url: str) -> AsyncIterator[Replicas]:
    a_name = f"sapwood-a-{uuid.uuid4().hex[:8]}"
    a_url = make_url(postgres_url).update_query_dict({"application_name": a_name})
    clock, runtime, tokens = FakeClock(), FakeRuntime(), list[str]()

    def settings(home: str, url: str, controller: ControllerSettings) -> Settings:
        return Settings(
            home=tmp_path / home,
            store=StoreSettings(database_url=url),
            controller=controller,
            gateway=GatewaySettings(enabled=False),
        )

    a = create_app(
        settings(
            "a", a_url.render_as_string(hide_password=False), ControllerSettings(resync_s=3600)
        ),
        clock=clock,
        runtime=runtime,
        on_bootstrap=tokens.append,
    )
    b = create_app(settings("b", postgres_url, ControllerSettings(enabled=False)), clock=clock)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(a.router.lifespan_context(a))
        await stack.enter_async_context(b.router.lifespan_context(b))
        assert a.state.sapwood.controller is not None
        assert b.state.sapwood.controller is None
        api = Api(b, tokens[0])
        stack.push_async_callback(api.admin.aclose)
        yield Replicas(a_name, runtime, api, postgres_url)


def listeners(r: Replicas) -> set[int]:
    """The pids of replica A's LISTEN connections."""
    engine = sqlalchemy.create_engine(make_url(r.url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sqlalchemy.text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE application_name = :name AND query LIKE 'LISTEN%'"
                ),
                {"name": r.a_name},
            )
            return {pid for (pid,) in rows}
    finally:
        engine.dispose()


def terminate(r: Replicas, pid: int) -> None:
    engine = sqlalchemy.create_engine(make_url(r.url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        engine.dispose()


async def admitted(r: Replicas, name: str) -> None:
    async def phase() -> Phase | None:
        return (await r.b.admin.get("job", name)).phase

    await eventually(phase, lambda p: p in ADMITTED, what=f"job {name} admitted by replica A")
    assert name in {u.key.name for u in r.runtime.started}


async def test_a_write_through_one_replica_reaches_the_others_controller(
    replicas: Replicas,
) -> None:
    await replicas.b.admin.apply([job("train")])
    await admitted(replicas, "train")


async def test_the_listener_reconnects_after_its_connection_is_killed(
    replicas: Replicas,
) -> None:
    async def one_listener() -> set[int]:
        return listeners(replicas)

    (first,) = await eventually(one_listener, lambda s: len(s) == 1, what="A listening")
    await replicas.b.admin.apply([job("before")])
    await admitted(replicas, "before")

    terminate(replicas, first)
    # Written while A may not listen: its notification can be lost; the resync after the
    # reconnect finds it.
    await replicas.b.admin.apply([job("while-away")])
    await admitted(replicas, "while-away")

    (second,) = await eventually(
        one_listener, lambda s: len(s) == 1 and first not in s, what="A listening again"
    )
    assert second != first
    await replicas.b.admin.apply([job("after")])  # heard through the new connection
    await admitted(replicas, "after")
