"""The network-defense example trains a classifier that ONNX Runtime serves as trained."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime as ort
import pytest

from sapwood.specs.antinex import FEATURES

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "network-defense"


@pytest.fixture(scope="module")
def train() -> ModuleType:
    spec = importlib.util.spec_from_file_location("network_defense_train", EXAMPLE / "train.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_exported_model_scores_like_the_trained_one(
    train: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SAPWOOD_ANTINEX_DIR", str(tmp_path / "absent"))
    monkeypatch.delenv("SAPWOOD_TOKEN", raising=False)
    out = tmp_path / "antinex.onnx"
    assert train.main(["--out", str(out), "--epochs", "2", "--hidden", "16"]) == 0
    printed = capsys.readouterr().out
    assert "synthetic attack rows" in printed
    assert "held-out accuracy=" in printed
    assert "sapwood models push" in printed

    session = ort.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["features"]) == list(FEATURES)
    attack = train.synthetic_rows(200, attack=True, seed=99)
    normal = train.synthetic_rows(200, attack=False, seed=98)
    [probabilities] = session.run(None, {"features": np.concatenate([attack, normal])})
    predicted = probabilities.argmax(axis=1)
    assert predicted[:200].mean() > 0.9  # rows it never saw, scored as attacks
    assert predicted[200:].mean() < 0.1


def test_metrics_come_from_rows_held_out_of_training(train: ModuleType) -> None:
    x = np.arange(100, dtype=np.float32).reshape(100, 1)
    y = np.arange(100) % 2
    data = train.split(x, y, test_share=0.25, seed=1)
    assert len(data.x_test) == 25
    assert not set(data.x_train[:, 0]) & set(data.x_test[:, 0])
    assert train.metrics(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])) == {
        "accuracy": 0.5,
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
    }
