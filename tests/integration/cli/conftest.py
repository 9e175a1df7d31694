"""Run `sapwood ...` in-process against a live server, as a user at a terminal would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sapwood.cli.main import app
from sapwood.testing.servers import LiveServer

Sapwood = Callable[..., Result]


@pytest.fixture
def sapwood(live_server: LiveServer, tmp_path: Path) -> Sapwood:
    """``sapwood("get", "jobs")`` as the admin; ``token=`` runs it as someone else."""

    def run(*args: str, token: str | None = None, input: str | None = None) -> Result:
        env = {
            "SAPWOOD_URL": live_server.url,
            "SAPWOOD_TOKEN": token or live_server.admin_token,
            "SAPWOOD_CONFIG": str(tmp_path / "config.yaml"),
        }
        return CliRunner().invoke(app, list(args), env=env, input=input)

    return run


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    """A folder for the spec files a test writes."""
    folder = tmp_path / "specs"
    folder.mkdir()
    return folder


def job_yaml(name: str, *, cpu: str = "500m", labels: str = "{}") -> str:
    return (
        "apiVersion: sapwood/v1\n"
        "kind: Job\n"
        f"metadata: {{name: {name}, labels: {labels}}}\n"
        "spec:\n"
        "  command: [python, -c, 'print(1)']\n"
        f"  resources: {{cpu: {cpu}, memory: 256Mi}}\n"
    )


def service_yaml(name: str) -> str:
    return (
        "apiVersion: sapwood/v1\n"
        "kind: Service\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n"
        "  command: [python, -m, http.server]\n"
        "  replicas: {min: 1, max: 3}\n"
        "  readiness: {http: {path: /}}\n"
    )


def secret_from(output: str) -> str:
    """The token secret that `tokens create` prints on its own indented line."""
    [secret] = [line.strip() for line in output.splitlines() if line.startswith("    sw_")]
    return secret
