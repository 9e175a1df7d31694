"""The gateway `sapwood server` starts binds SAPWOOD_GATEWAY_HOST (a pod needs 0.0.0.0)."""

from __future__ import annotations

from sapwood.server.gateway.process import GatewayProcess
from sapwood.server.settings import Settings


def bound_to(env: dict[str, str]) -> tuple[str, str]:
    command = GatewayProcess.from_settings(Settings.from_env(env), env).command
    return command[command.index("--host") + 1], command[command.index("--port") + 1]


def test_the_gateway_binds_loopback_by_default() -> None:
    assert bound_to({}) == ("127.0.0.1", "8421")


def test_the_gateway_binds_the_configured_host_and_port() -> None:
    env = {"SAPWOOD_GATEWAY_HOST": "0.0.0.0", "SAPWOOD_GATEWAY_PORT": "9000"}
    assert bound_to(env) == ("0.0.0.0", "9000")
    # The controller still reads the gateway's stats over loopback.
    assert Settings.from_env(env).gateway_url == "http://127.0.0.1:9000"
