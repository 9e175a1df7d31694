from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest

from sapwood.serving.model import LoadedModel
from sapwood.serving.protocol import (
    ProtocolError,
    decode_infer_request,
    decode_rows,
    encode_infer_response,
    encode_predictions,
)

NAMES = [f"f{i}" for i in range(67)]


def infer_body(**tensor: Any) -> bytes:
    base: dict[str, Any] = {
        "name": "features",
        "shape": [1, 67],
        "datatype": "FP32",
        "data": [0.5] * 67,
    }
    return json.dumps({"inputs": [{**base, **tensor}]}).encode()


def refusal(call: Any, *args: Any) -> str:
    with pytest.raises(ProtocolError) as info:
        call(*args)
    assert info.value.status == 400
    return info.value.message


def test_flat_and_nested_data_decode_to_the_same_array(mlp: LoadedModel) -> None:
    flat = decode_infer_request(infer_body(shape=[2, 67], data=[0.25] * 134), mlp)
    nested = decode_infer_request(infer_body(shape=[2, 67], data=[[0.25] * 67] * 2), mlp)
    assert flat.inputs["features"].dtype == np.float32
    np.testing.assert_array_equal(flat.inputs["features"], nested.inputs["features"])
    assert flat.inputs["features"].shape == (2, 67)


def test_a_wrong_shape_names_the_expected_shape_and_datatype(mlp: LoadedModel) -> None:
    message = refusal(decode_infer_request, infer_body(shape=[1, 66], data=[0.5] * 66), mlp)
    assert "input 'features' must have shape [-1, 67] and datatype FP32" in message
    assert "got shape [1, 66]" in message


def test_a_wrong_datatype_names_the_expected_shape_and_datatype(mlp: LoadedModel) -> None:
    message = refusal(decode_infer_request, infer_body(datatype="FP64"), mlp)
    assert "shape [-1, 67] and datatype FP32" in message
    assert "datatype FP64" in message


def test_data_that_does_not_fill_the_shape_is_refused(mlp: LoadedModel) -> None:
    message = refusal(decode_infer_request, infer_body(data=[0.5] * 60), mlp)
    assert "60 values" in message
    assert "shape [-1, 67] and datatype FP32" in message


def test_data_that_is_not_numbers_is_refused(mlp: LoadedModel) -> None:
    message = refusal(decode_infer_request, infer_body(data=["x"] * 67), mlp)
    assert "FP32" in message


def test_unknown_and_missing_inputs_are_named(mlp: LoadedModel) -> None:
    assert "no input 'x'" in refusal(decode_infer_request, infer_body(name="x"), mlp)
    message = refusal(decode_infer_request, b'{"inputs": []}', mlp)
    assert "'inputs'" in message
    assert "not valid JSON" in refusal(decode_infer_request, b"{", mlp)


def test_the_response_echoes_the_id_and_keeps_only_the_wanted_outputs(mlp: LoadedModel) -> None:
    body = json.loads(infer_body())
    body["id"] = "req-7"
    body["outputs"] = [{"name": "probabilities"}]
    body["parameters"] = {"binary_data_output": False}
    request = decode_infer_request(json.dumps(body).encode(), mlp)
    outputs = mlp.run(request.inputs)
    answer = orjson.loads(encode_infer_response(mlp, request, outputs))
    assert answer["id"] == "req-7"
    assert answer["model_name"] == "antinex"
    assert answer["model_version"] == "3"
    (tensor,) = answer["outputs"]
    assert tensor["name"] == "probabilities"
    assert tensor["datatype"] == "FP32"
    assert tensor["shape"] == [1, 2]
    np.testing.assert_allclose(tensor["data"], outputs[0].ravel(), rtol=1e-6)
    body["outputs"] = [{"name": "logits"}]
    assert "no output 'logits'" in refusal(decode_infer_request, json.dumps(body).encode(), mlp)


def test_rows_of_named_features_map_to_columns_by_the_model_metadata(mlp: LoadedModel) -> None:
    assert mlp.features == NAMES
    row = {name: float(i) for i, name in enumerate(NAMES)}
    row["extra"] = 1.0
    inputs = decode_rows(json.dumps({"rows": [row, row]}).encode(), mlp)
    np.testing.assert_array_equal(inputs["features"][1], np.arange(67, dtype=np.float32))


def test_a_missing_feature_names_the_row_and_the_feature(mlp: LoadedModel) -> None:
    full = dict.fromkeys(NAMES, 0.0)
    partial = {k: v for k, v in full.items() if k != "f12"}
    message = refusal(decode_rows, json.dumps({"rows": [full, full, partial]}).encode(), mlp)
    assert message == "row 2 has no feature 'f12'"


def test_rows_of_values_must_have_the_model_width(mlp: LoadedModel) -> None:
    inputs = decode_rows(json.dumps({"rows": [[0.1] * 67]}).encode(), mlp)
    assert inputs["features"].shape == (1, 67)
    message = refusal(decode_rows, json.dumps({"rows": [[0.1] * 67, [0.1] * 5]}).encode(), mlp)
    assert message.startswith("row 1 has 5 values; the model takes 67")
    message = refusal(decode_rows, json.dumps({"rows": [[0.1] * 66 + ["x"]]}).encode(), mlp)
    assert message == "row 0, column 66: 'x' is not a FP32 value"
    assert "'rows'" in refusal(decode_rows, b'{"rows": []}', mlp)


def test_predictions_are_class_indices_with_probabilities(mlp: LoadedModel) -> None:
    x = np.random.default_rng(0).normal(size=(4, 67)).astype(np.float32)
    outputs = mlp.run({"features": x})
    answer = orjson.loads(encode_predictions(mlp, outputs))
    assert answer["predictions"] == np.argmax(outputs[0], axis=1).tolist()
    np.testing.assert_allclose(answer["probabilities"], outputs[0], rtol=1e-6)
    assert answer["modelVersion"] == "3"
