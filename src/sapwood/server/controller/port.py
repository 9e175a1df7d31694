"""What the rest of the server may ask of the controller, and nothing more.

Services, routes and the dashboard hold a ``ControllerPort``, never the manager: they wake
it after a write, read a replica's logs, show the runtime's capacity and name, and export
the figures of its passes. They never reach the runtime itself, so the manager can change
how it runs (or a test can stand in for it) without them noticing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from sapwood.server.units import Capacity


@dataclass(frozen=True)
class ControllerFigures:
    """How many passes the controller started, how many it timed, and the most recent
    durations (seconds, oldest first): what ``/metrics`` exports."""

    passes: int = 0
    passes_timed: int = 0
    pass_durations_s: tuple[float, ...] = ()


class ReadPort(Protocol):
    """What any server replica may read of the runtime: the leader through its
    controller, a follower through a runtime it only reads (reads.RuntimeReader)."""

    @property
    def runtime_name(self) -> str:
        """The runtime's name ("local", "kubernetes", ...): where the units run."""
        ...

    def logs(
        self, kind: str, team: str, name: str, *, replica: int, follow: bool, previous: bool
    ) -> AsyncIterator[bytes]:
        """One replica's output."""
        ...

    async def capacity(self) -> Capacity:
        """What the runtime can allocate in total (not what is free)."""
        ...


class ControllerPort(ReadPort, Protocol):
    """The narrow face of the controller (ControllerManager satisfies it)."""

    def wake(self, kind: str = "") -> None:
        """Asks for a pass soon, after a write of an object of ``kind``."""
        ...

    def figures(self) -> ControllerFigures:
        """The pass figures, read now."""
        ...
