"""The server bench/control_plane.py measures: the real app on a runtime that starts nothing.

    .venv/bin/python bench/_control_plane_server.py --home DIR --port N \
        [--database-url URL] [--cpus 8] [--gpus 0] [--no-controller]

Serves ``create_app`` with uvicorn on 127.0.0.1 in this process alone (no gateway), so
its CPU time is the control plane's and nothing else's. The runtime is the shipped
``FakeRuntime`` with every unit ending (exit code 0) the moment it starts: a Job is done
as soon as the control plane has started it, so what is measured is the control plane.
The admin token is written to ``HOME/admin-token`` on first start. ``--no-controller``
serves the API alone (bench/object_lists.py: what a request costs, nothing beside it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from sapwood.server.app import create_app
from sapwood.server.runtimes.base import Capacity, UnitSpec, UnitState
from sapwood.server.settings import GatewaySettings, Settings
from sapwood.testing.fake_runtime import FakeRuntime

GIB = 1024**3
TOKEN_FILE = "admin-token"


class InstantRuntime(FakeRuntime):
    """A FakeRuntime whose units exit successfully as soon as they start."""

    async def start(self, unit: UnitSpec) -> UnitState:
        state = await super().start(unit)
        self.exit(unit.key)
        return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", default=None, help="default: SQLite in the home")
    parser.add_argument("--cpus", type=int, default=8, help="the runtime's capacity in CPUs")
    parser.add_argument("--gpus", type=int, default=0, help="the runtime's GPUs")
    parser.add_argument("--no-controller", action="store_true", help="the API alone")
    args = parser.parse_args()

    env = {"SAPWOOD_HOME": str(args.home), "SAPWOOD_PORT": str(args.port)}
    if args.database_url:
        env["SAPWOOD_DATABASE_URL"] = args.database_url
    settings = Settings.from_env(env)
    update: dict[str, object] = {"gateway": GatewaySettings(enabled=False)}
    if args.no_controller:
        update["controller"] = settings.controller.model_copy(update={"enabled": False})
    settings = settings.model_copy(update=update)
    capacity = Capacity(
        cpu_millis=args.cpus * 1000, memory_bytes=args.cpus * 4 * GIB, gpus=args.gpus
    )
    token_path = args.home / TOKEN_FILE

    def on_bootstrap(token: str) -> None:
        partial = token_path.with_suffix(".tmp")
        partial.write_text(token)
        os.replace(partial, token_path)  # the bench polls for it: never half written

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app(settings, runtime=InstantRuntime(capacity), on_bootstrap=on_bootstrap)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
