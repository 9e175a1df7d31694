"""A mistyped kind or name gets the closest match; `render` finds your team as `apply` does."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.cli.conftest import Sapwood, job_yaml, secret_from


def test_get_help_lists_every_kind(sapwood: Sapwood) -> None:
    result = sapwood("get", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for plural in ("workspaces", "jobs", "services", "feeds"):
        assert plural in text


def test_a_mistyped_kind_gets_the_closest_one(sapwood: Sapwood) -> None:
    result = sapwood("get", "jbos")
    assert result.exit_code == 1
    assert "unknown kind 'jbos'" in result.stderr
    assert "did you mean 'jobs'?" in result.stderr


def test_a_mistyped_name_gets_the_closest_one_the_caller_may_see(
    sapwood: Sapwood, specs: Path
) -> None:
    for team in ("research", "ml"):
        assert sapwood("teams", "create", team).exit_code == 0
    (specs / "train.yaml").write_text(job_yaml("hello-train"))
    assert sapwood("apply", "-f", str(specs / "train.yaml"), "--team", "research").exit_code == 0

    result = sapwood("describe", "job", "hello-trian", "--team", "research")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: job/hello-trian not found in team research; did you mean 'hello-train'?"
    )
    assert "did you mean 'hello-train'?" in sapwood("get", "job", "hello-trian").stderr

    # Someone outside research is not told the name exists.
    assert sapwood("users", "create", "eve", "--team", "ml:member").exit_code == 0
    eve = secret_from(sapwood("tokens", "create", "--user", "eve").stdout)
    hidden = sapwood("get", "job", "hello-trian", token=eve)
    assert hidden.exit_code == 1
    assert "hello-train'" not in hidden.stderr


def test_render_uses_your_only_team_without_team(sapwood: Sapwood, specs: Path) -> None:
    assert sapwood("teams", "create", "vision").exit_code == 0
    assert sapwood("users", "create", "ada", "--team", "vision:member").exit_code == 0
    ada = secret_from(sapwood("tokens", "create", "--user", "ada").stdout)
    (specs / "train.yaml").write_text(job_yaml("train"))

    result = sapwood("render", "-f", str(specs / "train.yaml"), token=ada)
    assert result.exit_code == 0, result.output
    manifests = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {m["metadata"]["namespace"] for m in manifests} == {"sapwood-vision"}

    # The admin belongs to no team: objects go to default, as apply puts them.
    result = sapwood("render", "-f", str(specs / "train.yaml"))
    assert result.exit_code == 0, result.output
    assert "namespace: sapwood-default" in result.stdout
