"""Scoring a batch of records with an ONNX model: columns in, (prediction, score,
probabilities) out, vectorised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
import pyarrow as pa


class ScoringError(ValueError):
    """The model and the records do not fit together (a missing feature, an odd output)."""


class Scorer:
    """One loaded model version. ``features`` are the columns it reads, in input order."""

    def __init__(self, model: bytes, *, features: Sequence[str], version: str, threads: int = 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ScoringError(f"the model has {len(inputs)} inputs; a feed model needs one")
        self._input = inputs[0].name
        width = inputs[0].shape[-1] if inputs[0].shape else None
        if isinstance(width, int) and width != len(features):
            raise ScoringError(f"the model reads {width} features; the feed gives {len(features)}")
        self.features = tuple(features)
        self.version = version

    def matrix(self, records: pa.Table) -> np.ndarray:
        """The feature matrix, float32, one row per record."""
        present = set(records.column_names)  # a new list on every access: read it once
        missing = [f for f in self.features if f not in present]
        if missing:
            raise ScoringError(f"the records lack feature column(s): {', '.join(missing[:5])}")
        # Record batch by record batch: columns (zero-copy views) into a feature-major
        # block, then one transposing copy into the output; several times faster than
        # stacking columns row-major, and no column is first concatenated across batches.
        out = np.empty((records.num_rows, len(self.features)), dtype=np.float32)
        start = 0
        for batch in records.select(list(self.features)).to_batches():
            rows = batch.num_rows
            block = np.empty((len(self.features), rows), dtype=np.float32)
            for i, column in enumerate(batch.columns):
                block[i] = column.to_numpy(zero_copy_only=False)
            out[start : start + rows] = block.T
            start += rows
        return out

    def score(self, records: pa.Table) -> pa.Table:
        """prediction (int64), score (float64: the predicted class's probability, or the
        positive class's for one sigmoid output), probabilities (list<float32>)."""
        if records.num_rows == 0:
            return pa.table(
                {
                    "prediction": pa.array([], pa.int64()),
                    "score": pa.array([], pa.float64()),
                    "probabilities": pa.array([], pa.list_(pa.float32())),
                }
            )
        output = np.asarray(self._session.run(None, {self._input: self.matrix(records)})[0])
        return answers(output)


def answers(output: np.ndarray) -> pa.Table:
    """From a model's first output to the results a feed stores; pure. A row whose output
    holds a NaN or an infinity (a NaN feature through an MLP, say) gets a null prediction,
    score and probabilities: unavailable, where the threshold would call NaN class 0 and
    the argmax would call it class 0 too."""
    rows = output.shape[0]
    if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        positive = output.reshape(rows).astype(np.float64)
        prediction = (positive >= 0.5).astype(np.int64)
        probabilities = np.stack([1.0 - positive, positive], axis=1).astype(np.float32)
        score = positive
    elif output.ndim == 2:
        probabilities = output.astype(np.float32, copy=False)
        prediction = np.argmax(probabilities, axis=1).astype(np.int64)
        score = probabilities[np.arange(rows), prediction].astype(np.float64)
    else:
        raise ScoringError(f"the model's output has shape {output.shape}; expected [N, classes]")
    width = probabilities.shape[1]
    unscored = ~np.isfinite(output.reshape(rows, -1)).all(axis=1)
    mask = pa.array(unscored) if unscored.any() else None
    flat = pa.array(probabilities.reshape(-1), type=pa.float32())
    offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
    return pa.table(
        {
            "prediction": pa.array(prediction, type=pa.int64(), mask=unscored),
            "score": pa.array(score, type=pa.float64(), mask=unscored),
            "probabilities": pa.ListArray.from_arrays(offsets, flat, mask=mask),
        }
    )
