"""What the registry reads from an ONNX graph, on models built here with onnx.helper."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

from sapwood.server.registry.onnx_metadata import ModelMetadataError, read_metadata
from tests.support_onnx import mlp_model


def test_an_mlp_reports_its_interface_opset_and_feature_names() -> None:
    meta = read_metadata(onnx.load_from_string(mlp_model(features=5, classes=3)))
    [features] = meta.inputs
    [probabilities] = meta.outputs
    assert (features.name, features.dtype, features.shape) == ("features", "float32", ["N", 5])
    assert (probabilities.name, probabilities.dtype, probabilities.shape) == (
        "probabilities",
        "float32",
        ["N", 3],
    )
    assert meta.opset == 17
    assert meta.features == ["f0", "f1", "f2", "f3", "f4"]
    assert json.loads(meta.props["features"]) == meta.features


def test_given_feature_names_are_kept_in_order() -> None:
    names = ["duration", "bytes_in", "bytes_out"]
    meta = read_metadata(onnx.load_from_string(mlp_model(features=3, feature_names=names)))
    assert meta.features == names


def _identity(*, props: dict[str, str], width: int | None = 2) -> onnx.ModelProto:
    dims: list[int | str | None] = ["batch", width]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.INT64, dims)],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    helper.set_model_props(model, props)
    return model


def test_without_a_features_prop_there_are_no_feature_names() -> None:
    meta = read_metadata(_identity(props={"author": "mia"}))
    assert meta.features is None
    assert meta.props == {"author": "mia"}
    assert meta.inputs[0].dtype == "int64"
    assert meta.outputs[0].shape is None  # no shape declared


def test_an_unknown_dimension_reads_as_none() -> None:
    meta = read_metadata(_identity(props={}, width=None))
    assert meta.inputs[0].shape == ["batch", None]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("f0,f1", "not JSON"),
        ('{"a": 1}', "JSON list of strings"),
        ("[1, 2]", "JSON list of strings"),
        ('["a", "a"]', "names a more than once"),
        ('["a", "b", "c"]', "names 3 features but input 'x' has 2 columns"),
    ],
)
def test_a_malformed_features_prop_is_refused_with_the_reason(raw: str, message: str) -> None:
    with pytest.raises(ModelMetadataError, match=message):
        read_metadata(_identity(props={"features": raw}))


def test_initializers_listed_as_inputs_are_not_inputs() -> None:
    model = onnx.load_from_string(mlp_model(features=2))
    model.graph.input.append(helper.make_tensor_value_info("w1", TensorProto.FLOAT, [2, 32]))
    assert [i.name for i in read_metadata(model).inputs] == ["features"]


def test_the_builder_is_deterministic_per_seed() -> None:
    assert mlp_model(seed=1) == mlp_model(seed=1)
    assert mlp_model(seed=1) != mlp_model(seed=2)
