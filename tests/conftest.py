"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), apps, clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from sapwood.server.app import create_app
from sapwood.server.runtimes.local import sandbox
from sapwood.server.runtimes.local.sandbox import Sandbox
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from sapwood.testing import servers
from sapwood.testing.clock import FakeClock
from sapwood.testing.servers import LiveServer
from tests.support import Api

POSTGRES_URL = os.environ.get("SAPWOOD_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("SAPWOOD_TEST_REDIS_URL")
# CI sets this: a configured service that is missing then fails instead of skipping.
REQUIRE_SERVICES = os.environ.get("SAPWOOD_TEST_REQUIRE_SERVICES") == "1"


def redis_url() -> str:
    """SAPWOOD_TEST_REDIS_URL once Redis answers there; skips the test otherwise, or fails
    it when SAPWOOD_TEST_REQUIRE_SERVICES=1 (CI)."""
    import redis

    if not REDIS_URL:
        if REQUIRE_SERVICES:
            pytest.fail("SAPWOOD_TEST_REDIS_URL is required here but not set")
        pytest.skip("Redis not configured: set SAPWOOD_TEST_REDIS_URL to run")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis at SAPWOOD_TEST_REDIS_URL is not reachable: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    return REDIS_URL


def require_sandbox() -> Sandbox:
    """The local runtime's sandbox when this machine can keep teams apart (bubblewrap,
    and root for a uid per team); skips the test otherwise, or fails it when
    SAPWOOD_TEST_REQUIRE_SERVICES=1 (CI installs bubblewrap and runs as root)."""
    found = sandbox.detect(enabled=True, is_root=os.geteuid() == 0, which=sandbox.system_which)
    if found.isolates and found.team_uids:
        return found
    why = "; ".join(found.missing) or "not root"
    if REQUIRE_SERVICES:
        pytest.fail(f"workload isolation is required here but unavailable: {why}")
    pytest.skip(f"workload isolation unavailable on this machine: {why}")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's ~/.sapwood or SAPWOOD_* settings."""
    for name in ("SAPWOOD_URL", "SAPWOOD_TOKEN", "SAPWOOD_TEAM", "SAPWOOD_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAPWOOD_CONFIG", str(tmp_path / "client-config.yaml"))


def _postgres_schema_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards, so tests never collide."""
    if not POSTGRES_URL:
        if REQUIRE_SERVICES:
            pytest.fail("SAPWOOD_TEST_POSTGRES_URL is required here but not set")
        pytest.skip("PostgreSQL not configured: set SAPWOOD_TEST_POSTGRES_URL to run")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = sqlalchemy.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL at SAPWOOD_TEST_POSTGRES_URL is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'sapwood.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # API tests need no controller; tests/integration/controller starts its own.
    return Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=database_url),
        controller=ControllerSettings(enabled=False),
        # No gateway runs here: never talk to whatever listens on its default port.
        gateway=GatewaySettings(enabled=False),
    )


@pytest.fixture
async def api(settings: Settings, clock: FakeClock) -> AsyncIterator[Api]:
    tokens: list[str] = []
    app = create_app(settings, clock=clock, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        yield api
        await api.admin.aclose()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A real server over HTTP on loopback, SQLite under a temporary home."""
    with servers.live_server(tmp_path / "server-home") as server:
        yield server
