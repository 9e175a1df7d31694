"""`sapwood server --help` names each option's environment variable and default, and the
README's table of server variables matches what the server reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sapwood.cli.main import build_app

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "sapwood"
# Files whose quoted SAPWOOD_* names are variables the server process reads.
READERS = (
    SRC / "server" / "settings.py",
    SRC / "server" / "gateway" / "server.py",
    SRC / "cli" / "server.py",
)
QUOTED = re.compile(r"\"(SAPWOOD_[A-Z0-9_]+)\"")


def _help(env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(
        build_app(), ["server", "--help"], env={"COLUMNS": "240", **(env or {})}
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("option", "variable", "default"),
    [
        ("--host", "SAPWOOD_HOST", "127.0.0.1"),
        ("--port", "SAPWOOD_PORT", "8420"),
        ("--gateway-port", "SAPWOOD_GATEWAY_PORT", "8421"),
        ("--home", "SAPWOOD_HOME", "~/.sapwood"),
        ("--database-url", "SAPWOOD_DATABASE_URL", "SQLite"),
    ],
)
def test_help_shows_each_options_variable_and_default(
    option: str, variable: str, default: str
) -> None:
    line = next(line for line in _help().splitlines() if f" {option} " in line)
    assert f"env var: {variable}" in line
    assert "default: " in line
    assert default in line.split("default: ", 1)[1]


@pytest.mark.parametrize(
    ("variable", "option"),
    [("SAPWOOD_PORT", "--port"), ("SAPWOOD_GATEWAY_PORT", "--gateway-port")],
)
def test_a_bad_port_in_the_environment_is_refused_by_name(variable: str, option: str) -> None:
    result = CliRunner().invoke(build_app(), ["server"], env={variable: "eighty", "COLUMNS": "240"})
    assert result.exit_code == 2
    assert variable in result.output
    assert option in result.output


def test_a_gateway_port_out_of_range_is_refused() -> None:
    result = CliRunner().invoke(
        build_app(), ["server", "--gateway-port", "70000"], env={"COLUMNS": "240"}
    )
    assert result.exit_code == 2
    assert "--gateway-port" in result.output
    assert "65535" in result.output


def _readme_variables() -> dict[str, str]:
    """The README's table of server variables: name -> default cell."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Ports and environment", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(SAPWOOD_[A-Z0-9_]+)` \| ([^|]+) \|", section, re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def test_the_readme_lists_every_variable_the_server_reads() -> None:
    read = {name for path in READERS for name in QUOTED.findall(path.read_text())}
    read.discard("SAPWOOD_GATEWAY_PARENT_PID")  # set by the server for its own gateway
    listed = _readme_variables()
    assert read - set(listed) == set(), "read by the server but missing from README.md"
    assert all(listed.values()), "every variable in README.md states its default"


def test_the_readme_lists_no_variable_the_server_ignores() -> None:
    sources = "".join(
        path.read_text()
        for path in [*(SRC / "server").rglob("*.py"), *READERS, SRC / "client" / "config.py"]
    )
    ignored = {name for name in _readme_variables() if f'"{name}"' not in sources}
    assert ignored == set()


def test_the_readme_lists_the_ports() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Ports and environment", 1)[1].split("\n## ", 1)[0]
    assert "**8420**" in section
    assert "**8421**" in section
