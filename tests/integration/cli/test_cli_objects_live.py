"""`get`, `describe`, `delete` and `events` against a live server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.cli.conftest import Sapwood, job_yaml, service_yaml


@pytest.fixture
def applied(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "objects.yaml"
    path.write_text(
        job_yaml("train", labels="{app: antinex}")
        + "---\n"
        + job_yaml("eval")
        + "---\n"
        + service_yaml("web")
    )
    result = sapwood("apply", "-f", str(path))
    assert result.exit_code == 0, result.output


@pytest.mark.usefixtures("applied")
def test_get_table(sapwood: Sapwood) -> None:
    result = sapwood("get", "jobs")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TEAM", "PHASE", "RESTARTS", "AGE"]
    assert sorted(line.split()[0] for line in lines[1:]) == ["eval", "train"]
    assert all(len(line) <= 80 for line in lines)

    services = sapwood("get", "svc").stdout.splitlines()
    assert services[0].split() == ["NAME", "TEAM", "PHASE", "READY", "RESTARTS", "AGE"]
    assert services[1].split()[3] == "0/1..3"


@pytest.mark.usefixtures("applied")
def test_get_wide_and_selector(sapwood: Sapwood) -> None:
    result = sapwood("get", "jobs", "-o", "wide", "-l", "app=antinex")

    lines = result.stdout.splitlines()
    assert lines[0].split()[-5:] == ["CPU", "MEMORY", "GPU", "PRIORITY", "LABELS"]
    assert len(lines) == 2
    assert lines[1].split()[0] == "train"
    assert lines[1].split()[-5:] == ["500m", "256Mi", "0", "normal", "app=antinex"]


@pytest.mark.usefixtures("applied")
def test_get_yaml_and_json(sapwood: Sapwood) -> None:
    one = yaml.safe_load(sapwood("get", "job", "train", "-o", "yaml").stdout)
    assert one["kind"] == "Job"
    assert one["metadata"]["name"] == "train"
    assert one["spec"]["resources"]["memory"] == "256Mi"

    listed = json.loads(sapwood("get", "jobs", "-o", "json").stdout)
    assert sorted(item["metadata"]["name"] for item in listed["items"]) == ["eval", "train"]


@pytest.mark.usefixtures("applied")
def test_describe(sapwood: Sapwood) -> None:
    result = sapwood("describe", "svc", "web")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Name:         web"
    assert "Kind:         Service" in lines
    assert "  Command:    python -m http.server" in lines
    assert "  Replicas:   1..3" in lines
    assert any(line.startswith("  Readiness:  http :$PORT/") for line in lines)
    assert "Events:" in lines
    header = lines[lines.index("Events:") + 1]
    assert header.split() == ["AGE", "TYPE", "REASON", "MESSAGE"]


@pytest.mark.usefixtures("applied")
def test_events(sapwood: Sapwood) -> None:
    everything = sapwood("events").stdout
    assert "job/train" in everything
    assert "service/web" in everything

    one = sapwood("events", "job", "train", "--limit", "5").stdout.splitlines()
    assert one[0].split() == ["AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert all(line.split()[3] == "job/train" for line in one[1:])


@pytest.mark.usefixtures("applied")
def test_delete(sapwood: Sapwood) -> None:
    result = sapwood("delete", "job", "train")

    assert result.exit_code == 0, result.output
    assert result.stdout in ("job/train deleted\n", "job/train marked for deletion\n")
    missing = sapwood("delete", "job", "nope")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: ")
    assert "nope" in missing.stderr


def test_empty_list_and_unknown_kind(sapwood: Sapwood) -> None:
    assert sapwood("get", "workspaces").stderr == "No workspaces found.\n"
    unknown = sapwood("get", "pods")
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "error: unknown kind 'pods': expected one of feeds, jobs, services, workspaces\n"
    )


def test_get_missing_object(sapwood: Sapwood) -> None:
    result = sapwood("get", "job", "nope")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: job/nope not found"
