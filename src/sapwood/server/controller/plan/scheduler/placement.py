"""Where replicas go: best fit on GPUs (so GPU nodes do not fragment), first fit on the rest.

``Cluster`` is scratch state for one scheduling cycle: free capacity per node, indexed
by free GPU count so a search touches few nodes even with thousands of them.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence

from sapwood.server.controller.plan.scheduler.model import (
    NOTHING,
    Node,
    Placed,
    Resources,
    Workload,
)


class Cluster:
    def __init__(self, nodes: Sequence[Node], running: Iterable[Placed]) -> None:
        self.nodes = {n.name: n for n in nodes}
        self._order = {n.name: i for i, n in enumerate(nodes)}
        self.free = {n.name: n.allocatable for n in nodes}
        for placed in running:
            for name in placed.nodes:
                if name in self.free:
                    self.free[name] = self.free[name] - placed.workload.replica
        self.total = sum((n.allocatable for n in nodes), NOTHING)
        self.free_total = sum(self.free.values(), NOTHING)
        self._names = [n.name for n in nodes]
        self._version = 0  # bumped by commit and release (place() always restores)
        self._free_cache: dict[tuple[object, int], Resources] = {}
        self._size_cache: dict[object, Resources | None] = {}
        # free GPU count -> indices of the nodes with that many, ascending (deterministic)
        self._by_gpus: dict[int, list[int]] = {}
        for index, name in enumerate(self._names):
            self._by_gpus.setdefault(self.free[name].gpus, []).append(index)

    @property
    def version(self) -> int:
        """Changes whenever free capacity does."""
        return self._version

    def place(self, workload: Workload) -> tuple[str, ...] | None:
        """Nodes for every replica, or None; the cluster is left as it was."""
        if not workload.request.fits_in(self.free_total):
            return None
        chosen: list[str] = []
        for _ in range(workload.count):
            name = self._best_node(workload)
            if name is None:
                for taken in chosen:
                    self._give(taken, workload.replica)
                return None
            self._take(name, workload.replica)
            chosen.append(name)
        for taken in chosen:
            self._give(taken, workload.replica)
        return tuple(chosen)

    def commit(self, workload: Workload, nodes: Sequence[str], *, trial: bool = False) -> None:
        """Takes the room; ``trial`` marks a step that will be undone before anyone looks."""
        self._version += 0 if trial else 1
        for name in nodes:
            self._take(name, workload.replica)

    def release(self, placed: Placed, *, trial: bool = False) -> None:
        self._version += 0 if trial else 1
        for name in placed.nodes:
            if name in self.free:
                self._give(name, placed.workload.replica)

    def largest_free(self, workload: Workload) -> Resources:
        """Per dimension, the most any one eligible node has free (for wait reasons)."""
        key = (_eligibility(workload), self._version)
        if key not in self._free_cache:
            best = [0, 0, 0]
            for name, free in self.free.items():
                if eligible(self.nodes[name], workload):
                    best = [max(b, v) for b, v in zip(best, free.values(), strict=True)]
            self._free_cache = {key: Resources(*best)}  # one version is ever useful
        return self._free_cache[key]

    def largest_node(self, workload: Workload) -> Resources | None:
        """Per dimension, the largest eligible node; None when no node is eligible."""
        key = _eligibility(workload)
        if key not in self._size_cache:
            sizes = [n.allocatable for n in self.nodes.values() if eligible(n, workload)]
            self._size_cache[key] = (
                Resources(*(max(v) for v in zip(*(s.values() for s in sizes), strict=True)))
                if sizes
                else None
            )
        return self._size_cache[key]

    def _best_node(self, workload: Workload) -> str | None:
        need = workload.replica
        for gpus in sorted(g for g in self._by_gpus if g >= need.gpus):
            for index in self._by_gpus[gpus]:
                name = self._names[index]
                if need.fits_in(self.free[name]) and eligible(self.nodes[name], workload):
                    return name
        return None

    def _take(self, name: str, amount: Resources) -> None:
        self._move(name, self.free[name] - amount)
        self.free_total = self.free_total - amount

    def _give(self, name: str, amount: Resources) -> None:
        self._move(name, self.free[name] + amount)
        self.free_total = self.free_total + amount

    def _move(self, name: str, free: Resources) -> None:
        old = self.free[name].gpus
        self.free[name] = free
        if free.gpus != old:
            index = self._order[name]
            bucket = self._by_gpus[old]
            del bucket[bisect_left(bucket, index)]
            if not bucket:
                del self._by_gpus[old]
            insort(self._by_gpus.setdefault(free.gpus, []), index)


def eligible(node: Node, workload: Workload) -> bool:
    """The node satisfies the workload's node selector and GPU model."""
    if workload.gpu_model is not None and node.gpu_model != workload.gpu_model:
        return False
    return all(node.labels.get(k) == v for k, v in workload.node_selector.items())


def _eligibility(workload: Workload) -> tuple[frozenset[tuple[str, str]], str | None]:
    return (frozenset(workload.node_selector.items()), workload.gpu_model)
