"""Team quotas and the queue on the wire."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sapwood.schemas.base import WireModel
from sapwood.specs.base import Cpu, Gpus, Memory


class Amounts(WireModel):
    """cpu, memory and gpu, as in a spec's resources; unset means 0."""

    cpu: Cpu = 0
    memory: Memory = 0
    gpu: Gpus = 0


class Limits(WireModel):
    """Caps per resource; an unset one is not capped."""

    cpu: Cpu | None = None
    memory: Memory | None = None
    gpu: Gpus | None = None


class QuotaRequest(WireModel):
    guaranteed: Amounts = Field(default_factory=Amounts)
    max: Limits | None = Field(default=None, description="borrowing cap; none: the cluster")
    weight: float = Field(default=1.0, gt=0, le=1000, description="fair-share weight")


class Quota(QuotaRequest):
    team: str
    updated_at: datetime


class QueueEntry(WireModel):
    """A waiting workload, in the order the scheduler will consider it."""

    position: int
    kind: str
    team: str
    name: str
    priority: str
    reason: str
    waiting_since: datetime | None = None
