"""The overview's figures: capacity, allocated and used per resource, per node and per team.

Pure: the dashboard and the Slack app load rows and the runtime's capacity, these functions
add them up. A figure nobody measured stays None and is shown as "unknown", never as zero;
a sum over workloads of which only some were measured is the sum of what was measured,
marked "partial: n of m measured".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sapwood.specs.quantity import parse_cpu, parse_memory

RESOURCES = ("cpu", "memory", "gpu")
# Utilisation series (observe/utilisation.py writes them; docs/utilisation.md) and how
# each becomes an amount: CPU percent of one core to millicores, GPU percent to GPUs.
USED_SERIES: Mapping[str, tuple[str, float]] = {
    "cpu": ("sapwood.cpu_percent", 10.0),
    "memory": ("sapwood.memory_bytes", 1.0),
    "gpu": ("sapwood.gpu_percent", 0.01),
}


@dataclass(frozen=True)
class Holding:
    """One workload holding resources: what the scheduler allocated it, what it last used."""

    team: str
    allocated: Mapping[str, int]  # cpu millicores, memory bytes, gpu count
    used: Mapping[str, float | None]


@dataclass(frozen=True)
class Bar:
    """One resource's row: capacity (the scale), allocated and used; None is unknown.

    ``used`` sums the ``measured`` of the ``holders`` workloads that reported a value."""

    resource: str
    capacity: float | None
    allocated: float | None
    used: float | None
    measured: int = 0
    holders: int = 0

    @property
    def partial(self) -> bool:
        """True when some workloads but not all reported their use."""
        return 0 < self.measured < self.holders

    def used_text(self) -> str:
        """The used figure, saying how much of it was measured when not all of it was."""
        text = self.text(self.used)
        if self.partial:
            return f"{text} (partial: {self.measured} of {self.holders} measured)"
        return text

    def percent(self, value: float | None) -> float:
        """Width of a bar segment in percent of the scale, 0 when either is unknown."""
        if value is None or not self.capacity:
            return 0.0
        return max(0.0, min(100.0, value / self.capacity * 100))

    def text(self, value: float | None) -> str:
        return amount_text(self.resource, value)


@dataclass(frozen=True)
class Group:
    """A node or a team with its bars; ``note`` says what the scale is."""

    name: str
    bars: list[Bar]
    note: str = ""
    workloads: int = 0
    extra: list[str] = field(default_factory=list)


def amount_text(resource: str, value: float | None) -> str:
    """A figure for people: cores with two decimals, memory in binary units, GPUs."""
    if value is None:
        return "unknown"
    if resource == "cpu":
        cores = value / 1000
        return f"{cores:.2f}".rstrip("0").rstrip(".") + (" core" if cores == 1 else " cores")
    if resource == "memory":
        size, unit = float(value), "B"
        for bigger in ("KiB", "MiB", "GiB", "TiB"):
            if size < 1024:
                break
            size, unit = size / 1024, bigger
        return f"{size:.0f} {unit}" if unit == "B" or size >= 100 else f"{size:.1f} {unit}"
    return f"{value:.2f}".rstrip("0").rstrip(".") + " GPU"


def allocated_of(status: Mapping[str, object]) -> dict[str, int]:
    """What a status says the scheduler allocated; zeros when it says nothing readable."""
    raw = status.get("allocated")
    if not isinstance(raw, Mapping):
        return {r: 0 for r in RESOURCES}
    try:
        return {
            "cpu": parse_cpu(raw.get("cpu", 0)),
            "memory": parse_memory(raw.get("memory", 0)),
            "gpu": int(raw.get("gpu", 0) or 0),
        }
    except (TypeError, ValueError):
        return {r: 0 for r in RESOURCES}


def used_of(latest: Mapping[str, float], allocated: Mapping[str, int]) -> dict[str, float | None]:
    """Usage from a workload's newest utilisation values; None where no series exists.

    A workload given no GPU uses none, so a missing GPU series then means 0, not unknown.
    """
    out: dict[str, float | None] = {}
    for resource, (series, scale) in USED_SERIES.items():
        value = latest.get(series)
        if value is None and resource == "gpu" and not allocated.get("gpu"):
            value = 0.0
        out[resource] = None if value is None else value * scale
    return out


def sum_used(holdings: list[Holding], resource: str) -> tuple[float | None, int]:
    """The sum of what was measured and how many holdings were measured. The sum is 0 for
    no holdings and None (unknown) when holdings exist but none was measured; a workload
    without a sample never makes the others' figures unknown."""
    values = [v for v in (h.used.get(resource) for h in holdings) if v is not None]
    if holdings and not values:
        return None, 0
    return float(sum(values)), len(values)


def _bars(holdings: list[Holding], capacity: Mapping[str, float | None]) -> list[Bar]:
    bars = []
    for r in RESOURCES:
        used, measured = sum_used(holdings, r)
        bars.append(
            Bar(
                resource=r,
                capacity=capacity.get(r),
                allocated=float(sum(h.allocated.get(r, 0) for h in holdings)),
                used=used,
                measured=measured,
                holders=len(holdings),
            )
        )
    return bars


def node_groups(
    node: str | None, capacity: Mapping[str, float] | None, holdings: list[Holding]
) -> list[Group]:
    """Per node. The local runtime is one node holding everything admitted."""
    if node is None or capacity is None:
        return []
    return [Group(node, _bars(holdings, capacity), "scale: allocatable capacity", len(holdings))]


def team_groups(
    teams: Iterable[str],
    holdings: list[Holding],
    guaranteed: Mapping[str, Mapping[str, float]],
    cluster: Mapping[str, float] | None,
) -> list[Group]:
    """Per team, scaled by its guaranteed quota where it has one, else by the cluster."""
    out = []
    for team in sorted(set(teams)):
        mine = [h for h in holdings if h.team == team]
        quota = guaranteed.get(team)
        scale: Mapping[str, float | None] = quota or cluster or {}
        note = "scale: guaranteed quota" if quota else "scale: cluster capacity (no quota)"
        if not quota and cluster is None:
            note = "scale unknown: no quota and no controller"
        out.append(Group(team, _bars(mine, scale), note, len(mine)))
    return out


def total_bars(capacity: Mapping[str, float] | None, holdings: list[Holding]) -> list[Bar]:
    return _bars(holdings, capacity or {})
