"""The server key from SAPWOOD_SECRET_KEY_FILE: replicas and restarts that read the same
file hand out the same workload tokens (a missing file: tests/unit/cli/test_cli_server_key.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from sapwood.client import SapwoodError
from sapwood.server.app import create_app
from sapwood.server.settings import GatewaySettings, Settings, StoreSettings
from sapwood.testing.fake_runtime import FakeRuntime
from sapwood.testing.waiting import eventually
from tests.support import Api, job

pytestmark = pytest.mark.anyio


class Cluster(FakeRuntime):
    """Units outlive the server that started them, as pods outlive a server pod."""

    async def close(self) -> None:
        pass


def settings_for(home: Path, database: Path, key_file: Path | None) -> Settings:
    return Settings(
        home=home,
        secret_key_file=key_file,
        store=StoreSettings(database_url=f"sqlite+aiosqlite:///{database}"),
        gateway=GatewaySettings(enabled=False),
    )


@asynccontextmanager
async def server(settings: Settings, runtime: FakeRuntime) -> AsyncIterator[Api]:
    tokens: list[str] = []
    app = create_app(settings, runtime=runtime, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0] if tokens else "")
        try:
            yield api
        finally:
            await api.admin.aclose()


async def rounds_done(api: Api) -> int:
    controller = api.transport.app.state.sapwood.controller  # type: ignore[attr-defined]
    return int(controller.passes_timed)


@pytest.mark.parametrize("shared_key", [True, False], ids=["same-key-file", "own-home-keys"])
async def test_a_restarted_server_keeps_the_running_units_token(
    tmp_path: Path, shared_key: bool
) -> None:
    key_file = tmp_path / "secret" / "secret.key"
    key_file.parent.mkdir()
    key_file.write_text("ab" * 32)
    cluster = Cluster()
    database = tmp_path / "sapwood.db"
    first = settings_for(tmp_path / "pod-a", database, key_file if shared_key else None)
    async with server(first, cluster) as api:
        await api.admin.apply([job("train", command=["sleep", "600"])])
        started = await eventually(lambda: _started(cluster), what="the unit started")
        token = started.env["SAPWOOD_TOKEN"]
        assert (await api.client(token).whoami()).user == "sapwood-workloads"

    # Another pod (its home empty, as an emptyDir after a restart) adopts the running unit.
    second = settings_for(tmp_path / "pod-b", database, key_file if shared_key else None)
    async with server(second, cluster) as api:
        await eventually(lambda: rounds_done(api), lambda n: n >= 2, what="two rounds")
        assert len(cluster.started) == 1  # adopted, not restarted
        workload = api.client(token)
        if shared_key:
            assert (await workload.whoami()).user == "sapwood-workloads"
        else:  # the fresh key replaced the token the unit holds: the bug the setting fixes
            with pytest.raises(SapwoodError):
                await workload.whoami()
        await workload.aclose()


async def _started(cluster: FakeRuntime) -> object:
    return cluster.started[0] if cluster.started else None
