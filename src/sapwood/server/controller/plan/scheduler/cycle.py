"""One scheduling cycle: (pending, running, nodes, quotas, clock) -> decisions. Pure.

The server's controller, the tests and the benchmarks all call this same function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from sapwood.server.controller.plan.scheduler import reasons
from sapwood.server.controller.plan.scheduler.model import (
    NOTHING,
    Admit,
    Decisions,
    Node,
    Placed,
    Policy,
    Preempt,
    Quota,
    Resources,
    Role,
    Wait,
    Workload,
)
from sapwood.server.controller.plan.scheduler.placement import Cluster
from sapwood.server.controller.plan.scheduler.preemption import (
    choose_victims,
    may_preempt,
    victim_order,
)
from sapwood.server.controller.plan.scheduler.queue import Queue

NO_ROOM = "\0no-room"


def schedule(
    pending: Sequence[Workload],
    running: Sequence[Placed],
    nodes: Sequence[Node],
    quotas: Mapping[str, Quota],
    *,
    now: datetime,
    policy: Policy = Policy(),
) -> Decisions:
    """Admit (with a node per replica), preempt, or keep waiting with a reason.

    Deterministic for the same input. Never over-commits a node, never takes a team past
    its ``max``, admits a gang whole or not at all. Preempted workloads are still in
    ``running`` until the caller stops them; the workload they make room for is admitted
    by a later cycle, and meanwhile their room is held for it.
    """
    cluster = Cluster(nodes, running)
    usage: dict[str, Resources] = defaultdict(Resources)
    for placed in running:
        usage[placed.workload.team] += placed.workload.request
    live = sorted(running, key=lambda p: victim_order(p, policy.level(p.workload)))
    queue = Queue(
        pending,
        usage=usage,
        total=cluster.total,
        quotas=quotas,
        fair_share=policy.fair_share,
        level=policy.level,
    )
    decisions = Decisions()
    reserved = NOTHING  # held for the blocked head of the queue (conservative backfill)
    head: Workload | None = None
    waits: list[tuple[Workload, str]] = []
    impossibles: set[str] = set()
    futile: dict[tuple[object, ...], int] = {}
    gone: set[str] = set()  # preempted this cycle: no longer candidates

    for workload in queue:
        quota = quotas.get(workload.team, Quota())
        used = usage[workload.team]
        if quota.max is not None and not (used + workload.request).fits_in(quota.max):
            waits.append(
                (workload, reasons.over_quota(workload.team, used, workload.request, quota.max))
            )
            continue
        impossible = reasons.never_fits(workload, cluster.largest_node(workload))
        if impossible is None and not workload.request.fits_in(cluster.total):
            impossible = reasons.beyond_cluster(workload, cluster.total)
        if impossible:
            waits.append((workload, impossible))
            impossibles.add(workload.uid)
            continue
        if head is not None and not policy.backfill:
            waits.append((workload, f"waiting behind {head.ref}"))
            continue
        placement = None
        if workload.request.fits_in(cluster.free_total - reserved):
            placement = cluster.place(workload)
        if placement is not None:
            cluster.commit(workload, placement)
            usage[workload.team] += workload.request
            queue.charge(workload.team, workload.request)
            decisions.admit.append(Admit(workload.uid, placement))
            continue
        held_only = not reserved.empty and cluster.place(workload) is not None
        if policy.preemption and not held_only:
            # (Work that would fit but for the room held for the head waits: it must not
            # preempt anyone to get around that reservation.)
            within = quota.covers(used + workload.request)
            # A shape that found no victims finds none again until the cluster changes.
            team = workload.team if within else None  # the team matters only when reclaiming
            shape = (
                workload.priority,
                workload.replica,
                workload.count,
                within,
                team,
                frozenset(workload.node_selector.items()),
                workload.gpu_model,
            )
            found = None
            if futile.get(shape) != cluster.version:
                candidates = _candidates(
                    workload, live, gone, within=within, usage=usage, quotas=quotas, policy=policy
                )
                found = choose_victims(workload, candidates, cluster)
                if found is None:
                    futile[shape] = cluster.version
            if found is not None:
                victims, placement = found
                # Hold everything the workload will need, including free room beside the
                # victims', while the victims keep theirs until they have stopped: nobody
                # else gets any of it this cycle, and a later cycle admits the workload.
                for victim in victims:
                    cluster.release(victim)
                cluster.commit(workload, placement)
                for victim in victims:
                    cluster.commit(victim.workload, victim.nodes)
                _preempt(decisions, workload, victims, gone)
                usage[workload.team] += workload.request
                queue.charge(workload.team, workload.request)
                names = ", ".join(v.workload.ref for v in victims)
                waits.append(
                    (workload, f"waiting for {len(victims)} preempted workload(s) to stop: {names}")
                )
                continue
        note = ""
        if head is None and workload.role is not Role.ELASTIC:
            head = workload
            reserved = workload.request.clamp(cluster.free_total)
        elif head is not None:
            note = f" (room is held for {head.ref}, first in line)"
        waits.append((workload, NO_ROOM + note))

    # Reasons for want of room are worded once, against the capacity left at the end.
    for position, (workload, reason) in enumerate(waits, start=1):
        if reason.startswith(NO_ROOM):
            free = cluster.largest_free(workload)
            words = reasons.no_room(workload, free, cluster.free_total)
            reason = words + reason.removeprefix(NO_ROOM)
        decisions.wait.append(
            Wait(workload.uid, position, reason, impossible=workload.uid in impossibles)
        )
    return decisions


def _preempt(
    decisions: Decisions, workload: Workload, victims: list[Placed], gone: set[str]
) -> None:
    for victim in victims:
        gone.add(victim.workload.uid)
        why = (
            "elastic replica reclaimed"
            if victim.workload.role is Role.ELASTIC
            else (
                f"priority {victim.workload.priority} < {workload.priority}"
                if victim.workload.priority < workload.priority
                else f"team {victim.workload.team} is borrowing beyond its guarantee"
            )
        )
        decisions.preempt.append(
            Preempt(victim.workload.uid, workload.uid, f"preempted by {workload.ref} ({why})")
        )


def _candidates(
    workload: Workload,
    live: list[Placed],
    gone: set[str],
    *,
    within: bool,
    usage: Mapping[str, Resources],
    quotas: Mapping[str, Quota],
    policy: Policy,
) -> Iterator[Placed]:
    """Who may be preempted for ``workload``, cheapest first, lazily.

    ``live`` is sorted by victim_order: elastic first, then by rising priority, so the
    candidates by priority are a prefix; only reclaiming a guarantee needs a full scan.
    """
    if workload.role is Role.ELASTIC:
        return
    for placed in live:
        other = placed.workload
        if other.uid in gone:
            continue
        # Past the waiting work's priority (or, without service levels, at it) nobody is a
        # candidate any more, unless a guarantee is being reclaimed.
        beyond = other.priority >= workload.priority + (1 if policy.service_levels else 0)
        if not within and other.role is not Role.ELASTIC and beyond:
            return
        if may_preempt(workload, placed, within_guarantee=within, usage=usage, quotas=quotas):
            yield placed
        elif (
            other.priority == workload.priority
            and other.role is Role.REGULAR
            and policy.level(other) > policy.level(workload)
        ):
            yield placed  # it has had more service than the waiting work (service levels)
