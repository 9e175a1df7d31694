"""BentoML's half of serving.py: the benchmark's ONNX model as a BentoML service.

Served by serving.py with BentoML's own environment (bench/.venv-bento), from this folder:

    SERVING_BENCH_MODEL=model.onnx SERVING_BENCH_WORKERS=2 bench/.venv-bento/bin/bentoml \
        serve _bento_service:Antinex --working-dir bench --host 127.0.0.1 --port 8000

BentoML's best settings for this model: `workers` = the cores (one process each), each with
one ONNX Runtime session (one intra-op thread, so the workers together use the cores), and
adaptive batching on (`batchable=True`, up to 64 rows a batch; `max_latency_ms` 1000, as
BentoML sheds requests with 503 when it expects to miss that bound, and 10 ms shed most
requests at concurrency 64), and no access log (one log line per request costs CPU). A
request is BentoML's natural JSON for an API taking `rows`, `{"rows": [[...67 floats...]]}`;
the answer is the JSON array of probabilities, one `[p0, p1]` per row.
"""

from __future__ import annotations

import os

import bentoml  # type: ignore[import-not-found,import-untyped,unused-ignore]
import numpy as np
import onnxruntime as ort  # type: ignore[import-not-found,import-untyped,unused-ignore]

MODEL_PATH = os.environ.get("SERVING_BENCH_MODEL", "model.onnx")
WORKERS = int(os.environ.get("SERVING_BENCH_WORKERS", str(os.cpu_count() or 1)))
MAX_BATCH_SIZE = 64
MAX_LATENCY_MS = 1000  # a bound for shedding (503), not a wait: lower ones shed at c=64


@bentoml.service(workers=WORKERS, logging={"access": {"enabled": False}})  # type: ignore[untyped-decorator,unused-ignore]
class Antinex:
    def __init__(self) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(MODEL_PATH, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    @bentoml.api(  # type: ignore[untyped-decorator,unused-ignore]
        batchable=True, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS
    )
    def predict(self, rows: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.session.run(None, {self.input: rows.astype(np.float32)})[0]
        return out
