"""The plain data the controller and every runtime share about units: a unit's identity
(UnitKey), what to start (UnitSpec), what was observed (UnitState, UnitPhase, UnitReason),
and what a runtime offers (Capacity, UnitUsage).

A neutral module: it imports nothing from other server packages, so the controller's pure
planners (``controller.plan``) use these types without importing a runtime, and every
runtime and ``sapwood.testing.FakeRuntime`` share them (``runtimes.base`` re-exports them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sapwood.specs.probes import Probe

_UNSAFE = re.compile(r"[^a-z0-9-]")


@dataclass(frozen=True, order=True)
class UnitKey:
    """One replica of one object: the identity of a unit across server restarts."""

    kind: str  # "Job" | "Service" | "Workspace" | "Feed"
    team: str
    name: str
    replica: int = 0

    def slug(self) -> str:
        """A filesystem- and process-safe id, e.g. "job.research.train.0".

        Names are DNS labels, so the slug is injective for valid keys; any other character
        is replaced by "_" (dots included) so a slug never escapes its directory.
        """
        parts = (self.kind.lower(), self.team.lower(), self.name.lower())
        safe = [_UNSAFE.sub("_", part) for part in parts]
        return ".".join([*safe, str(self.replica)])


@dataclass(frozen=True)
class VolumeMount:
    """A named, team-owned volume made available to a unit.

    `path` is where the workload sees the volume where the runtime can mount it (Kubernetes);
    the local runtime cannot mount, so it exports the host directory itself as
    `SAPWOOD_VOLUME_<NAME>` and ignores `path`.
    """

    name: str
    path: str


@dataclass(frozen=True)
class ImageProgram:
    """How a unit that runs one of Sapwood's own programs (the model server, the feed
    worker, JupyterLab) runs in a container image, where the server's interpreter path and
    loopback address mean nothing: `command` with no host paths, listening on every
    interface, and `image`, which of the runtime's images holds the program ("server" or
    "jupyter"). Runtimes without images ignore it."""

    command: tuple[str, ...]
    image: str  # "server" | "jupyter"


@dataclass(frozen=True)
class UnitSpec:
    """Everything a runtime needs to start one unit; built by the controller."""

    key: UnitKey
    command: tuple[str, ...]
    env: Mapping[str, str]  # merged on top of the server env; the runtime adds PORT
    workdir: str | None = None
    cpu_millis: int = 0  # 1000 = one core; 0 = no CPU request
    memory_bytes: int = 0  # 0 = no limit
    gpus: int = 0
    wants_port: bool = False  # the runtime assigns a free 127.0.0.1 port, exported as PORT
    volumes: tuple[VolumeMount, ...] = ()
    grace_period_s: float = 30.0
    generation: int = 1  # spec generation this unit was started for; observe() returns it
    image: str | None = None  # the container image (Kubernetes); None: the runtime's default
    # Placement and health, applied where the runtime can (Kubernetes); others ignore them.
    node_selector: Mapping[str, str] = field(default_factory=dict)  # only nodes with these labels
    gpu_model: str | None = None  # only nodes with this GPU model (a node label value)
    priority_class: str | None = None  # the spec's priority name, e.g. "normal"
    # The Service's probes as declared: the Kubernetes runtime renders them into the pod,
    # the local runtime leaves them to the controller's prober.
    readiness: Probe | None = None
    liveness: Probe | None = None
    program: ImageProgram | None = None  # set when the command is Sapwood's own program


class UnitPhase(StrEnum):
    RUNNING = "Running"
    EXITED = "Exited"


class UnitReason(StrEnum):
    """Why an EXITED unit ended. `UnitState.reason` holds one of these values."""

    COMPLETED = "Completed"  # exit code 0
    ERROR = "Error"  # non-zero exit code
    OOM_KILLED = "OOMKilled"  # killed by the kernel for exceeding its memory limit
    COMMAND_NOT_FOUND = "CommandNotFound"
    KILLED = "Killed"  # ended by a signal nobody in Sapwood sent, or its supervisor vanished
    STOPPED = "Stopped"  # ended by Runtime.stop()
    EVICTED = "Evicted"  # Kubernetes: evicted from its node (pressure, drain)
    # Kubernetes: on a RUNNING unit, its node stopped reporting (it may still run there);
    # on an EXITED one, its pod was force-deleted or went while its node was lost.
    NODE_LOST = "NodeLost"


@dataclass(frozen=True)
class UnitState:
    """What a runtime observed about one unit. Times are timezone-aware UTC."""

    key: UnitKey
    phase: UnitPhase
    pid: int | None
    started_at: datetime
    generation: int
    port: int | None
    exit_code: int | None = None  # a signal N is reported as 128 + N, as shells do
    reason: str | None = None  # a UnitReason value once EXITED
    finished_at: datetime | None = None
    cpu_set: tuple[int, ...] = ()  # cores given exclusively to this unit, empty when shared
    limits_enforced_by: str = ""  # "cgroup-v2" | "cgroup-v1" | "rlimit" | "none"
    isolated_by: str = ""  # local: "uid+namespaces" | "namespaces" | "none"; "" elsewhere
    gpu_indices: tuple[int, ...] = field(default=())
    # Kubernetes: on a RUNNING unit, `reason` may say why it is not running yet
    # ("Unschedulable", "ImagePullBackOff", ...) and `message` gives the cluster's words.
    message: str | None = None
    host: str = "127.0.0.1"  # where `port` listens (a pod's IP on Kubernetes)


@dataclass(frozen=True)
class Capacity:
    """What a runtime can allocate in total, after the system reserve (not what is free)."""

    cpu_millis: int
    memory_bytes: int
    gpus: int
    gpu_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitUsage:
    """What one running unit uses right now, summed over its processes (or containers)."""

    cpu_percent: float  # 100 = one full core, averaged since the previous usage() call
    memory_bytes: int  # resident set size
    gpu_percent: float | None = None  # None: the unit has no GPUs, or they cannot be read
    gpu_memory_bytes: int | None = None
