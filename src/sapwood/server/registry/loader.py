"""Checking an uploaded file is a model the servers can load: onnx.checker, then ONNX Runtime.

Blocking and CPU-bound: call from a worker thread.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort

from sapwood.server.registry.onnx_metadata import ModelMetadataError, OnnxMetadata, read_metadata


class ModelLoadError(ValueError):
    """The file is not a loadable ONNX model; the message is the loader's reason."""


def inspect_file(path: Path) -> OnnxMetadata:
    """The model's metadata once it passes onnx.checker and opens in ONNX Runtime."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelLoadError(f"not an ONNX model: onnx.load failed: {_reason(exc)}") from None
    try:
        # By path, so models past the 2 GiB protobuf limit are checked too.
        onnx.checker.check_model(str(path))
    except Exception as exc:
        raise ModelLoadError(f"onnx.checker refused the model: {_reason(exc)}") from None
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"onnxruntime cannot load the model: {_reason(exc)}") from None
    try:
        return read_metadata(model)
    except ModelMetadataError as exc:
        raise ModelLoadError(str(exc)) from None


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return (text[:500] + "…") if len(text) > 500 else text or type(exc).__name__
