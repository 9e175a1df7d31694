"""The parts of a Service spec that the gateway and the autoscaler read."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from sapwood.specs.base import Duration, SpecModel

MODEL_REF = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?@[A-Za-z0-9][-A-Za-z0-9_.]*$"
"""NAME@ALIAS or NAME@VERSION; a reference that is all digits names a version."""

ModelRef = str


class Canary(SpecModel):
    """A second model version beside the main one, given a share of the traffic."""

    model: ModelRef = Field(pattern=MODEL_REF, description="NAME@VERSION or NAME@ALIAS")
    weight: int = Field(ge=0, le=100, description="percent of requests sent to the canary")
    shadow: bool = Field(
        default=False,
        description="mirror that share to the canary and discard its answers",
    )
    replicas: int = Field(default=1, ge=1, le=64)


class RateLimit(SpecModel):
    """A token bucket: ``requestsPerSecond`` on average, bursts up to ``burst``."""

    requests_per_second: float = Field(gt=0, le=1_000_000)
    burst: int | None = Field(default=None, ge=1, le=10_000_000)

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else max(1, int(self.requests_per_second))


class GatewaySpec(SpecModel):
    """How the gateway admits requests to this service."""

    auth: Literal["token", "public"] = "token"
    rate_limit: RateLimit | None = Field(default=None, description="for the whole service")
    token_rate_limit: RateLimit | None = Field(default=None, description="for each token")
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024)
    hold_timeout: Duration = Field(
        default=timedelta(seconds=60),
        description="how long a request waits for a first replica when none is ready",
    )


class Autoscale(SpecModel):
    """Replicas follow load between ``replicas.min`` and ``replicas.max``, as in Knative."""

    metric: Literal["concurrency", "rps"] = "concurrency"
    target: float = Field(default=10, gt=0, le=1_000_000, description="per replica")
    stable_window: Duration = timedelta(seconds=60)
    panic_window: Duration = timedelta(seconds=6)
    panic_threshold: float = Field(default=2.0, ge=1.0, le=100.0)
    scale_to_zero_grace: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _windows(self) -> Autoscale:
        if self.panic_window > self.stable_window:
            raise ValueError("panicWindow must not be longer than stableWindow")
        if self.panic_window <= timedelta(0):
            raise ValueError("panicWindow must be positive")
        return self
