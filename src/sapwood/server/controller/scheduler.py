"""Admission: which waiting workloads start now. A pure function over plain data.

This is first-come-first-served by free capacity. The scheduler issue replaces the
policy behind `admit` without touching runtimes or reconcilers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sapwood.specs.quantity import format_cpu, format_memory


@dataclass(frozen=True)
class Request:
    """Resources in the units every runtime reports (millicores, bytes, devices)."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0

    def __add__(self, other: Request) -> Request:
        return Request(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.gpus + other.gpus,
        )

    def __sub__(self, other: Request) -> Request:
        return Request(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.gpus - other.gpus,
        )

    def times(self, count: int) -> Request:
        return Request(self.cpu_millis * count, self.memory_bytes * count, self.gpus * count)

    def fits_in(self, free: Request) -> bool:
        return (
            self.cpu_millis <= free.cpu_millis
            and self.memory_bytes <= free.memory_bytes
            and self.gpus <= free.gpus
        )


@dataclass(frozen=True)
class Waiting:
    """A workload asking to start: all its replicas at once (a gang)."""

    uid: str
    ref: str  # "job/research/train", for messages
    request: Request
    queued_at: datetime


@dataclass(frozen=True)
class Admitted:
    uid: str


@dataclass(frozen=True)
class Waits:
    uid: str
    reason: str


Decision = Admitted | Waits


def admit(waiting: list[Waiting], *, capacity: Request, allocated: Request) -> list[Decision]:
    """One decision per waiting workload, oldest first; deterministic for the same input.

    A workload starts when its whole request fits in what is free after those admitted
    before it; one that can never fit says so rather than waiting forever.
    """
    free = capacity - allocated
    decisions: list[Decision] = []
    for item in sorted(waiting, key=lambda w: (w.queued_at, w.uid)):
        if not item.request.fits_in(capacity):
            decisions.append(
                Waits(
                    item.uid,
                    f"needs {_words(item.request)}, more than the "
                    f"whole capacity ({_words(capacity)})",
                )
            )
        elif item.request.fits_in(free):
            free = free - item.request
            decisions.append(Admitted(item.uid))
        else:
            decisions.append(
                Waits(
                    item.uid,
                    f"waiting for capacity: needs {_words(item.request)}, free {_words(free)}",
                )
            )
    return decisions


def _words(request: Request) -> str:
    parts = [
        f"{format_cpu(max(request.cpu_millis, 0))} cpu",
        f"{format_memory(max(request.memory_bytes, 0))} memory",
    ]
    if request.gpus:
        parts.append(f"{request.gpus} gpu")
    return ", ".join(parts)
