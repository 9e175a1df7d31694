"""The order waiting work is considered in.

Higher priority first; among equal priorities the oldest first, or, with fair share, the
team with the smallest weighted dominant share first (its oldest workload). Elastic
service replicas come last: they only ever take capacity nobody else is asking for.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from sapwood.server.controller.plan.scheduler.model import Quota, Resources, Role, Workload

_EPOCH = datetime.min.replace(tzinfo=UTC)


def age_key(workload: Workload) -> tuple[datetime, str]:
    return (workload.queued_at or _EPOCH, workload.uid)


def dominant_share(usage: Resources, total: Resources, weight: float) -> float:
    """The largest fraction of any resource the team holds, divided by its weight."""
    shares = [u / t for u, t in zip(usage.values(), total.values(), strict=True) if t > 0]
    return (max(shares) if shares else 0.0) / max(weight, 1e-9)


class Queue:
    """Yields workloads in order; ``charge`` tells it what a team was just given."""

    def __init__(
        self,
        pending: Sequence[Workload],
        *,
        usage: Mapping[str, Resources],
        total: Resources,
        quotas: Mapping[str, Quota],
        fair_share: bool,
        level: Callable[[Workload], int] = lambda w: 0,
    ) -> None:
        self._usage = dict(usage)
        self._total = total
        self._quotas = quotas
        self._fair = fair_share
        regular = [w for w in pending if w.role is not Role.ELASTIC]
        elastic = [w for w in pending if w.role is Role.ELASTIC]
        self._classes: list[list[Workload]] = []
        for group in (regular, elastic):
            by_priority: dict[int, list[Workload]] = defaultdict(list)
            for workload in group:
                by_priority[workload.priority].append(workload)
            for priority in sorted(by_priority, reverse=True):
                ranked = sorted(by_priority[priority], key=lambda w: (level(w), *age_key(w)))
                self._classes.append(ranked)

    def __iter__(self) -> Iterator[Workload]:
        for members in self._classes:
            if self._fair:
                # Fair share already puts teams that hold more (borrowers) behind others.
                yield from self._fair_order(members)
                continue
            # Within a class, work that stays within its team's guarantee goes first; work
            # that would borrow follows. Otherwise a borrower preempted to give a team its
            # guarantee back, being older, would take the freed room straight back.
            later: list[Workload] = []
            for workload in members:
                if self._borrows(workload):
                    later.append(workload)
                else:
                    yield workload
            yield from later

    def _borrows(self, workload: Workload) -> bool:
        quota = self._quotas.get(workload.team)
        if quota is None:
            return False  # a team without a quota has no guarantee to protect
        used = self._usage.get(workload.team, Resources())
        return not quota.covers(used + workload.request)

    def charge(self, team: str, amount: Resources) -> None:
        self._usage[team] = self._usage.get(team, Resources()) + amount

    def _fair_order(self, members: list[Workload]) -> Iterator[Workload]:
        per_team: dict[str, deque[Workload]] = defaultdict(deque)
        for workload in members:  # already oldest first
            per_team[workload.team].append(workload)
        heap = [(self._share(team), team) for team in sorted(per_team)]
        heapq.heapify(heap)
        while heap:
            _, team = heapq.heappop(heap)
            yield per_team[team].popleft()
            if per_team[team]:
                # the share may have grown through charge() while the caller admitted it
                heapq.heappush(heap, (self._share(team), team))

    def _share(self, team: str) -> float:
        quota = self._quotas.get(team)
        weight = quota.weight if quota else 1.0
        return dominant_share(self._usage.get(team, Resources()), self._total, weight)
