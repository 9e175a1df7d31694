"""`sapwood apply` against a live server: what a user sees on each run."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli.conftest import Sapwood, job_yaml, service_yaml


def test_apply_creates_then_is_unchanged_then_configured(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "train.yaml"
    path.write_text(job_yaml("train") + "---\n" + service_yaml("web"))

    first = sapwood("apply", "-f", str(path))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["job/train created", "service/web created"]

    again = sapwood("apply", "-f", str(path))
    assert again.stdout.splitlines() == ["job/train unchanged", "service/web unchanged"]

    path.write_text(job_yaml("train", cpu="2") + "---\n" + service_yaml("web"))
    edited = sapwood("apply", "-f", str(path))
    assert edited.stdout.splitlines() == ["job/train configured", "service/web unchanged"]
    assert "   2   " in sapwood("get", "job", "train", "-o", "wide").stdout


def test_dry_run_says_so_and_changes_nothing(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "train.yaml"
    path.write_text(job_yaml("train"))

    result = sapwood("apply", "-f", str(path), "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout == "job/train created (dry run)\n"
    assert sapwood("get", "jobs").stderr == "No jobs found.\n"


def test_an_error_in_document_3_creates_nothing(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "three.yaml"
    bad = job_yaml("c").replace("memory: 256Mi", "memory: lots")
    path.write_text("---\n".join([job_yaml("a"), job_yaml("b"), bad]))

    result = sapwood("apply", "-f", str(path))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {path}, document 3: spec.resources.memory: ")
    assert sapwood("get", "jobs").stderr == "No jobs found.\n"


def test_malformed_yaml_names_the_line(sapwood: Sapwood, specs: Path) -> None:
    path = specs / "bad.yaml"
    path.write_text("apiVersion: sapwood/v1\nkind: Job\nmetadata:\n  name: x\n   team: y\n")

    result = sapwood("apply", "-f", str(path))

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}: invalid YAML at line 5")


def test_a_directory_and_stdin(sapwood: Sapwood, specs: Path) -> None:
    (specs / "a.yaml").write_text(job_yaml("a"))
    (specs / "b.json").write_text(
        '{"apiVersion": "sapwood/v1", "kind": "Job", "metadata": {"name": "b"},'
        ' "spec": {"command": "true"}}'
    )
    assert sapwood("apply", "-f", str(specs)).stdout == "job/a created\njob/b created\n"
    piped = sapwood("apply", "-f", "-", input=service_yaml("web"))
    assert piped.stdout == "service/web created\n"


def test_team_option_fills_the_team(sapwood: Sapwood, specs: Path) -> None:
    assert sapwood("teams", "create", "research").exit_code == 0
    path = specs / "train.yaml"
    path.write_text(job_yaml("train"))

    assert sapwood("apply", "-f", str(path), "--team", "research").exit_code == 0

    table = sapwood("get", "jobs").stdout.splitlines()
    assert table[1].split()[:2] == ["train", "research"]


def test_yaml_and_json_from_get_apply_again_unchanged(sapwood: Sapwood, specs: Path) -> None:
    (specs / "all.yaml").write_text(job_yaml("a", labels="{app: x}") + "---\n" + service_yaml("s"))
    assert sapwood("apply", "-f", str(specs / "all.yaml")).exit_code == 0

    one = specs / "one.yaml"
    one.write_text(sapwood("get", "job", "a", "-o", "yaml").stdout)
    assert sapwood("apply", "-f", str(one)).stdout == "job/a unchanged\n"

    every = specs / "every.json"
    every.write_text(sapwood("get", "services", "-o", "json").stdout)
    assert sapwood("apply", "-f", str(every)).stdout == "service/s unchanged\n"
