"""Assembling and running the gateway: routes source, token checks, the server."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from sapwood.server.gateway.auth import TokenAuth
from sapwood.server.gateway.listener import (
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    MAX_CONNECTIONS,
    GatewayServer,
)
from sapwood.server.gateway.process import PARENT_ENV, exit_with_parent
from sapwood.server.gateway.proxy import Gateway
from sapwood.server.gateway.sources import RouteSource, StaticRoutes, StoreRoutes
from sapwood.server.gateway.stats import stats_key
from sapwood.server.gateway.workspaces import StoreWorkspaces, WorkspaceProxy
from sapwood.server.secrets import read_server_key
from sapwood.server.settings import Settings
from sapwood.server.store.engine import create_engine


def build_gateway(
    settings: Settings,
    *,
    routes_file: Path | None = None,
    database_url: str | None = None,
    poll_interval_s: float = 0.5,
    timeout_s: float = 300.0,
) -> Gateway:
    """A gateway over the store of ``settings``, or over ``routes_file`` when given.

    With a routes file, tokens are checked only when ``database_url`` names a store.
    """
    secret = read_server_key(settings.secret_key_file, home=settings.home)
    key = stats_key(secret)
    explicit = database_url or settings.store.database_url
    url = explicit if routes_file is not None else (explicit or settings.database_url)
    engine = create_engine(url) if url else None
    routes: RouteSource
    if routes_file is not None:
        routes = StaticRoutes(routes_file, poll_interval_s=poll_interval_s)
    else:
        assert engine is not None
        routes = StoreRoutes(engine, poll_interval_s=poll_interval_s)
    auth = (
        TokenAuth(
            engine,
            now=lambda: datetime.now(UTC),
            monotonic=time.monotonic,
            max_stale_s=settings.gateway.token_max_stale_s,
        )
        if engine is not None
        else None
    )
    closers = [engine.dispose] if engine is not None else []
    gateway = Gateway(routes, auth=auth, stats_key=key, timeout_s=timeout_s, closers=closers)
    if engine is not None and auth is not None and routes_file is None:
        gateway.workspaces = WorkspaceProxy(
            StoreWorkspaces(engine, poll_interval_s=poll_interval_s),
            auth=auth,
            pool=gateway.pool,
            server_key=secret,
            timeout_s=timeout_s,
        )
    return gateway


def quiet_gc() -> None:
    """Keeps the cyclic garbage collector off the request path.

    Everything loaded so far (SQLAlchemy, pydantic, the tables) lives for the whole process:
    frozen, it is never scanned again. Requests make few reference cycles, so collecting
    every 20,000 new objects rather than every 700 is enough; together this takes about a
    fifth off the Python work per proxied request.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be over 0")
    return value


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sapwood.server.gateway",
        description="Route /s/TEAM/SERVICE/… to the ready replicas of Sapwood services, "
        "and /w/TEAM/WORKSPACE/… to workspaces.",
    )
    parser.add_argument("--host", default=env.get("SAPWOOD_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(env.get("SAPWOOD_GATEWAY_PORT", "8421")),
        help="[env SAPWOOD_GATEWAY_PORT, default 8421]",
    )  # fmt: skip
    parser.add_argument(
        "--routes-file", type=Path, default=None,
        help="routes from this YAML/JSON file (re-read on change) instead of the store",
    )  # fmt: skip
    parser.add_argument(
        "--database-url", default=None,
        help="the store [env SAPWOOD_DATABASE_URL]; with --routes-file, used only for tokens",
    )  # fmt: skip
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="upstream timeout, seconds")
    parser.add_argument(
        "--keep-alive-timeout", type=_positive, default=None, metavar="SECONDS",
        help=f"close a client connection idle this long [env SAPWOOD_GATEWAY_KEEP_ALIVE_S, "
        f"default {KEEP_ALIVE_S:g}]",
    )  # fmt: skip
    parser.add_argument(
        "--header-timeout", type=_positive, default=HEADER_TIMEOUT_S, metavar="SECONDS",
        help=f"408 for a request head not complete in this long [default {HEADER_TIMEOUT_S:g}]",
    )  # fmt: skip
    parser.add_argument(
        "--max-connections", type=_at_least_one, default=MAX_CONNECTIONS,
        help=f"client connections at once; past it new ones get 503 [default {MAX_CONNECTIONS}]",
    )  # fmt: skip
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.keep_alive_timeout is None:
        raw = env.get("SAPWOOD_GATEWAY_KEEP_ALIVE_S") or str(KEEP_ALIVE_S)
        try:
            args.keep_alive_timeout = _positive(raw)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"SAPWOOD_GATEWAY_KEEP_ALIVE_S: {exc}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    env = dict(os.environ)
    args = parse_args(argv, env)
    settings = Settings.from_env(env)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    gateway = build_gateway(
        settings,
        routes_file=args.routes_file,
        database_url=args.database_url,
        poll_interval_s=args.poll_interval,
        timeout_s=args.timeout,
    )
    if parent := env.get(PARENT_ENV):
        exit_with_parent(int(parent))
    server = GatewayServer(
        gateway,
        host=args.host,
        port=args.port,
        keep_alive_s=args.keep_alive_timeout,
        header_timeout_s=args.header_timeout,
        max_connections=args.max_connections,
    )
    quiet_gc()
    try:
        uvloop.run(server.serve())
    except (ValueError, OSError) as exc:  # a bad routes file, a port in use
        logging.getLogger(__name__).error("the gateway cannot start: %s", exc)
        raise SystemExit(1) from None
