"""The reference pipeline in AntiNex's architecture: an API process parses the rows and
publishes Celery tasks over Redis; Celery workers score them with the same ONNX model and
write the results to PostgreSQL. Run by bench/feeds_throughput.py inside bench/.venv-celery
(celery, redis, onnxruntime, numpy, psycopg); never imported by Sapwood itself.

Settings, chosen as the best we found for this pipeline on 2 cores: prefork workers, one
per core; prefetch multiplier 4; binary payloads (the ``msgpack`` serializer carries the raw
float32 bytes, where JSON would base64 them); results written with one ``COPY`` per task;
tasks of 2,000 rows.

Environment: BENCH_MODEL (ONNX path), BENCH_PG_URL, BENCH_REDIS_URL, BENCH_TABLE.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnxruntime as ort
import psycopg
from celery import Celery
from celery.signals import worker_process_init

app = Celery(
    "antinex_reference", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
)
app.conf.update(
    task_serializer="msgpack",
    accept_content=["msgpack"],
    result_backend=None,
    task_ignore_result=True,
    worker_prefetch_multiplier=4,
    task_acks_late=True,
    broker_connection_retry_on_startup=True,
)

_state: dict[str, Any] = {}


@worker_process_init.connect
def _load(**_: Any) -> None:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    _state["session"] = ort.InferenceSession(
        os.environ["BENCH_MODEL"], options, providers=["CPUExecutionProvider"]
    )
    _state["db"] = psycopg.connect(os.environ["BENCH_PG_URL"], autocommit=True)


@app.task(name="score")
def score(first_seq: int, rows: bytes, width: int) -> int:
    """Scores a batch of float32 rows and stores one result row per record."""
    if "session" not in _state:
        _load()
    features = np.frombuffer(rows, dtype=np.float32).reshape(-1, width)
    [probabilities] = _state["session"].run(None, {"features": features})
    predictions = probabilities.argmax(axis=1)
    table = os.environ.get("BENCH_TABLE", "celery_results")
    with (
        _state["db"].cursor() as cur,
        cur.copy(f"COPY {table} (seq, prediction, score) FROM STDIN") as copy,
    ):
        for offset, (label, p) in enumerate(zip(predictions, probabilities[:, 1], strict=True)):
            copy.write_row((first_seq + offset, int(label), float(p)))
    return len(features)
