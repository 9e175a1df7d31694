"""Small ONNX models built in memory, for tests, benchmarks and examples.

`mlp_model` builds a two-layer perceptron (MatMul+Add+Relu+MatMul+Add+Softmax, float32) with
seeded random weights: input ``features`` of shape ``["N", features]``, output
``probabilities`` of shape ``["N", classes]``, and a ``features`` metadata prop holding the
JSON list of feature names (the model server maps named features to columns with it).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def mlp_model(
    features: int = 67,
    hidden: int = 32,
    classes: int = 2,
    seed: int = 0,
    feature_names: list[str] | None = None,
) -> bytes:
    """The serialized bytes of a small float32 MLP classifier."""
    if features < 1 or hidden < 1 or classes < 1:
        raise ValueError("features, hidden and classes must be at least 1")
    names = feature_names if feature_names is not None else [f"f{i}" for i in range(features)]
    if len(names) != features:
        raise ValueError(f"feature_names has {len(names)} names; features is {features}")
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 1.0 / np.sqrt(features), (features, hidden)).astype(np.float32)
    b1 = rng.normal(0.0, 0.1, (hidden,)).astype(np.float32)
    w2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, classes)).astype(np.float32)
    b2 = rng.normal(0.0, 0.1, (classes,)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
        helper.make_node("Add", ["l0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        initializer=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="sapwood.testing",
    )
    # Keep the IR version within what the installed onnxruntime loads.
    model.ir_version = min(model.ir_version, 8)
    helper.set_model_props(model, {"features": json.dumps(names)})
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data
