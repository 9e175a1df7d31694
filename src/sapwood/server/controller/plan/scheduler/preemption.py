"""Choosing whom to preempt so a waiting workload fits: fewest victims, cheapest first.

Who may go, for a waiting workload W:
- elastic service replicas, always (inference yields to research at once);
- regular work of lower priority than W;
- when W stays within its team's guaranteed quota: regular work of teams that are
  borrowing beyond their own guarantee, whatever its priority.
Protected work (workspaces unless their spec allows) never goes. Candidates are tried
elastic first, then lowest priority, then most recently started.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

from sapwood.server.controller.plan.scheduler.model import Placed, Quota, Resources, Role, Workload
from sapwood.server.controller.plan.scheduler.placement import Cluster

_EPOCH = datetime.min.replace(tzinfo=UTC)


def borrowing(team: str, usage: Mapping[str, Resources], quotas: Mapping[str, Quota]) -> bool:
    quota = quotas.get(team) or Quota()
    return not quota.covers(usage.get(team, Resources()))


def may_preempt(
    waiting: Workload,
    victim: Placed,
    *,
    within_guarantee: bool,
    usage: Mapping[str, Resources],
    quotas: Mapping[str, Quota],
) -> bool:
    other = victim.workload
    if waiting.role is Role.ELASTIC or other.role is Role.PROTECTED or other.uid == waiting.uid:
        return False
    if other.role is Role.ELASTIC:
        return True
    if other.priority < waiting.priority:
        return True
    return within_guarantee and other.team != waiting.team and borrowing(other.team, usage, quotas)


def victim_order(placed: Placed, level: int = 0) -> tuple[int, int, int, float, str]:
    """Elastic first, then lowest priority, then the most served, then the newest."""
    started = placed.started_at or _EPOCH
    elastic_first = 0 if placed.workload.role is Role.ELASTIC else 1
    return (
        elastic_first,
        placed.workload.priority,
        -level,
        -started.timestamp(),
        placed.workload.uid,
    )


def choose_victims(
    waiting: Workload,
    candidates: Iterable[Placed],
    cluster: Cluster,
) -> tuple[list[Placed], tuple[str, ...]] | None:
    """The fewest victims (in preference order) after which ``waiting`` fits, and where.

    ``candidates`` must already be filtered with may_preempt and sorted by victim_order;
    they are consumed lazily, so a search ends as soon as enough room is found. Leaves
    ``cluster`` as it was.
    """
    short = [
        need > free
        for need, free in zip(waiting.request.values(), cluster.free_total.values(), strict=True)
    ]
    chosen: list[Placed] = []
    nodes = None
    for candidate in _useful_first(candidates, short):
        cluster.release(candidate, trial=True)
        chosen.append(candidate)
        # Placement is the costly step: try it only once the total could suffice.
        if waiting.request.fits_in(cluster.free_total):
            nodes = cluster.place(waiting)
            if nodes is not None:
                break
    if nodes is None:
        _restore(cluster, chosen)
        return None
    # Drop any victim whose room turned out not to be needed, last added kept longest.
    for candidate in list(chosen[:-1]):
        cluster.commit(candidate.workload, candidate.nodes, trial=True)
        still = cluster.place(waiting)
        if still is None:
            cluster.release(candidate, trial=True)
        else:
            chosen.remove(candidate)
            nodes = still
    _restore(cluster, chosen)
    return chosen, nodes


def _useful_first(candidates: Iterable[Placed], short: list[bool]) -> Iterator[Placed]:
    """Within each tier (elastic replicas, then the rest), victims holding what the cluster
    is short of come first; the others may still be needed on a particular node, so they
    follow before the next tier starts. Elastic replicas always go before regular work."""
    if not any(short):
        yield from candidates
        return
    later: list[Placed] = []
    tier = Role.ELASTIC
    for candidate in candidates:
        role = Role.ELASTIC if candidate.workload.role is Role.ELASTIC else Role.REGULAR
        if role is not tier:
            yield from later
            later, tier = [], role
        values = candidate.workload.request.values()
        if any(s and v > 0 for s, v in zip(short, values, strict=True)):
            yield candidate
        else:
            later.append(candidate)
    yield from later


def _restore(cluster: Cluster, released: list[Placed]) -> None:
    for placed in released:
        cluster.commit(placed.workload, placed.nodes, trial=True)
