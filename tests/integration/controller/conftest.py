"""A server with its controller and the real local runtime, in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sapwood.server.app import create_app
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings, StoreSettings
from tests.support import Api


@pytest.fixture
async def live_api(tmp_path: Path) -> AsyncIterator[Api]:
    """SQLite (the store is tested on both backends elsewhere); processes are real."""
    settings = Settings(
        home=tmp_path / "home",
        store=StoreSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sapwood.db'}"),
        controller=ControllerSettings(resync_s=1.0),
        # No gateway runs here: never talk to whatever listens on its default port.
        gateway=GatewaySettings(enabled=False),
    )
    tokens: list[str] = []
    app = create_app(settings, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        try:
            yield api
        finally:
            runtime = app.state.sapwood.controller.runtime
            for unit in await runtime.observe():
                await runtime.stop(unit.key, grace_period_s=1)
            await api.admin.aclose()
