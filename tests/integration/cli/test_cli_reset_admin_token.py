"""`sapwood server --reset-admin-token`: a way back in after every admin token is gone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from sqlalchemy import update
from typer.testing import CliRunner

from sapwood.cli.main import app
from sapwood.server.app import create_app
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.server.store.tables import TokenRow
from tests.support import Api


def settings_in(home: Path) -> Settings:
    return Settings(
        home=home,
        controller=ControllerSettings(enabled=False),
        gateway=GatewaySettings(enabled=False),
    )


async def first_start_then_lock_out(home: Path) -> str:
    """Starts the server once (bootstrap), then revokes every token; returns the old one."""
    tokens: list[str] = []
    settings = settings_in(home)
    app = create_app(settings, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        pass
    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session:
        await session.execute(update(TokenRow).values(revoked_at=TokenRow.created_at))
        await session.commit()
    await engine.dispose()
    return tokens[0]


async def is_admin(home: Path, token: str) -> bool:
    app = create_app(settings_in(home), on_bootstrap=lambda _: None)
    async with app.router.lifespan_context(app):
        client = Api(app, token).admin
        try:
            return (await client.whoami()).admin
        finally:
            await client.aclose()


def test_reset_prints_a_working_admin_token_saves_it_and_does_not_serve(tmp_path: Path) -> None:
    home, config = tmp_path / "home", tmp_path / "config.yaml"
    old = asyncio.run(first_start_then_lock_out(home))
    env = {"SAPWOOD_HOME": str(home), "SAPWOOD_CONFIG": str(config), "SAPWOOD_PORT": "8420"}

    result = CliRunner().invoke(app, ["server", "--reset-admin-token"], env=env)

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()  # alone on stdout, for scripts
    assert token.startswith("sw_")
    assert token != old
    assert "the server was not started" in result.stderr
    assert "A new admin token for user admin" in result.stderr
    assert yaml.safe_load(config.read_text()) == {"url": "http://127.0.0.1:8420", "token": token}
    assert asyncio.run(is_admin(home, token))
