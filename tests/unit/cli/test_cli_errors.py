"""How failures read, and that every command fails the same way (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sapwood.cli.errors import CliError, error_lines
from sapwood.cli.main import app
from sapwood.client.errors import (
    ConnectionFailedError,
    ForbiddenError,
    InvalidError,
    UnauthorizedError,
)
from sapwood.schemas import ErrorDetail


@pytest.fixture
def env(tmp_path: Path, no_server: None) -> dict[str, str | None]:
    # Nothing answers: connecting to the server is refused at once.
    return {
        "SAPWOOD_URL": "http://127.0.0.1:9",
        "SAPWOOD_TOKEN": "sw_test",
        "SAPWOOD_TEAM": None,
        "SAPWOOD_CONFIG": str(tmp_path / "config.yaml"),
    }


def test_server_error_shows_each_field_and_the_hint() -> None:
    exc = InvalidError(
        "job/train is invalid",
        status=422,
        details=[ErrorDetail(path="spec.replicas", message="must be at least 1")],
        hint="see `sapwood describe job train`",
    )
    assert error_lines(exc) == [
        "error: job/train is invalid",
        "  spec.replicas: must be at least 1",
        "hint: see `sapwood describe job train`",
    ]


def test_auth_failures_say_which_they_are() -> None:
    assert error_lines(ForbiddenError("role viewer may not apply in team research"))[0] == (
        "error: forbidden: role viewer may not apply in team research"
    )
    assert error_lines(ForbiddenError("forbidden: admins only"))[0] == (
        "error: forbidden: admins only"
    )
    lines = error_lines(UnauthorizedError("token unknown or revoked"))
    assert lines[0] == "error: unauthorized: token unknown or revoked"
    assert lines[1].startswith("hint: log in with `sapwood login")


def test_connection_failure_points_at_sapwood_server() -> None:
    lines = error_lines(ConnectionFailedError("cannot reach the Sapwood server"))
    assert lines[-1].startswith("hint: start the server with `sapwood server`")


def test_cli_error_keeps_its_hint() -> None:
    assert error_lines(CliError("x: no such file", hint="check the path")) == [
        "error: x: no such file",
        "hint: check the path",
    ]


def test_unreachable_server_is_one_error_line_and_exit_1(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(app, ["get", "jobs"], env=env)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: cannot reach the Sapwood server at http://127.0.0.1:9")
    assert lines[1].startswith("hint: ")
    assert "sapwood server" in lines[1]


def test_unknown_kind_lists_the_allowed_kinds(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(app, ["get", "pods"], env=env)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unknown kind 'pods': expected one of feeds, jobs, services, workspaces\n"
    )


def test_malformed_yaml_fails_before_any_request(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: Job\nmetadata:\n  name: [a\n")
    result = CliRunner().invoke(app, ["apply", "-f", str(path)], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}: invalid YAML at line ")
    assert "cannot reach" not in result.stderr


def test_apply_reads_stdin(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(app, ["apply", "-f", "-"], input="kind: Job\n", env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: <stdin>, document 1: apiVersion: must be")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["users", "set-role", "bob", "research", "boss"], "'boss' is not one of"),
        (["users", "create", "bob", "--team", "research:boss"], "admin, member, viewer"),
        (["users", "create", "bob", "--team", "research"], "is not TEAM:ROLE"),
        (["tokens", "create", "--expires-in", "soon"], "is not a duration"),
        (["get", "jobs", "train", "-l", "app=x"], "not both"),
        (["get", "jobs", "-o", "xml"], "xml"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_allowed(
    env: dict[str, str | None], args: list[str], complaint: str
) -> None:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2
    # Typer draws usage errors in a box: read the words, not the frame.
    assert complaint in " ".join(result.stderr.replace("│", " ").split())


def test_bad_selector_is_refused_before_any_request(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(app, ["get", "jobs", "-l", "app=a b"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: label selector term 'app=a b'")


def test_version(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(app, ["version"], env=env)
    assert result.exit_code == 0
    assert result.stdout.startswith("sapwood ")


def test_a_413_without_a_hint_says_how_to_send_less_or_raise_the_limit() -> None:
    exc = InvalidError("request body is larger than 8388608 bytes", status=413, code="too_large")
    lines = error_lines(exc)
    assert lines[0] == "error: request body is larger than 8388608 bytes"
    assert "`sapwood feed push` splits files by itself" in lines[-1]
    assert "SAPWOOD_MAX_BODY_BYTES" in lines[-1]
