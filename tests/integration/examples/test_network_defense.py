"""The network-defense example trains a classifier that ONNX Runtime serves as trained."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime as ort
import pytest

import sapwood.run
from sapwood.client import Client
from sapwood.specs.antinex import FEATURES
from sapwood.testing.servers import LiveServer
from tests.support import job

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
    assert "epoch 1/2: loss=" in printed
    assert "epoch 2/2: loss=" in printed
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


def test_in_a_job_each_epochs_loss_and_accuracy_are_logged(
    train: ModuleType,
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sapwood.run, "_current", None)  # a run of this test's own
    monkeypatch.setenv("SAPWOOD_ANTINEX_DIR", str(tmp_path / "absent"))
    with Client(live_server.url, token=live_server.admin_token) as admin:
        admin.apply([job("train-antinex")])
        for name, value in {
            "SAPWOOD_URL": live_server.url,
            "SAPWOOD_TOKEN": live_server.admin_token,
            "SAPWOOD_KIND": "Job",
            "SAPWOOD_TEAM": "default",
            "SAPWOOD_NAME": "train-antinex",
        }.items():
            monkeypatch.setenv(name, value)
        out = tmp_path / "antinex.onnx"
        assert train.main(["--out", str(out), "--epochs", "3", "--hidden", "16"]) == 0
        sapwood.run.current().close()
        series = {s.name: s for s in admin.list_metrics("job", "train-antinex")}
        model = admin.get_model("antinex")

    assert [p.step for p in series["loss"].points] == [1, 2, 3]
    assert [p.step for p in series["accuracy"].points] == [1, 2, 3]
    assert series["loss"].points[-1].value < series["loss"].points[0].value
    assert 0.5 < series["accuracy"].points[-1].value <= 1.0
    assert series["held_out_accuracy"].points[0].step == 3
    assert model.aliases == {"production": 1}


def test_rows_py_writes_only_the_file_it_is_given(tmp_path: Path) -> None:
    example = tmp_path / "example"
    example.mkdir()
    for name in ("rows.py", "train.py"):
        (example / name).write_bytes((EXAMPLE / name).read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SAPWOOD_ANTINEX_DIR"] = str(tmp_path / "absent")
    out = tmp_path / "rows.csv"
    done = subprocess.run(
        [sys.executable, str(example / "rows.py"), str(out), "--count", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in example.iterdir()) == ["rows.py", "train.py"]
    assert len(out.read_text().splitlines()) == 11
