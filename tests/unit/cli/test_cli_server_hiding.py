"""`sapwood server` hides the folder of the CLI config (the admin token) from workloads."""

from __future__ import annotations

from pathlib import Path

from sapwood.cli.server import hiding
from sapwood.server.settings import Settings


def test_the_cli_configs_folder_is_hidden_from_workloads(tmp_path: Path) -> None:
    settings = Settings.from_env({"SAPWOOD_HOME": str(tmp_path / "srv")})
    hidden = hiding(settings, tmp_path / "dot-sapwood")
    assert hidden.runtime.hidden == (tmp_path / "dot-sapwood",)
    assert hidden.home == settings.home
