"""`sapwood pause` and `sapwood resume` against a live server (no controller runs)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.conftest import Sapwood, job_yaml

WORKSPACE = (
    "apiVersion: sapwood/v1\n"
    "kind: Workspace\n"
    "metadata: {name: lab}\n"
    "spec: {tool: command, command: [sleep, '3600']}\n"
)


def spec_of(sapwood: Sapwood, kind: str, name: str) -> dict[str, object]:
    result = sapwood("get", kind, name, "-o", "json")
    assert result.exit_code == 0, result.output
    spec: dict[str, object] = json.loads(result.stdout)["spec"]
    return spec


def test_pause_and_resume_a_workspace(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "lab.yaml"
    path.write_text(WORKSPACE)
    assert sapwood("apply", "-f", str(path)).exit_code == 0

    paused = sapwood("pause", "ws", "lab")
    assert paused.exit_code == 0, paused.output
    assert paused.stdout.startswith("workspace/lab paused")
    assert spec_of(sapwood, "ws", "lab")["paused"] is True
    assert sapwood("pause", "workspace", "lab").exit_code == 0  # idempotent

    resumed = sapwood("resume", "workspace", "lab")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.startswith("workspace/lab resumed")
    assert spec_of(sapwood, "ws", "lab")["paused"] is False


def test_a_job_cannot_be_paused(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "job.yaml"
    path.write_text(job_yaml("train"))
    assert sapwood("apply", "-f", str(path)).exit_code == 0
    result = sapwood("pause", "job", "train")
    assert result.exit_code != 0
    assert "job/train cannot be paused: only workspaces and services can" in result.output


def test_pausing_a_missing_workspace_names_it(sapwood: Sapwood) -> None:
    result = sapwood("resume", "ws", "nope")
    assert result.exit_code != 0
    assert "workspace/nope not found" in result.output
