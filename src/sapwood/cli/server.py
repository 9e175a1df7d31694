"""`sapwood server`: the one CLI command that starts the server (the CLI's only seam into it)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sapwood.cli.errors import CliError
from sapwood.client.config import ClientConfig, config_path, read_config, write_config

if TYPE_CHECKING:
    from sapwood.server.settings import Settings


def save_token(path: Path, url: str, token: str) -> str:
    """Saves an admin token in the local client config (unless that points at another
    server); returns where it went, for the message."""
    existing = read_config(path)
    if existing.token is None or existing.url == url:
        write_config(path, ClientConfig(url=url, token=token))
        return f"saved to {path} for the CLI on this machine"
    return f"not saved: {path} already points at {existing.url}"


def _reset_admin_token(settings: Settings, client_config: Path, url: str) -> None:
    """Prints a new admin token (stdout, alone, for scripts; the rest on stderr)."""
    import asyncio
    from datetime import UTC, datetime

    from sapwood.server.recovery import reset_admin_token_in

    reset = asyncio.run(reset_admin_token_in(settings, now=datetime.now(UTC)))
    where = save_token(client_config, url, reset.token)
    made = f" (user {reset.user} was made an admin: none was left)" if reset.made_admin else ""
    typer.echo(
        f"A new admin token for user {reset.user}{made}, shown this once ({where}); "
        "the server was not started:",
        err=True,
    )
    typer.echo(reset.token)


def hiding(settings: Settings, folder: Path) -> Settings:
    """`settings` with `folder` among what workloads never see: the CLI config the admin
    token is saved in may lie outside the server's home (SAPWOOD_HOME elsewhere)."""
    runtime = settings.runtime.model_copy(update={"hidden": (*settings.runtime.hidden, folder)})
    return settings.model_copy(update={"runtime": runtime})


def serve(
    host: str = typer.Option(
        "127.0.0.1", envvar="SAPWOOD_HOST", show_envvar=True, help="address to bind"
    ),
    port: int = typer.Option(
        8420, min=0, max=65535, envvar="SAPWOOD_PORT", show_envvar=True, help="port of the API"
    ),
    gateway_port: int = typer.Option(
        8421,
        "--gateway-port",
        min=0,
        max=65535,
        envvar="SAPWOOD_GATEWAY_PORT",
        show_envvar=True,
        help="port of the gateway (services' traffic)",
    ),
    home: Path = typer.Option(
        None,
        envvar="SAPWOOD_HOME",
        show_envvar=True,
        show_default="~/.sapwood",
        help="data directory",
    ),
    database_url: str = typer.Option(
        None,
        "--database-url",
        envvar="SAPWOOD_DATABASE_URL",
        show_envvar=True,
        show_default="SQLite in the data directory",
        help="postgresql://user@host/db",
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
    reset_admin_token: bool = typer.Option(
        False,
        "--reset-admin-token",
        help="make a new admin token in this server's store, print it once, save it for "
        "the CLI, and exit without starting the server (after a lockout)",
    ),
    no_gateway: bool = typer.Option(False, "--no-gateway", help="do not start the gateway"),
    single_tenant: bool = typer.Option(
        False,
        "--single-tenant",
        envvar="SAPWOOD_SINGLE_TENANT",
        show_envvar=True,
        help="run several teams' workloads at once even where they cannot be kept apart "
        "(no bubblewrap)",
    ),
) -> None:
    """Start the Sapwood server (API, controllers and gateway) in the foreground."""
    # Imported here so every other command starts without loading the server.
    import uvicorn

    from sapwood.server.app import create_app
    from sapwood.server.gateway.process import GatewayProcess
    from sapwood.server.secrets import ServerKeyError, read_server_key
    from sapwood.server.settings import Settings

    env = dict(os.environ)
    for key, value in {
        "SAPWOOD_HOST": host,
        "SAPWOOD_PORT": port,
        "SAPWOOD_GATEWAY_PORT": gateway_port,
        "SAPWOOD_HOME": home,
        "SAPWOOD_DATABASE_URL": database_url,
        "SAPWOOD_SINGLE_TENANT": "1" if single_tenant else None,
    }.items():
        if value is not None:
            env[key] = str(value)
    settings = Settings.from_env(env)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # probes would log every request
    url = f"http://{settings.api.host}:{settings.api.port}"
    client_config = config_path(env)
    settings = hiding(settings, client_config.parent)
    if settings.secret_key_file is not None:
        # Every replica, leader or not, refuses to start without the configured key.
        try:
            read_server_key(settings.secret_key_file, home=settings.home)
        except ServerKeyError as exc:
            raise CliError(str(exc)) from None
    # Whatever the server writes (database, keys, unit files, logs) is its own alone.
    private = 0o077
    if reset_admin_token:
        previous = os.umask(private)  # restored: this may run inside another program
        try:
            _reset_admin_token(settings, client_config, url)
        finally:
            os.umask(previous)
        return
    os.umask(private)

    def on_bootstrap(token: str) -> None:
        # Shown once here; the local client config (0600) keeps it for the CLI and SDK.
        where = save_token(client_config, url, token)
        typer.echo(
            f"\nCreated the admin user. Its token is shown this once ({where}):\n\n    {token}\n\n"
            f"Elsewhere: sapwood login --url {url} --token <token>\n",
            err=True,
        )

    app = create_app(settings, on_bootstrap=on_bootstrap)
    # The gateway runs in its own process so API and controller work never slow requests.
    gateway = None
    if settings.gateway.enabled and not no_gateway:
        gateway = GatewayProcess.from_settings(settings, env, log_level=log_level.lower())
        gateway.start()
    try:
        uvicorn.run(
            app,
            host=settings.api.host,
            port=settings.api.port,
            log_level=log_level.lower(),
            access_log=False,
        )
    finally:
        if gateway is not None:
            gateway.stop()
