"""`sapwood server` refuses to start when its configured key file is missing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sapwood.cli.main import build_app


def test_a_missing_configured_key_file_stops_the_server_before_it_starts(tmp_path: Path) -> None:
    key_file = tmp_path / "not-mounted" / "secret.key"
    env = {"SAPWOOD_HOME": str(tmp_path / "home"), "SAPWOOD_SECRET_KEY_FILE": str(key_file)}
    result = CliRunner().invoke(build_app(), ["server"], env=env)
    assert result.exit_code == 1
    assert f"SAPWOOD_SECRET_KEY_FILE={key_file}: no such file" in result.output
    assert not key_file.exists()
    assert not (tmp_path / "home").exists()  # nothing made: no database, no home key
