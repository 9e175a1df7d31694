"""observe() from the informers' caches: the latest run of each unit (a live pod, or the
last copy of one deleted by someone else), read with what the cluster says about its node
and its volumes, and the finalizers of ends already reported released (runtime.py's
docstring says why the finalizer exists and how long it is held)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sapwood.server.runtimes.base import RuntimeFailure, RuntimeTemporaryError, UnitKey, UnitState
from sapwood.server.runtimes.kubernetes import manifests as m
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.endings import (
    ClusterSignals,
    holds_finalizer,
    is_attaching,
    looks_unwell,
    release,
)
from sapwood.server.runtimes.kubernetes.informer import PodInformer
from sapwood.server.runtimes.kubernetes.log_archive import keep_log
from sapwood.server.runtimes.kubernetes.states import PodContext, is_exited, pod_to_state

log = logging.getLogger("sapwood.runtime.kubernetes")

Obj = dict[str, Any]

SYNC_TIMEOUT_S = 10.0


def is_current(pod: Obj) -> bool:
    return (pod["metadata"].get("labels") or {}).get(m.RUN_LABEL) == "current"


async def synced(informer: PodInformer) -> None:
    """Returns once the informer serves a listed cache; else RuntimeTemporaryError naming
    why (its watch failed and is being restarted, or the first list is slow)."""
    informer.ensure_running()
    if informer.synced.is_set():
        return
    if informer.error is None:
        await asyncio.to_thread(informer.synced.wait, SYNC_TIMEOUT_S)
        if informer.synced.is_set():
            return
    cause = f": {informer.error}; watching again" if informer.error else " yet"
    raise RuntimeTemporaryError(f"pods in {informer.namespace} not listed{cause}")


def latest_runs(informers: list[PodInformer]) -> dict[UnitKey, tuple[Obj, bool]]:
    """Each unit's current pod of the highest run, and whether it is live (else the last
    copy of a pod deleted by someone else); a live pod wins over a copy of the same run."""
    latest: dict[UnitKey, tuple[tuple[int, bool], Obj]] = {}
    for informer in informers:
        seen = [(p, True) for p in informer.pods()] + [(p, False) for p in informer.gone()]
        for pod, live in seen:
            key = m.key_of(pod)
            if key is None or not is_current(pod):
                continue
            rank = (m.run_number(pod), live)
            if key not in latest or latest[key][0] < rank:
                latest[key] = (rank, pod)
    return {key: (pod, rank[1]) for key, (rank, pod) in latest.items()}


async def unit_states(
    latest: dict[UnitKey, tuple[Obj, bool]], signals: ClusterSignals
) -> list[UnitState]:
    """The states of `latest`, asking the cluster about nodes only when a pod looks unwell
    and about events only for pods waiting for a volume."""
    unwell = any(not live or looks_unwell(pod) for pod, live in latest.values())
    lost = await signals.lost_nodes() if unwell else {}
    states = []
    for pod, live in latest.values():
        attach = None
        if live and is_attaching(pod):
            errors = await signals.attach_errors(pod["metadata"]["namespace"])
            attach = errors.get(pod["metadata"]["name"])
        context = PodContext(
            node_lost_since=lost.get(pod["spec"].get("nodeName") or ""),
            attach_error=attach,
            gone=not live,
        )
        state = pod_to_state(pod, context)
        if state is not None:
            states.append(state)
    return sorted(states, key=lambda state: state.key)


async def release_accounted(
    kube: KubeClient, informers: list[PodInformer], reported: set[str]
) -> None:
    """Releases the finalizer of exited pods whose end is in `reported` (uids an earlier
    observe() returned) or that are no longer current; a failure is retried next time."""
    for informer in informers:
        for pod in informer.pods():
            uid = str(pod["metadata"].get("uid"))
            if not holds_finalizer(pod) or not is_exited(pod):
                continue
            if is_current(pod) and uid not in reported:
                continue
            if pod["metadata"].get("deletionTimestamp"):
                # Deleted by someone else (kubectl, a drain, the namespace going): its log
                # goes with it once the finalizer does, so keep a copy first.
                await keep_log(kube, pod, today=datetime.now(UTC).date())
            try:
                released = await release(kube, pod)
            except RuntimeFailure as error:
                log.warning("releasing pod %s failed: %s", pod["metadata"]["name"], error)
                continue
            reported.discard(uid)
            if released is not None:
                informer.upsert(released)


def note_reported(latest: dict[UnitKey, tuple[Obj, bool]], reported: set[str]) -> None:
    """Remembers the exited pods about to be returned: the next pass may release them."""
    for pod, live in latest.values():
        if live and is_exited(pod) and holds_finalizer(pod):
            reported.add(str(pod["metadata"].get("uid")))
