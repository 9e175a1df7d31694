"""A server that cannot start gives back what it opened: no database connection stays."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from sapwood.server.app import create_app
from sapwood.server.secrets import ServerKeyError
from sapwood.server.settings import GatewaySettings, Settings, StoreSettings
from sapwood.testing.fake_runtime import FakeRuntime
from tests.conftest import _postgres_schema_url

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture
def schema_url() -> Iterator[str]:
    yield from _postgres_schema_url()


def _connections(url: str, name: str) -> int:
    admin = sqlalchemy.create_engine(make_url(url).set(query={}))
    try:
        with admin.connect() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
            return int(conn.execute(sqlalchemy.text(query), {"name": name}).scalar_one())
    finally:
        admin.dispose()


async def test_a_startup_that_fails_closes_its_connections(schema_url: str, tmp_path: Path) -> None:
    name = f"sapwood-test-{uuid.uuid4().hex[:8]}"
    url = make_url(schema_url).update_query_dict({"application_name": name})
    settings = Settings(
        home=tmp_path / "home",
        # Configured, but absent: the server must refuse to make a key of its own.
        secret_key_file=tmp_path / "missing" / "secret.key",
        store=StoreSettings(database_url=url.render_as_string(hide_password=False)),
        gateway=GatewaySettings(enabled=False),
    )
    app = create_app(settings, runtime=FakeRuntime())

    with pytest.raises(ServerKeyError):
        async with app.router.lifespan_context(app):
            pass

    assert _connections(schema_url, name) == 0
