"""`sapwood rerun job NAME` against a live server whose controller runs real processes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from sapwood.cli.main import app
from sapwood.testing.servers import LiveServer, live_server
from sapwood.testing.waiting import eventually_sync

pytestmark = pytest.mark.slow
Sapwood = Callable[..., Result]
CODE = "import os; print('this is run', os.environ['SAPWOOD_RUN'], flush=True); raise SystemExit(3)"
JOB = (
    "apiVersion: sapwood/v1\n"
    "kind: Job\n"
    "metadata: {name: flaky}\n"
    "spec:\n"
    f"  command: [{sys.executable}, -c, {json.dumps(CODE)}]\n"
    "  retries: 0\n"
    "  resources: {cpu: 100m, memory: 256Mi}\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "home", controller=True) as running:
        yield running


@pytest.fixture
def sapwood(server: LiveServer, tmp_path: Path) -> Sapwood:
    def run(*args: str) -> Result:
        env = {
            "SAPWOOD_URL": server.url,
            "SAPWOOD_TOKEN": server.admin_token,
            "SAPWOOD_CONFIG": str(tmp_path / "config.yaml"),
        }
        return CliRunner().invoke(app, list(args), env=env)

    return run


def wait_for(sapwood: Sapwood, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    def flaky() -> dict[str, Any]:
        result = sapwood("get", "job", "flaky", "-o", "json")
        assert result.exit_code == 0, result.output
        obj: dict[str, Any] = json.loads(result.stdout)
        return obj

    return eventually_sync(flaky, lambda obj: done(obj["status"]), timeout_s=60, what="flaky")


def test_a_failed_job_is_rerun_and_both_runs_can_be_read(sapwood: Sapwood, tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(JOB)
    assert sapwood("apply", "-f", str(spec)).exit_code == 0
    wait_for(sapwood, lambda s: s.get("phase") == "Failed")

    rerun = sapwood("rerun", "job", "flaky")
    assert rerun.exit_code == 0, rerun.output
    assert rerun.stdout.startswith(
        "job/flaky: run 2 queued after run 1 Failed (BackoffLimitExceeded); "
        "`sapwood logs job flaky --previous` shows the run before"
    )
    wait_for(sapwood, lambda s: s.get("run") == 2 and s.get("phase") == "Failed")

    assert sapwood("logs", "job", "flaky").stdout == "this is run 2\n"
    assert sapwood("logs", "job", "flaky", "--previous").stdout == "this is run 1\n"
    described = sapwood("describe", "job", "flaky").stdout
    assert "Earlier runs:" in described
    assert "1     Failed   BackoffLimitExceeded" in described


def test_only_jobs_are_rerun(sapwood: Sapwood) -> None:
    result = sapwood("rerun", "service", "web")
    assert result.exit_code != 0
    assert "only jobs can be rerun" in result.output
