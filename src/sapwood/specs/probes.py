"""Health probes: HTTP, TCP or exec, with period, timeout and thresholds."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from sapwood.specs.base import Argv, Duration, SpecModel


class HttpProbe(SpecModel):
    path: str = Field(default="/", pattern=r"^/")
    port: int | None = Field(default=None, ge=1, le=65535, description="defaults to $PORT")


class TcpProbe(SpecModel):
    port: int | None = Field(default=None, ge=1, le=65535, description="defaults to $PORT")


class ExecProbe(SpecModel):
    command: Argv


class Probe(SpecModel):
    """Exactly one of ``http``, ``tcp`` or ``exec``."""

    http: HttpProbe | None = None
    tcp: TcpProbe | None = None
    exec: ExecProbe | None = None
    initial_delay: Duration = timedelta(0)
    period: Duration = timedelta(seconds=10)
    timeout: Duration = timedelta(seconds=1)
    failure_threshold: int = Field(default=3, ge=1, le=100)
    success_threshold: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    def _one_kind(self) -> Probe:
        kinds = [k for k in ("http", "tcp", "exec") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a probe needs exactly one of http, tcp or exec; got {kinds or 'none'}"
            )
        if self.period <= timedelta(0) or self.timeout <= timedelta(0):
            raise ValueError("a probe's period and timeout must be above 0s")
        return self


class Backoff(SpecModel):
    """Delay before restart n (from 0): ``min(initial * 2**n, max)``."""

    initial: Duration = timedelta(seconds=10)
    max: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _ordered(self) -> Backoff:
        if self.initial > self.max:
            raise ValueError("backoff initial must not exceed max")
        return self
