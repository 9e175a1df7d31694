"""The Runtime protocol: the one seam between controllers and whatever runs workloads.

A runtime turns decisions into processes (or pods) and reports what it sees. It knows
nothing about quotas, priorities or restart policies: the controller decides, the runtime
acts. Every call is idempotent and returns quickly; failures are translated here into
`RuntimeTemporaryError` (retry later) or `RuntimePermanentError` (give up).

The unit data types (UnitKey, UnitSpec, UnitState, ...) live in `sapwood.server.units`,
where the controller's pure planners reach them without importing a runtime; they are
re-exported here for the runtimes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from sapwood.server.units import (
    Capacity,
    ImageProgram,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
    UnitState,
    UnitUsage,
    VolumeMount,
)

__all__ = [
    "Capacity",
    "ImageProgram",
    "Runtime",
    "RuntimeFailure",
    "RuntimePermanentError",
    "RuntimeTemporaryError",
    "UnitKey",
    "UnitPhase",
    "UnitReason",
    "UnitSpec",
    "UnitState",
    "UnitUsage",
    "VolumeMount",
]


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
