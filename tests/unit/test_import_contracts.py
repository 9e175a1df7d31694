"""The import contracts in pyproject.toml stay honest: no contract lets an indirect import
through, and every part of the server has its place in the layers."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "src" / "sapwood" / "server"


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_no_contract_allows_indirect_imports() -> None:
    lenient = [c["name"] for c in _contracts() if c.get("allow_indirect_imports")]
    assert lenient == []


def test_every_server_package_and_module_has_a_layer() -> None:
    (layers,) = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    placed = {
        name.strip() for layer in layers for part in layer.split("|") for name in part.split(":")
    }
    parts = {
        f"sapwood.server.{path.stem}"
        for path in SERVER.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert sorted(parts - placed) == []
