"""The scheduler's plain data: what is asked, what runs, where, and under which quotas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

DIMENSIONS = ("cpu", "memory", "gpu")


@dataclass(frozen=True, slots=True)
class Resources:
    """Millicores, bytes and whole GPUs."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.gpus + other.gpus,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.gpus - other.gpus,
        )

    def times(self, count: int) -> Resources:
        return Resources(self.cpu_millis * count, self.memory_bytes * count, self.gpus * count)

    def fits_in(self, room: Resources) -> bool:
        return (
            self.cpu_millis <= room.cpu_millis
            and self.memory_bytes <= room.memory_bytes
            and self.gpus <= room.gpus
        )

    def clamp(self, ceiling: Resources) -> Resources:
        """Per dimension, the smaller of the two (never below zero)."""
        return Resources(
            max(0, min(self.cpu_millis, ceiling.cpu_millis)),
            max(0, min(self.memory_bytes, ceiling.memory_bytes)),
            max(0, min(self.gpus, ceiling.gpus)),
        )

    def values(self) -> tuple[int, int, int]:
        return (self.cpu_millis, self.memory_bytes, self.gpus)

    @property
    def empty(self) -> bool:
        return self.cpu_millis <= 0 and self.memory_bytes <= 0 and self.gpus <= 0


NOTHING = Resources()


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    allocatable: Resources
    labels: Mapping[str, str] = field(default_factory=dict)
    gpu_model: str | None = None


@dataclass(frozen=True, slots=True)
class Quota:
    """A team's share: ``guaranteed`` is always reachable (through preemption if need be);
    ``max`` caps borrowing of idle capacity (None: no cap beyond the cluster)."""

    guaranteed: Resources = NOTHING
    max: Resources | None = None
    weight: float = 1.0

    def covers(self, usage: Resources) -> bool:
        """Whether ``usage`` stays within the guarantee. The guarantee covers the resources
        it names: one left at 0 (say cpu, in a gpu-only guarantee) is not checked. A quota
        that guarantees nothing covers nothing."""
        if self.guaranteed.empty:
            return usage.empty
        return all(
            u <= g for u, g in zip(usage.values(), self.guaranteed.values(), strict=True) if g > 0
        )


class Role(StrEnum):
    """How a workload may be treated when room is needed."""

    REGULAR = "regular"  # preemptible by higher priority, or to return a team's guarantee
    ELASTIC = "elastic"  # service replicas above min: first to go, for anything
    PROTECTED = "protected"  # never preempted (workspaces unless their spec allows)


@dataclass(frozen=True, slots=True)
class Workload:
    """A gang of replicas admitted together (a single replica is a gang of one)."""

    uid: str
    ref: str  # "job/research/train", for messages
    team: str
    priority: int
    replica: Resources  # what each replica asks for
    count: int = 1
    queued_at: datetime | None = None
    role: Role = Role.REGULAR
    node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_model: str | None = None
    attained_s: float = 0.0  # service received so far, in GPU-seconds (CPU-seconds if no GPU)
    request: Resources = field(init=False, repr=False, compare=False)  # every replica together

    def __post_init__(self) -> None:
        object.__setattr__(self, "request", self.replica.times(self.count))


@dataclass(frozen=True, slots=True)
class Placed:
    """A running workload and the node of each of its replicas."""

    workload: Workload
    nodes: tuple[str, ...]
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    fair_share: bool = False  # among equal priorities, the team with the least share first
    preemption: bool = True
    backfill: bool = True  # smaller work may pass a blocked head if it cannot delay it
    # Least attained service (as Tiresias): thresholds in GPU-seconds split each priority
    # into levels; work that has had less service goes first and may preempt work of the
    # same priority that has had more. Empty: off.
    service_levels: tuple[float, ...] = ()

    def level(self, workload: Workload) -> int:
        return sum(1 for threshold in self.service_levels if workload.attained_s >= threshold)


@dataclass(frozen=True, slots=True)
class Admit:
    uid: str
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Preempt:
    uid: str
    by: str  # the uid it makes room for
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    uid: str
    position: int  # 1 = next in line
    reason: str
    # It fits on no node of this size, or not in the whole cluster: only a change of
    # capacity can alter that, whatever else happens.
    impossible: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Decisions:
    admit: list[Admit] = field(default_factory=list)
    preempt: list[Preempt] = field(default_factory=list)
    wait: list[Wait] = field(default_factory=list)
