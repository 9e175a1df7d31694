"""A file is registered only once onnx.checker and ONNX Runtime accept it; else the reason."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from sapwood.server.registry.loader import ModelLoadError, inspect_file
from tests.support_onnx import mlp_model


def test_a_good_model_passes_and_its_metadata_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(mlp_model(features=3))
    assert inspect_file(path).features == ["f0", "f1", "f2"]


def test_bytes_that_are_not_onnx_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"this is not a protobuf \xff\xfe")
    with pytest.raises(ModelLoadError, match=r"onnx\.load|onnx\.checker"):
        inspect_file(path)


def test_a_graph_the_checker_refuses_names_the_problem(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("NoSuchOp", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelLoadError, match="NoSuchOp"):
        inspect_file(path)
