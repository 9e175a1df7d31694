"""The server's Prometheus metrics, in a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

BATCH_ROWS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
INFERENCE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


class ServingMetrics:
    """Requests by model, endpoint and status; batches, rows per batch, inference time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sapwood_serving_requests",
            "Requests answered, by model, endpoint and HTTP status.",
            ["model", "endpoint", "code"],
            registry=self.registry,
        )
        self.batches = Counter(
            "sapwood_serving_batches",
            "Model calls (merged batches, and requests run alone).",
            ["model"],
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "sapwood_serving_batch_rows",
            "Rows per model call.",
            ["model"],
            buckets=BATCH_ROWS_BUCKETS,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "sapwood_serving_batch_requests",
            "Requests merged into one model call.",
            ["model"],
            buckets=BATCH_ROWS_BUCKETS,
            registry=self.registry,
        )
        self.inference_seconds = Histogram(
            "sapwood_serving_inference_seconds",
            "Seconds inside ONNX Runtime per model call.",
            ["model"],
            buckets=INFERENCE_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, ...], MetricWrapperBase] = {}

    def count_request(self, model: str, endpoint: str, code: int) -> None:
        key = (model, endpoint, str(code))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(*key)
        child.inc()  # type: ignore[attr-defined]

    def batch_observer(self, model: str) -> BatchRecorder:
        """What a model's batcher calls after each model call."""
        return BatchRecorder(self, model)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class BatchRecorder:
    """Records one model's calls; called from the batcher's worker thread."""

    def __init__(self, metrics: ServingMetrics, model: str) -> None:
        self._batches = metrics.batches.labels(model)
        self._rows = metrics.batch_rows.labels(model)
        self._requests = metrics.batch_requests.labels(model)
        self._seconds = metrics.inference_seconds.labels(model)

    def __call__(self, rows: int, requests: int, seconds: float) -> None:
        self._batches.inc()
        self._rows.observe(rows)
        self._requests.observe(requests)
        self._seconds.observe(seconds)
