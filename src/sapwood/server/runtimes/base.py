"""The Runtime protocol: the one seam between controllers and whatever runs workloads.

A runtime turns decisions into processes (or pods) and reports what it sees. It knows
nothing about quotas, priorities or restart policies: the controller decides, the runtime
acts. Every call is idempotent and returns quickly; failures are translated here into
`RuntimeTemporaryError` (retry later) or `RuntimePermanentError` (give up).

This module holds plain dataclasses only and imports nothing from other server packages,
so every runtime, the controller and `sapwood.testing.FakeRuntime` can share it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

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
    readiness: Mapping[str, Any] | None = None  # a probe in Kubernetes form (`httpGet`, ...)
    liveness: Mapping[str, Any] | None = None
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


class RuntimeFailure(Exception):  # noqa: N818 - the base is named by role, errors below
    """Base of every error a runtime raises (named so it does not shadow RuntimeError)."""


class RuntimeTemporaryError(RuntimeFailure):
    """The call may succeed later (resources busy, supervisor slow to start): retry."""


class RuntimePermanentError(RuntimeFailure):
    """The call will never succeed as given; `reason` is a UnitReason-style word."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@runtime_checkable
class Runtime(Protocol):
    """Runs units and reports on them. All calls are idempotent and return quickly."""

    name: str

    async def capacity(self) -> Capacity:
        """Allocatable resources after the system reserve."""
        ...

    async def start(self, unit: UnitSpec) -> UnitState:
        """Start a unit; returns its RUNNING state.

        Idempotent: if `unit.key` is already running, returns its current state and starts
        nothing. A key whose previous run has EXITED (and was not forgotten) is started
        again; its previous log becomes the `previous=True` log. Raises
        RuntimePermanentError(reason="CommandNotFound") when the command does not exist,
        RuntimeTemporaryError when resources (cores, GPUs) are not free right now.
        """
        ...

    async def stop(self, key: UnitKey, *, grace_period_s: float | None = None) -> None:
        """Stop a unit and every process it made; returns once they are all gone.

        Sends SIGTERM, waits the grace period (the unit's own when None), then SIGKILLs the
        whole tree. Idempotent: an unknown or exited key is a no-op. The unit stays
        observable as EXITED with reason "Stopped" until forget().
        """
        ...

    async def forget(self, key: UnitKey) -> None:
        """Drop an exited unit's record; its logs are kept. No-op for unknown keys.

        Raises RuntimeTemporaryError if the unit is still running (stop it first).
        """
        ...

    async def observe(self) -> list[UnitState]:
        """Every unit the runtime knows: running, or exited and not yet forgotten."""
        ...

    async def usage(self) -> dict[UnitKey, UnitUsage]:
        """Current usage of every RUNNING unit the runtime can measure.

        CPU is averaged over the time since the previous call (since the unit started on
        the first one). A unit it cannot measure right now is left out, not reported as 0.
        """
        ...

    def logs(
        self, key: UnitKey, *, follow: bool = False, previous: bool = False
    ) -> AsyncIterator[bytes]:
        """The unit's combined stdout and stderr, in chunks.

        follow=False yields what is there and ends; follow=True keeps yielding new output,
        across restarts of the same key, until the caller stops iterating. previous=True
        reads the run before the current one. An unknown key yields nothing.
        """
        ...

    async def close(self) -> None:
        """Release the runtime's own resources. Never stops workloads: they outlive it."""
        ...
