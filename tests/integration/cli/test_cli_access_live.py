"""Tokens, roles and login, seen from the command line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from sapwood.cli.main import app
from sapwood.client.config import read_config
from sapwood.testing.servers import LiveServer
from tests.integration.cli.conftest import Sapwood, job_yaml, secret_from


def test_a_bad_token_is_refused_clearly(sapwood: Sapwood) -> None:
    result = sapwood("get", "jobs", token="sw_0000000000000000_not-a-real-secret")

    assert result.exit_code == 1
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: unauthorized")
    assert "hint: " in result.stderr


def test_a_viewer_cannot_apply(sapwood: Sapwood, specs: Path) -> None:
    assert sapwood("teams", "create", "research").exit_code == 0
    assert sapwood("users", "create", "bob", "--team", "research:viewer").exit_code == 0
    bob = secret_from(sapwood("tokens", "create", "--user", "bob").stdout)
    path = specs / "train.yaml"
    path.write_text(job_yaml("train"))

    result = sapwood("apply", "-f", str(path), "--team", "research", token=bob)

    assert result.exit_code == 1
    assert result.stderr.startswith("error: forbidden")
    assert sapwood("get", "jobs", "--team", "research", token=bob).stderr == "No jobs found.\n"


def test_tokens_create_shows_the_secret_once_and_list_never(sapwood: Sapwood) -> None:
    created = sapwood("tokens", "create", "--description", "ci runner", "--expires-in", "30d")

    assert created.exit_code == 0, created.output
    secret = secret_from(created.stdout)
    assert "will not be shown again" in created.stdout
    listed = sapwood("tokens", "list")
    assert "ci runner" in listed.stdout
    assert secret not in listed.output
    assert secret.split("_", 2)[2] not in listed.output

    token_id = created.stdout.split()[0].removeprefix("token/")
    assert sapwood("tokens", "revoke", token_id).stdout == f"token/{token_id} revoked\n"
    assert sapwood("whoami", token=secret).exit_code == 1


def test_users_and_roles(sapwood: Sapwood) -> None:
    assert sapwood("teams", "create", "ml").stdout == "team/ml created\n"
    assert sapwood("users", "create", "ann", "--team", "ml:member").exit_code == 0
    assert sapwood("users", "set-role", "ann", "ml", "admin").stdout == (
        "user/ann is now admin in team ml\n"
    )
    assert "ml (admin)" in sapwood("users", "list").stdout
    assert sapwood("users", "remove", "ann", "ml").stdout == "user/ann removed from team ml\n"
    assert sapwood("users", "delete", "ann").stdout == "user/ann deleted\n"
    assert "ann" not in sapwood("users", "list").stdout
    assert sapwood("teams", "delete", "ml").stdout == "team/ml deleted\n"

    bad_role = sapwood("users", "set-role", "ann", "ml", "owner")
    assert bad_role.exit_code == 2
    # Typer draws usage errors in a box: read the words, not the frame.
    words = " ".join(bad_role.stderr.replace("│", " ").split())
    assert "'owner' is not one of 'admin', 'member', 'viewer'" in words


def test_login_writes_a_config_the_next_command_uses(
    live_server: LiveServer, tmp_path: Path
) -> None:
    config = tmp_path / "login" / "config.yaml"
    env = {"SAPWOOD_CONFIG": str(config), "SAPWOOD_URL": None, "SAPWOOD_TOKEN": None}
    runner = CliRunner()

    login = runner.invoke(
        app, ["login", "--url", live_server.url, "--token", live_server.admin_token], env=env
    )

    assert login.exit_code == 0, login.output
    assert f"Logged in to {live_server.url} as admin" in login.stdout
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert read_config(config).token == live_server.admin_token
    whoami = runner.invoke(app, ["whoami"], env=env)
    assert whoami.exit_code == 0, whoami.output
    assert whoami.stdout.splitlines()[0] == "User:    admin (admin)"


def test_login_with_a_bad_token_writes_nothing(live_server: LiveServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    env = {"SAPWOOD_CONFIG": str(config), "SAPWOOD_URL": None, "SAPWOOD_TOKEN": None}

    result = CliRunner().invoke(
        app, ["login", "--url", live_server.url, "--token", "sw_bad"], env=env
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: unauthorized")
    assert not config.exists()
