"""One ONNX model loaded into an ONNX Runtime session, and what the protocol says about it."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

log = logging.getLogger("sapwood.serving")

PLATFORM = "onnxruntime_onnx"

# ONNX Runtime's type strings, as the Open Inference Protocol names them.
DATATYPES: dict[str, tuple[str, np.dtype[Any]]] = {
    "tensor(float)": ("FP32", np.dtype(np.float32)),
    "tensor(double)": ("FP64", np.dtype(np.float64)),
    "tensor(float16)": ("FP16", np.dtype(np.float16)),
    "tensor(int64)": ("INT64", np.dtype(np.int64)),
    "tensor(int32)": ("INT32", np.dtype(np.int32)),
    "tensor(int16)": ("INT16", np.dtype(np.int16)),
    "tensor(int8)": ("INT8", np.dtype(np.int8)),
    "tensor(uint64)": ("UINT64", np.dtype(np.uint64)),
    "tensor(uint32)": ("UINT32", np.dtype(np.uint32)),
    "tensor(uint16)": ("UINT16", np.dtype(np.uint16)),
    "tensor(uint8)": ("UINT8", np.dtype(np.uint8)),
    "tensor(bool)": ("BOOL", np.dtype(np.bool_)),
}


class ModelLoadError(RuntimeError):
    """The file is not a model ONNX Runtime can serve; the message says why."""


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: ``shape`` has -1 for each dynamic dimension."""

    name: str
    datatype: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"shape {list(self.shape)} and datatype {self.datatype}"

    def to_metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def _tensor_info(arg: Any) -> TensorInfo:
    type_name: str = arg.type
    if type_name not in DATATYPES:
        raise ModelLoadError(f"{arg.name} has type {type_name}, which the server cannot serve")
    datatype, dtype = DATATYPES[type_name]
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
    return TensorInfo(name=arg.name, datatype=datatype, dtype=dtype, shape=shape)


def session_options(threads: int) -> ort.SessionOptions:
    """Intra-op threads for the CPUs this replica was given, one op at a time.

    Spinning is off: spinning pool threads would take the CPU the event loop needs to parse
    the next requests while a batch runs.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def features_of(metadata: Mapping[str, str]) -> list[str] | None:
    """The ``features`` metadata prop (a JSON list of names), or None when absent or bad."""
    raw = metadata.get("features")
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        log.warning("the model's features metadata is not JSON; named rows are refused")
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        log.warning("the model's features metadata is not a list of names; ignored")
        return None
    return names


class LoadedModel:
    """A model ready to run: its session, its tensors, and the names it is served under.

    ``batchable`` is true when every input and output has a dynamic first dimension, so
    requests can be stacked along axis 0 and the answers sliced back apart.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        *,
        name: str,
        version: str,
        features: Sequence[str] | None = None,
    ) -> None:
        self.session = session
        self.name = name
        self.version = version
        self.inputs = [_tensor_info(a) for a in session.get_inputs()]
        self.outputs = [_tensor_info(a) for a in session.get_outputs()]
        self.output_names = [o.name for o in self.outputs]
        if features is None:
            features = features_of(session.get_modelmeta().custom_metadata_map)
        self.features = list(features) if features is not None else None
        self.batchable = all(
            len(t.shape) >= 1 and t.shape[0] == -1 for t in (*self.inputs, *self.outputs)
        )

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """All outputs, in the model's order; raises whatever ONNX Runtime raises."""
        result: list[np.ndarray] = self.session.run(self.output_names, dict(feeds))
        return result

    def metadata(self) -> dict[str, Any]:
        """The Open Inference Protocol's model metadata."""
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": PLATFORM,
            "inputs": [t.to_metadata() for t in self.inputs],
            "outputs": [t.to_metadata() for t in self.outputs],
        }


def load_model(
    path: Path,
    *,
    name: str,
    version: str,
    threads: int,
    features: Sequence[str] | None = None,
) -> LoadedModel:
    """Loads ``path`` into a CPU session; ModelLoadError with the loader's reason if it fails."""
    try:
        session = ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # ORT raises its own exception types, not exported for typing
        raise ModelLoadError(f"{path} does not load into ONNX Runtime: {e}") from e
    return LoadedModel(session, name=name, version=version, features=features)
