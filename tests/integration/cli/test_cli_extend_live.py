"""`sapwood extend workspace NAME --by` against a live server (no controller runs)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.conftest import Sapwood

WORKSPACE = (
    "apiVersion: sapwood/v1\n"
    "kind: Workspace\n"
    "metadata: {name: lab}\n"
    "spec: {tool: command, command: [sleep, '3600'], ttl: 8h}\n"
)


def test_extend_a_workspace(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "lab.yaml"
    path.write_text(WORKSPACE)
    assert sapwood("apply", "-f", str(path)).exit_code == 0

    result = sapwood("extend", "ws", "lab", "--by", "1d", "--team", "default")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("workspace/lab extended: it expires at ")
    assert "(in 1d)" in result.stdout  # 8h + 1d from creation, a moment ago

    got = sapwood("get", "ws", "lab", "-o", "json")
    document = json.loads(got.stdout)
    assert document["spec"]["ttl"] == "1d8h"
    assert document["status"]["expiresAt"]


def test_a_bad_extension_is_refused_before_asking_the_server(sapwood: Sapwood) -> None:
    result = sapwood("extend", "workspace", "lab", "--by", "45d")
    assert result.exit_code == 2
    assert "45d is out of range: must be between 1m and 30d" in result.output
    assert "--by" in result.output


def test_only_workspaces_can_be_extended(sapwood: Sapwood) -> None:
    result = sapwood("extend", "job", "train", "--by", "1d")
    assert result.exit_code == 2
    assert "only workspaces have a time to live" in result.output


def test_extending_a_missing_workspace_names_it(sapwood: Sapwood) -> None:
    result = sapwood("extend", "ws", "nope", "--by", "1d", "--team", "default")
    assert result.exit_code != 0
    assert "workspace/nope not found in team default" in result.output
