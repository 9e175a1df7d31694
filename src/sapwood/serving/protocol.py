"""The Open Inference Protocol (KServe v2) and the rows endpoint: request bodies in, arrays
out, and back. Pure functions; every bad input raises :class:`ProtocolError` with a message
that names the tensor, row or feature at fault.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from sapwood.serving.model import LoadedModel, TensorInfo

_DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class ProtocolError(Exception):
    """A request the server refuses: ``status`` is the HTTP status, the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _tolist(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()  # dtypes orjson does not write natively (float16, ...)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(payload: Any) -> bytes:
    """JSON bytes; numpy arrays are written as (nested) lists."""
    return orjson.dumps(payload, default=_tolist, option=_DUMP_OPTIONS)


def error_body(message: str) -> bytes:
    """The protocol's error shape: ``{"error": "..."}``."""
    return orjson.dumps({"error": message})


def loads(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``; ProtocolError when it is not one."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"the request body is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise ProtocolError("the request body must be a JSON object")
    return value


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request: inputs by name, the outputs wanted (indices), its ``id``."""

    inputs: dict[str, np.ndarray]
    outputs: list[int]
    id: str | None


def _expectation(info: TensorInfo) -> str:
    return f"input '{info.name}' must have {info.describe()}"


def _shape_fits(shape: Sequence[int], expected: Sequence[int]) -> bool:
    if len(shape) != len(expected):
        return False
    for size, wanted in zip(shape, expected, strict=True):
        if wanted != -1 and size != wanted:
            return False
    return True


def decode_tensor(raw: Any, info: TensorInfo) -> np.ndarray:
    """One request input as an array of the model's dtype and shape; ProtocolError if not."""
    if not isinstance(raw, dict):
        raise ProtocolError(f"{_expectation(info)}; got a {type(raw).__name__}, not an object")
    shape, datatype, data = raw.get("shape"), raw.get("datatype"), raw.get("data")
    if type(shape) is not list or any(type(d) is not int or d < 0 for d in shape):
        raise ProtocolError(f"{_expectation(info)}; its shape must be a list of sizes")
    if datatype != info.datatype or not _shape_fits(shape, info.shape):
        raise ProtocolError(f"{_expectation(info)}; got shape {shape} and datatype {datatype}")
    if data is None:
        raise ProtocolError(f"input '{info.name}' has no data")
    try:
        array = np.asarray(data, dtype=info.dtype)
    except (ValueError, TypeError) as e:
        raise ProtocolError(
            f"input '{info.name}': data must be (nested) lists of {info.datatype} values: {e}"
        ) from e
    expected_size = math.prod(shape)
    if array.size != expected_size:
        raise ProtocolError(
            f"input '{info.name}' has {array.size} values; shape {shape} needs {expected_size} "
            f"({info.describe()} expected)"
        )
    return array.reshape(shape)


def decode_infer_request(body: bytes, model: LoadedModel) -> InferRequest:
    """An OIP infer request, validated against the model's inputs and outputs."""
    payload = loads(body)
    raw_inputs = payload.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ProtocolError("the request needs 'inputs': a list of tensors")
    by_name = {t.name: t for t in model.inputs}
    inputs: dict[str, np.ndarray] = {}
    for raw in raw_inputs:
        name = raw.get("name") if isinstance(raw, dict) else None
        if name not in by_name:
            raise ProtocolError(
                f"the model has no input {name!r}; its inputs are {sorted(by_name)}"
            )
        inputs[name] = decode_tensor(raw, by_name[name])
    missing = [n for n in by_name if n not in inputs]
    if missing:
        raise ProtocolError(f"input '{missing[0]}' is missing: {_expectation(by_name[missing[0]])}")
    if model.batchable and len({a.shape[0] for a in inputs.values()}) != 1:
        raise ProtocolError("every input must have the same first (batch) dimension")
    request_id = payload.get("id")
    return InferRequest(
        inputs=inputs,
        outputs=_wanted_outputs(payload.get("outputs"), model),
        id=request_id if isinstance(request_id, str) else None,
    )


def _wanted_outputs(raw: Any, model: LoadedModel) -> list[int]:
    if raw is None:
        return list(range(len(model.outputs)))
    if not isinstance(raw, list):
        raise ProtocolError("'outputs' must be a list of {\"name\": ...} objects")
    index = {name: i for i, name in enumerate(model.output_names)}
    wanted: list[int] = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in index:
            raise ProtocolError(
                f"the model has no output {name!r}; its outputs are {sorted(index)}"
            )
        wanted.append(index[name])
    return wanted


def encode_infer_response(
    model: LoadedModel, request: InferRequest, outputs: Sequence[np.ndarray]
) -> bytes:
    """The OIP infer response: the wanted outputs, with flat data."""
    tensors = []
    for i in request.outputs:
        array = np.ascontiguousarray(outputs[i])
        tensors.append(
            {
                "name": model.outputs[i].name,
                "datatype": model.outputs[i].datatype,
                "shape": list(array.shape),
                "data": array.ravel(),
            }
        )
    payload: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request.id is not None:
        payload["id"] = request.id
    payload["outputs"] = tensors
    return dumps(payload)


def decode_rows(body: bytes, model: LoadedModel) -> dict[str, np.ndarray]:
    """``{"rows": [...]}`` as the model's single input: rows of named features or of values."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 2 or not model.batchable:
        raise ProtocolError(
            "this model does not take rows (it needs one 2-D input with a batch dimension); "
            "use the infer endpoint"
        )
    info = model.inputs[0]
    rows = loads(body).get("rows")
    if not isinstance(rows, list) or not rows:
        raise ProtocolError("the request needs 'rows': a non-empty list of rows")
    values = _named_rows(rows, model) if isinstance(rows[0], dict) else rows
    try:
        array = np.asarray(values, dtype=info.dtype)
    except (ValueError, TypeError) as e:
        raise ProtocolError(_bad_row(values, info)) from e
    width = info.shape[1]
    if array.ndim != 2 or (width != -1 and array.shape[1] != width):
        raise ProtocolError(_bad_row(values, info))
    return {info.name: array}


def _named_rows(rows: list[Any], model: LoadedModel) -> list[list[Any]]:
    features = model.features
    if features is None:
        raise ProtocolError(
            "the model has no 'features' metadata to map named features to columns; "
            "send each row as a list of values"
        )
    values: list[list[Any]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ProtocolError(f"row {i} is not an object of named features like row 0")
        try:
            values.append([row[f] for f in features])
        except KeyError as e:
            raise ProtocolError(f"row {i} has no feature {e.args[0]!r}") from e
    return values


def _bad_row(values: list[Any], info: TensorInfo) -> str:
    """Names the first row that does not fit ``info`` (a 2-D input)."""
    width = info.shape[1]
    for i, row in enumerate(values):
        if not isinstance(row, list):
            return f"row {i} is not a list of values"
        if width != -1 and len(row) != width:
            return f"row {i} has {len(row)} values; the model takes {width} ({info.describe()})"
        for j, value in enumerate(row):
            try:
                np.asarray(value, dtype=info.dtype)
            except (ValueError, TypeError):
                return f"row {i}, column {j}: {value!r} is not a {info.datatype} value"
    return f"rows must all have the same number of values ({info.describe()} expected)"


def classifier_outputs(model: LoadedModel) -> tuple[int | None, int | None]:
    """(probabilities, labels) output indices, where the model has them, found by name."""
    probabilities = labels = None
    for i, out in enumerate(model.outputs):
        lowered = out.name.lower()
        if (
            probabilities is None
            and "prob" in lowered
            and out.dtype.kind == "f"
            and (len(out.shape) == 2)
        ):
            probabilities = i
        elif (
            labels is None
            and out.dtype.kind in "iu"
            and ("label" in lowered or "class" in lowered or "predict" in lowered)
        ):
            labels = i
    return probabilities, labels


def encode_predictions(model: LoadedModel, outputs: Sequence[np.ndarray]) -> bytes:
    """``predictions`` (class indices) and ``probabilities`` for a classifier; otherwise
    ``outputs`` (the array, or arrays by name when the model has several)."""
    probabilities, labels = classifier_outputs(model)
    if probabilities is not None or labels is not None:
        payload: dict[str, Any] = {}
        if labels is not None:
            payload["predictions"] = outputs[labels].reshape(len(outputs[labels]), -1)[:, 0]
        else:
            assert probabilities is not None
            payload["predictions"] = np.argmax(outputs[probabilities], axis=1)
        if probabilities is not None:
            payload["probabilities"] = np.ascontiguousarray(outputs[probabilities])
        payload["modelVersion"] = model.version
        return dumps(payload)
    if len(outputs) == 1:
        return dumps({"outputs": np.ascontiguousarray(outputs[0]), "modelVersion": model.version})
    return dumps(
        {
            "outputs": {
                name: np.ascontiguousarray(o)
                for name, o in zip(model.output_names, outputs, strict=True)
            },
            "modelVersion": model.version,
        }
    )
