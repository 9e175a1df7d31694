"""`sapwood models` against a live server: push, list, describe, alias, pull, delete."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli.conftest import Sapwood
from tests.support_onnx import mlp_model


def test_push_list_describe_alias_pull_delete(sapwood: Sapwood, tmp_path: Path) -> None:
    first = tmp_path / "v1.onnx"
    first.write_bytes(mlp_model(features=5, seed=1))
    second = tmp_path / "v2.onnx"
    second.write_bytes(mlp_model(features=5, seed=2))

    pushed = sapwood(
        "models", "push", str(first), "--name", "antinex", "--alias", "production",
        "--metric", "accuracy=0.97", "--metric", "f1=0.9", "--framework", "sklearn",
        "--team", "default",
    )  # fmt: skip
    assert pushed.exit_code == 0, pushed.output
    assert "model/antinex pushed version 1 (production)" in pushed.output
    again = sapwood("models", "push", str(first), "--name", "antinex", "--team", "default")
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output
    assert "version 1" in again.output
    assert sapwood("models", "push", str(second), "-n", "antinex", "-t", "default").exit_code == 0

    listed = sapwood("models", "list", "--team", "default")
    assert listed.exit_code == 0, listed.output
    [row] = [line.split() for line in listed.output.splitlines() if line.startswith("antinex")]
    assert row[:4] == ["antinex", "2", "2", "production=1"]

    described = sapwood("models", "describe", "antinex", "--team", "default")
    assert described.exit_code == 0, described.output
    assert "production -> 1" in described.output
    assert "accuracy=0.97,f1=0.9" in described.output
    one = sapwood("models", "describe", "antinex@production", "--team", "default")
    assert one.exit_code == 0, one.output
    assert "features: float32 [N, 5]" in one.output
    assert "probabilities: float32 [N, 2]" in one.output
    assert "Features:  5 (f0, f1, f2, f3, f4)" in one.output
    as_json = sapwood("models", "describe", "antinex@2", "-o", "json", "--team", "default")
    assert '"version": 2' in as_json.output

    moved = sapwood("models", "alias", "antinex", "production", "2", "--team", "default")
    assert moved.exit_code == 0, moved.output
    assert "antinex@production -> version 2" in moved.output

    out = tmp_path / "pulled.onnx"
    pulled = sapwood("models", "pull", "antinex@production", "-o", str(out), "--team", "default")
    assert pulled.exit_code == 0, pulled.output
    assert out.read_bytes() == second.read_bytes()

    refused = sapwood("models", "delete", "antinex", "2", "--team", "default")
    assert refused.exit_code != 0
    assert "alias(es) production" in refused.output
    deleted = sapwood("models", "delete", "antinex", "1", "--team", "default")
    assert deleted.exit_code == 0, deleted.output


def test_a_bad_file_and_a_bad_metric_are_refused(sapwood: Sapwood, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    refused = sapwood("models", "push", str(bad), "--name", "m", "--team", "default")
    assert refused.exit_code != 0
    assert "refused" in refused.output
    good = tmp_path / "good.onnx"
    good.write_bytes(mlp_model(features=3))
    metric = sapwood(
        "models", "push", str(good), "--name", "m", "--metric", "accuracy", "--team", "default"
    )
    assert metric.exit_code != 0
    assert "NAME=NUMBER" in metric.output
    empty = sapwood("models", "list", "--team", "default")
    assert empty.exit_code == 0
    assert "No models" in empty.output
