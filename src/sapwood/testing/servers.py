"""A real Sapwood server on a free loopback port, in a thread: for tests and examples."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import uvicorn

from sapwood.server.app import create_app
from sapwood.server.settings import (
    ApiSettings,
    ControllerSettings,
    GatewaySettings,
    Settings,
    StoreSettings,
)


@dataclass(frozen=True)
class LiveServer:
    url: str
    admin_token: str
    home: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(
    home: Path, *, database_url: str | None = None, controller: bool = False
) -> Iterator[LiveServer]:
    """Runs create_app() under uvicorn until the block ends; yields its URL and admin token.

    Without ``controller`` nothing runs what is applied, so no process outlives the test.
    """
    port = free_port()
    settings = Settings(
        home=home,
        api=ApiSettings(port=port),
        store=StoreSettings(database_url=database_url),
        controller=ControllerSettings(enabled=controller),
        # No gateway process runs beside it: never poll whatever listens on its port.
        gateway=GatewaySettings(enabled=False),
    )
    tokens: list[str] = []
    app = create_app(settings, on_bootstrap=tokens.append)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sapwood-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, alive=thread.is_alive)
    try:
        yield LiveServer(url=url, admin_token=tokens[0], home=home)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_ready(url: str, *, alive: Callable[[], bool], timeout_s: float = 30) -> None:
    """Returns once ``url``/readyz answers 200; RuntimeError if ``alive`` turns false first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not alive():
            raise RuntimeError(f"the server on {url} did not become ready")
        time.sleep(0.05)


def start_server_process(
    home: Path,
    port: int,
    *,
    output: IO[str] | None = None,
    gateway_port: int | None = None,
) -> subprocess.Popen[str]:
    """``sapwood server`` in a child process on ``home``, ready when this returns.

    Its gateway listens on ``gateway_port`` (a free port when not given). Its output goes
    to ``output`` (a file), or is discarded.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env["SAPWOOD_HOME"] = str(home)
    env["SAPWOOD_GATEWAY_PORT"] = str(gateway_port or free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "sapwood", "server", "--port", str(port)],
        env=env,
        stdout=output if output is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", alive=lambda: process.poll() is None)
    except RuntimeError:
        process.kill()
        raise
    return process
