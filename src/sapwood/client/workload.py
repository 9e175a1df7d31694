"""What code running inside a workload calls: its own run, and logging metrics to it.

The controller gives every workload SAPWOOD_URL, SAPWOOD_TOKEN (scoped to its own object),
SAPWOOD_KIND, SAPWOOD_TEAM and SAPWOOD_NAME. Points are buffered and sent in batches with
a plain blocking HTTP call (no thread, no event loop), so logging in a training loop costs
next to nothing; see :class:`Run` for when a batch goes.
"""

from __future__ import annotations

import logging
import math
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self, SupportsFloat, SupportsIndex

import httpx
from pydantic_core import to_jsonable_python

from sapwood.client.base import API
from sapwood.client.config import with_token
from sapwood.client.errors import ConnectionFailedError, SapwoodError, error_from
from sapwood.schemas import MetricPoint
from sapwood.schemas.metrics import MAX_POINTS_PER_REQUEST, metric_name_problem
from sapwood.specs.objects import plural_of

log = logging.getLogger("sapwood.run")

ENV = ("SAPWOOD_URL", "SAPWOOD_TOKEN", "SAPWOOD_KIND", "SAPWOOD_TEAM", "SAPWOOD_NAME")
BATCH_POINTS = 100
FLUSH_INTERVAL_S = 5.0
MAX_BUFFERED = 100_000  # while the server cannot be reached; the oldest go beyond


class NotInWorkloadError(RuntimeError):
    """The SAPWOOD_* variables a workload gets are missing: this is not a workload."""


class Run:
    """The object this code runs as, and its buffer of metric points.

    A batch is sent when ``BATCH_POINTS`` points wait, when ``FLUSH_INTERVAL_S`` passed since
    the last send (checked on the next call, so a point logged once an epoch goes at once),
    on :meth:`flush`, and on :meth:`close`. If the server cannot be reached, points stay
    buffered and go with the next batch; a refusal (bad token, object gone) is raised.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = 10.0,
    ) -> None:
        env = with_token(env)
        missing = [name for name in ENV if not env.get(name)]
        if missing:
            raise NotInWorkloadError(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                "sapwood.run logs to the object a workload runs as, and the server sets "
                "these for every workload it starts; outside one, set " + ", ".join(ENV)
            )
        self.kind, self.team, self.name = (
            env["SAPWOOD_KIND"],
            env["SAPWOOD_TEAM"],
            env["SAPWOOD_NAME"],
        )
        self._clock = clock
        self._last_sent = clock()
        self._buffer: list[MetricPoint] = []
        self._lock = threading.RLock()  # training code may log from several threads
        self._http = httpx.Client(
            base_url=env["SAPWOOD_URL"],
            headers={
                "Authorization": f"Bearer {env['SAPWOOD_TOKEN']}",
                "User-Agent": "sapwood-run",
            },
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def log_metric(
        self, name: str, value: SupportsFloat, step: SupportsIndex | None = None
    ) -> None:
        """Records one value; ValueError at once for a bad name or a value that is not finite."""
        self.log_metrics({name: value}, step=step)

    def log_metrics(
        self, values: Mapping[str, SupportsFloat], step: SupportsIndex | None = None
    ) -> None:
        """Records several values at the same step and time."""
        now = datetime.now(UTC)
        at = None if step is None else operator.index(step)
        if at is not None and at < 0:
            raise ValueError(f"step must be 0 or more, got {at}")
        points = [
            MetricPoint(name=_checked_name(k), value=_finite(k, v), step=at, time=now)
            for k, v in values.items()
        ]
        with self._lock:
            self._buffer.extend(points)
            due = self._clock() - self._last_sent >= FLUSH_INTERVAL_S
            if due or len(self._buffer) >= BATCH_POINTS:
                self._send(raise_refusals=True)

    def flush(self) -> None:
        """Sends every buffered point now; ConnectionFailedError if the server is unreachable."""
        with self._lock:
            self._send(raise_refusals=True, raise_unreachable=True)

    def close(self) -> None:
        """Sends what is buffered, never raising (it runs at exit); idempotent."""
        with self._lock:
            if self._http.is_closed:
                return
            try:
                self._send(raise_refusals=False)
            finally:
                self._http.close()

    @property
    def pending(self) -> int:
        """Points not yet sent."""
        return len(self._buffer)

    def _send(self, *, raise_refusals: bool, raise_unreachable: bool = False) -> None:
        self._last_sent = self._clock()
        path = f"{API}/{plural_of(self.kind)}/{self.name}/metrics"
        while self._buffer:
            batch = self._buffer[:MAX_POINTS_PER_REQUEST]
            try:
                self._post(path, batch)
            except ConnectionFailedError as exc:
                self._buffer = self._buffer[-MAX_BUFFERED:]
                log.warning("metrics not sent yet (%d waiting): %s", len(self._buffer), exc)
                if raise_unreachable:
                    raise
                return
            except SapwoodError as exc:
                dropped = len(batch)
                del self._buffer[:dropped]
                if raise_refusals:
                    raise
                log.error("%d metric points were refused and dropped: %s", dropped, exc)
                continue
            del self._buffer[: len(batch)]

    def _post(self, path: str, batch: Sequence[MetricPoint]) -> None:
        body = [to_jsonable_python(p, by_alias=True, exclude_none=True) for p in batch]
        try:
            response = self._http.post(path, json=body, params={"team": self.team})
        except httpx.TransportError as exc:
            raise ConnectionFailedError(f"cannot reach {self._http.base_url}: {exc}") from exc
        if response.status_code >= 500:
            raise ConnectionFailedError(f"the server answered {response.status_code}")
        if not response.is_success:
            raise error_from(response)


def _checked_name(name: str) -> str:
    problem = metric_name_problem(name) if isinstance(name, str) else "a metric name is a str"
    if problem is not None:
        raise ValueError(problem)
    return name


def _finite(name: str, value: SupportsFloat) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric {name!r}: the value must be a finite number, got {number}")
    return number
