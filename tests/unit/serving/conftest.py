from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.serving.model import LoadedModel, load_model
from sapwood.testing.onnx_models import mlp_model

FEATURES = 67


@pytest.fixture
def mlp_path(tmp_path: Path) -> Path:
    path = tmp_path / "antinex.onnx"
    path.write_bytes(mlp_model(features=FEATURES, hidden=32, classes=2, seed=0))
    return path


@pytest.fixture
def mlp(mlp_path: Path) -> LoadedModel:
    return load_model(mlp_path, name="antinex", version="3", threads=1)
