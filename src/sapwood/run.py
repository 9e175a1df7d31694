"""Log training metrics from code the server runs: ``sapwood.run.log_metric("loss", 0.3, step=7)``.

The run is the object the workload runs as (from SAPWOOD_* variables the controller sets).
It is created on first use, not at import, and what is still buffered is sent at exit.
Outside a workload the first call raises :class:`NotInWorkloadError` naming what is
missing; tests and scripts can build their own :class:`Run` instead.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from typing import SupportsFloat, SupportsIndex

from sapwood.client.workload import NotInWorkloadError, Run

__all__ = ["NotInWorkloadError", "Run", "current", "flush", "log_metric", "log_metrics"]

# The one process-wide run: module functions are the API a training script expects.
_current: Run | None = None
_lock = threading.Lock()


def current() -> Run:
    """This workload's run, created on first use from the environment."""
    global _current
    with _lock:
        if _current is None:
            _current = Run(os.environ)
            atexit.register(_current.close)
        return _current


def log_metric(name: str, value: SupportsFloat, step: SupportsIndex | None = None) -> None:
    """Records one value of a metric, sent in a batch soon (see :class:`Run`)."""
    current().log_metric(name, value, step)


def log_metrics(values: Mapping[str, SupportsFloat], step: SupportsIndex | None = None) -> None:
    """Records several metrics at the same step: ``log_metrics({"loss": l, "acc": a}, step=s)``."""
    current().log_metrics(values, step)


def flush() -> None:
    """Sends what is buffered now (at the end of an epoch, before a checkpoint)."""
    current().flush()
