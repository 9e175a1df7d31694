"""The gateway as a program: ``python -m sapwood.server.gateway`` and the server's child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from sapwood.server.gateway.process import GatewayProcess
from sapwood.testing.servers import free_port
from sapwood.testing.waiting import eventually_sync
from tests.integration.gateway.support import upstreams, write_routes


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sapwood/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_the_program_serves_a_routes_file(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env["SAPWOOD_HOME"] = str(tmp_path / "home")
    with upstreams("a") as (replica,):
        write_routes(
            routes,
            [{"team": "t", "service": "s", "endpoints": [replica.endpoint],
              "gateway": {"auth": "public"}}],
        )  # fmt: skip
        command = [sys.executable, "-m", "sapwood.server.gateway", "--routes-file", str(routes),
                   "--port", str(port), "--log-level", "warning"]  # fmt: skip
        process = subprocess.Popen(command, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            eventually_sync(lambda: healthy(url) or process.poll() is not None, timeout_s=60)
            response = httpx.get(f"{url}/s/t/s/hello", timeout=10)
            assert response.status_code == 200
            assert response.json()["url"] == "/hello"
        finally:
            process.terminate()
            assert process.wait(30) == 0  # SIGTERM is a graceful stop


def test_a_bad_routes_file_stops_the_program_with_the_field_named(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("services:\n  - team: t\n    service: s\n    canaryWeight: 150\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env["SAPWOOD_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "sapwood.server.gateway", "--routes-file", str(routes),
               "--port", str(free_port())]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "services.0.canaryWeight" in done.stderr


def test_the_server_restarts_a_gateway_that_dies(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env["SAPWOOD_HOME"] = str(tmp_path / "home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gateway = GatewayProcess(env, port=port, log_level="warning")
    gateway.start()
    try:
        eventually_sync(lambda: healthy(url), timeout_s=60)
        first = gateway.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        eventually_sync(lambda: gateway.restarts == 1 and healthy(url), timeout_s=60)
        assert gateway.pid != first
    finally:
        gateway.stop()
    assert not healthy(url)
