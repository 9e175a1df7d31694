"""What the registry records about an ONNX model, read from its graph. Pure: no files.

Inputs and outputs (names, dtypes, shapes), the default-domain opset, the model's
metadata_props, and from those the ``features`` prop: a JSON list of feature names the
model server uses to map named features to input columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import onnx
from onnx import helper

from sapwood.schemas.models import TensorInfo

FEATURES_PROP = "features"


class ModelMetadataError(ValueError):
    """The model loads, but what it declares about itself is inconsistent."""


@dataclass(frozen=True)
class OnnxMetadata:
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    opset: int | None
    props: dict[str, str] = field(default_factory=dict)
    features: list[str] | None = None


def read_metadata(model: onnx.ModelProto) -> OnnxMetadata:
    """The model's interface and props; ModelMetadataError for a malformed ``features`` prop."""
    initializers = {i.name for i in model.graph.initializer}
    # Older exporters list initializers among the inputs; they are not fed by callers.
    inputs = [tensor_info(v) for v in model.graph.input if v.name not in initializers]
    outputs = [tensor_info(v) for v in model.graph.output]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    props = {p.key: p.value for p in model.metadata_props}
    features = parse_features(props.get(FEATURES_PROP))
    if features is not None:
        check_features_fit(features, inputs)
    return OnnxMetadata(inputs=inputs, outputs=outputs, opset=opset, props=props, features=features)


def tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return TensorInfo(name=value.name, dtype=_type_name(value.type), shape=None)
    tensor = value.type.tensor_type
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?"
    shape: list[int | str | None] | None = None
    if tensor.HasField("shape"):
        shape = [_dim(d) for d in tensor.shape.dim]
    return TensorInfo(name=value.name, dtype=dtype, shape=shape)


def parse_features(raw: str | None) -> list[str] | None:
    """The ``features`` prop as a list of names; ModelMetadataError if it is not one."""
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelMetadataError(
            f"metadata prop 'features' is not JSON ({exc.msg}): it must be a JSON list of names"
        ) from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelMetadataError("metadata prop 'features' must be a JSON list of strings")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ModelMetadataError(
            f"metadata prop 'features' names {', '.join(duplicates)} more than once"
        )
    return names


def check_features_fit(features: list[str], inputs: list[TensorInfo]) -> None:
    """A single 2-D input with a fixed width must have one column per feature name."""
    if len(inputs) != 1 or inputs[0].shape is None or len(inputs[0].shape) != 2:
        return
    width = inputs[0].shape[1]
    if isinstance(width, int) and width != len(features):
        raise ModelMetadataError(
            f"metadata prop 'features' names {len(features)} features but input "
            f"{inputs[0].name!r} has {width} columns"
        )


def _dim(dim: onnx.TensorShapeProto.Dimension) -> int | str | None:
    if dim.HasField("dim_value"):
        return int(dim.dim_value)
    if dim.HasField("dim_param"):
        return str(dim.dim_param)
    return None


def _type_name(proto: onnx.TypeProto) -> str:
    kind = proto.WhichOneof("value")
    if kind == "tensor_type":
        elem = proto.tensor_type.elem_type
        return f"tensor({helper.tensor_dtype_to_np_dtype(elem).name})" if elem else "tensor(?)"
    if kind == "sequence_type":
        return f"seq({_type_name(proto.sequence_type.elem_type)})"
    if kind == "map_type":
        key = helper.tensor_dtype_to_np_dtype(proto.map_type.key_type).name
        return f"map({key},{_type_name(proto.map_type.value_type)})"
    if kind == "optional_type":
        return f"optional({_type_name(proto.optional_type.elem_type)})"
    return kind or "?"
