"""Log training metrics from code the server runs: ``sapwood.run.log_metric("loss", 0.3, step=7)``,
and register the model it made: ``sapwood.run.register_model("model.onnx", name="antinex")``.

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
from pathlib import Path
from typing import SupportsFloat, SupportsIndex

from sapwood.client.config import with_token
from sapwood.client.sync import Client
from sapwood.client.workload import NotInWorkloadError, Run
from sapwood.schemas.models import PushedModel

__all__ = [
    "NotInWorkloadError",
    "Run",
    "current",
    "flush",
    "log_metric",
    "log_metrics",
    "register_model",
]

REGISTRY_ENV = ("SAPWOOD_URL", "SAPWOOD_TOKEN", "SAPWOOD_TEAM")

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


def register_model(
    path: str | os.PathLike[str],
    *,
    name: str,
    metrics: Mapping[str, SupportsFloat] | None = None,
    alias: str | None = None,
    framework: str | None = None,
    source: str | None = None,
) -> PushedModel:
    """Pushes an ONNX file to the team's registry as a version of ``name``; returns it.

    The server records this workload (a Job) as the version's lineage; ``source`` adds a
    free note (data set, commit). The same bytes registered again return the existing
    version. Uses SAPWOOD_URL, SAPWOOD_TOKEN and SAPWOOD_TEAM from the environment.
    """
    env = with_token(os.environ)
    missing = [var for var in REGISTRY_ENV if not env.get(var)]
    if missing:
        raise NotInWorkloadError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
            "register_model pushes to the registry of the team a workload runs in, and the "
            "server sets these for every workload it starts; outside one, set "
            + ", ".join(REGISTRY_ENV)
        )
    values = {k: float(v) for k, v in (metrics or {}).items()}
    with Client(env["SAPWOOD_URL"], token=env["SAPWOOD_TOKEN"], team=env["SAPWOOD_TEAM"]) as client:
        return client.push_model(
            Path(path),
            name=name,
            alias=alias,
            metrics=values,
            framework=framework,
            source=source,
        )
