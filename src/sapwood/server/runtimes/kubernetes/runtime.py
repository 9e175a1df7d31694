"""`KubernetesRuntime`: the Runtime protocol over a cluster, one Pod per unit run (for a
Sapwood Job, the Pod of a `batch/v1` Job made for that run: jobs.py).

What each call does (manifests.py explains the mapping):

- start: ensure the team namespace and the server's RoleBinding there (create if absent),
  the unit's credentials Secret and volume claims, then server-side apply the Pod (field
  manager "sapwood", forced), or the Job and wait for its Pod. A running key returns its
  state; an exited key gets a new run and the old one becomes its "previous" run.
- stop: annotate the Pod and end it without deleting it: `spec.activeDeadlineSeconds` makes
  its kubelet stop it as at a deadline (SIGTERM, the pod's own grace), so the object, its
  final state and its logs stay until forget; a shorter grace than the pod's own, or a pod
  no node runs, is deleted with that grace instead. Returns once its container has ended.
  On a lost node (its kubelet stopped reporting) nothing would ever confirm that: after
  the grace it force-deletes the pod (grace 0) and returns.
- forget: release the finalizer and delete the key's Pods (foreground), Jobs and Secret.
- observe: from per-namespace informers (list + watch with bookmarks, relist on 410),
  supervised (endings.py, informer.py); lost nodes and Multi-Attach refusals come from the
  node list and the pods' events (states.py says how they read).

The finalizer `sapwood.dev/unit` protects one thing: a pod's final state until Sapwood has
accounted for it. Without it a pod deleted by someone else (kubectl delete, a drain, a
namespace deletion, the taint manager) vanishes as soon as its kubelet confirms, and a
watch that was away (410, a restart of the server) never learns how it ended. So it stays,
but only that long: observe() releases it from an exited pod once an earlier observe()
reported that state (the controller has taken it), and at once from a pod no longer
current. Other parties' deletions then complete (uninstall, namespace deletion and drains
do not hang); the last copy of a pod deleted by someone else stays in the informer until
forget. The release is a merge patch guarded by the resourceVersion (endings.release).

Fencing: a unit is reported EXITED (reason NodeLost) only once its old pod is confirmed
ended by a kubelet, force-deleted, or gone; until then it reads RUNNING with reason
NodeLost, and start() returns that state instead of starting a second copy. After a force
delete the old containers may still run on a partitioned node until its kubelet comes back
and kills them (Kubernetes gives no stronger guarantee); a read-write-once claim stays
attached there, so the replacement waits with a Multi-Attach message rather than share it.
New pods are pinned (required node affinity) to the node where a live pod already mounts
one of their claims, so that two units sharing a team volume do not refuse each other.
- logs: pods/log, following across runs of the key; previous=True reads the previous Pod;
  a pod's log is kept in a ConfigMap before the pod goes (log_archive.py).
- capacity: capacity.py (ready nodes units may use, less other pods' requests; paged,
  read at most once per `capacity_ttl_s`); usage: metrics.k8s.io.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sapwood.manifests.names import TEAM_LABEL
from sapwood.manifests.options import RenderOptions
from sapwood.manifests.team import render_team
from sapwood.server.runtimes.base import (
    Capacity,
    RuntimePermanentError,
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    UnitSpec,
    UnitState,
    UnitUsage,
)
from sapwood.server.runtimes.kubernetes import job_runs
from sapwood.server.runtimes.kubernetes import manifests as m
from sapwood.server.runtimes.kubernetes.calls import call, call_unless
from sapwood.server.runtimes.kubernetes.capacity import ClusterCapacity, quantity
from sapwood.server.runtimes.kubernetes.client import (
    KubeClient,
    api_client,
    in_cluster_namespace,
)
from sapwood.server.runtimes.kubernetes.endings import (
    ClusterSignals,
    await_end,
    end_pod,
    pin_to_claim_holder,
    release,
)
from sapwood.server.runtimes.kubernetes.informer import PodInformer
from sapwood.server.runtimes.kubernetes.jobs import (
    job_manifest,
    jobs_path,
    pending_run,
    run_of,
    runs_as_job,
)
from sapwood.server.runtimes.kubernetes.log_archive import keep_log
from sapwood.server.runtimes.kubernetes.logs import stream_logs
from sapwood.server.runtimes.kubernetes.observing import (
    latest_runs,
    note_reported,
    release_accounted,
    synced,
    unit_states,
)
from sapwood.server.runtimes.kubernetes.priority_classes import PriorityClasses
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.server.runtimes.kubernetes.states import is_exited, pod_to_state

log = logging.getLogger("sapwood.runtime.kubernetes")

Obj = dict[str, Any]

_REDISCOVER_S = 10.0
_STOP_SLACK_S = 60.0
_EXISTS = frozenset({409})
_ABSENT = frozenset({404})
_FORBIDDEN = frozenset({403})
_NO_METRICS = frozenset({403, 404, 503})


def _pods_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/pods" + (f"/{name}" if name else "")


def _current(pods: list[Obj]) -> Obj | None:
    current = [p for p in pods if (p["metadata"].get("labels") or {}).get(m.RUN_LABEL) == "current"]
    return max(current, key=m.run_number) if current else None


class KubernetesRuntime:
    """Runs units as Pods in `sapwood-<team>` namespaces. See the module docstring."""

    name = "kubernetes"

    def __init__(
        self, settings: KubernetesRuntimeSettings, *, kube: KubeClient | None = None
    ) -> None:
        if settings.kubeconfig is None:
            # In a cluster, team RoleBindings name the server's own namespace.
            own = in_cluster_namespace()
            settings = replace(settings, server_namespace=own or settings.server_namespace)
        self._settings = settings
        self._kube = kube or KubeClient(api_client(settings), timeout_s=settings.request_timeout_s)
        self._options = RenderOptions(
            namespace_prefix=settings.namespace_prefix,
            workload_role=settings.workload_role,
            server_namespace=settings.server_namespace,
            server_service_account=settings.server_service_account,
        )
        self._informers: dict[str, PodInformer] = {}
        self._namespaces_ready: set[str] = set()
        self._locks: dict[UnitKey, asyncio.Lock] = {}
        self._discovered_at = -math.inf
        self._priority_classes = PriorityClasses(self._kube, self._options)
        self._capacity = ClusterCapacity(self._kube, ttl_s=settings.capacity_ttl_s)
        self._signals = ClusterSignals(self._kube)
        self._reported: set[str] = set()  # uids of exited current pods observe() returned
        self._closed = False

    # --- helpers -----------------------------------------------------------------------

    def namespace(self, team: str) -> str:
        return m.namespace_of(team, prefix=self._settings.namespace_prefix)

    def informer(self, namespace: str) -> PodInformer:
        """The namespace's informer, started on first use."""
        informer = self._informers.get(namespace)
        if informer is None:
            informer = PodInformer(
                self._kube,
                namespace,
                selector=m.MANAGED_SELECTOR,
                watch_timeout_s=self._settings.watch_timeout_s,
            )
            self._informers[namespace] = informer
            informer.start()
        return informer

    def _lock(self, key: UnitKey) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def has_team_namespace(self, key: UnitKey) -> bool:
        """Whether `key`'s team namespace exists. Until it does, nothing of the key exists
        and the server has no right there (its RoleBinding comes with the namespace), so a
        list answers 403, not an empty list."""
        namespace = self.namespace(key.team)
        if namespace in self._namespaces_ready:
            return True
        path = f"/api/v1/namespaces/{namespace}"
        return await call("read a namespace", self._kube.get, path) is not None

    async def _team_list(self, key: UnitKey, what: str, path: str) -> list[Obj]:
        """The `what` of `key` (by its labels) in its team namespace, from the API server;
        none while that namespace does not exist."""
        query = [("labelSelector", m.unit_selector(key))]
        action, refused = f"list {what}", _ABSENT | _FORBIDDEN
        body = await call_unless(action, refused, self._kube.request, "GET", path, query=query)
        if body is None:
            if not await self.has_team_namespace(key):
                return []
            body = await call(action, self._kube.request, "GET", path, query=query)
        items: list[Obj] = body.get("items") or []
        return items

    async def _unit_pods(self, key: UnitKey) -> list[Obj]:
        """Every pod of `key` (current and previous)."""
        return await self._team_list(key, "pods", _pods_path(self.namespace(key.team)))

    async def _unit_jobs(self, key: UnitKey) -> list[Obj]:
        """Every Job of a Job unit's runs; none for the other kinds."""
        if not runs_as_job(key):
            return []
        return await self._team_list(key, "jobs", jobs_path(self.namespace(key.team)))

    async def _wait_for_pod(self, key: UnitKey, run: int, job: str, uid: str, *, new: bool) -> Obj:
        """The Pod the Job controller makes for run `run`; RuntimeTemporaryError naming the
        controller's complaint (FailedCreate) as soon as it makes a new one (a quota, Pod
        Security...), or when no pod has come within `pod_wait_s`."""
        namespace = self.namespace(key.team)
        deadline = time.monotonic() + self._settings.pod_wait_s
        # A Job applied just now has no complaint to tell apart; an older one may have one.
        before = None if new else await job_runs.complaint(self._kube, namespace, job, uid)
        delay = 0.02
        while True:
            for pod in await self._unit_pods(key):
                if m.run_number(pod) == run:
                    return pod
            late = time.monotonic() > deadline
            if late or delay >= 0.5:
                why = await job_runs.complaint(self._kube, namespace, job, uid)
                fresh = why is not None and (before is None or why.seen != before.seen)
                if late or fresh:
                    raise RuntimeTemporaryError(job_runs.no_pod_yet(job, why))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _create_if_absent(self, path: str, manifest: Obj, *, action: str) -> None:
        await call_unless(action, _EXISTS, self._kube.request, "POST", path, body=manifest)

    async def _ensure_namespace(self, team: str) -> str:
        namespace = self.namespace(team)
        if namespace in self._namespaces_ready:
            return namespace
        ns, binding, policy = render_team(team, namespace=namespace, options=self._options)
        if (
            await call("read a namespace", self._kube.get, f"/api/v1/namespaces/{namespace}")
            is None
        ):
            await self._create_if_absent("/api/v1/namespaces", ns, action="create a namespace")
        rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings"
        await self._create_if_absent(rbac, binding, action="create a role binding")
        policies = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
        await self._create_if_absent(policies, policy, action="create a network policy")
        self._namespaces_ready.add(namespace)
        self.informer(namespace)
        return namespace

    async def _discover(self) -> None:
        """Start informers for team namespaces made earlier (or by another replica)."""
        if time.monotonic() - self._discovered_at < _REDISCOVER_S:
            return
        query = [("labelSelector", f"{m.MANAGED_SELECTOR},{TEAM_LABEL}")]
        body = await call(
            "list namespaces", self._kube.request, "GET", "/api/v1/namespaces", query=query
        )
        for ns in body.get("items") or []:
            name = ns["metadata"]["name"]
            if name.startswith(self._settings.namespace_prefix):
                self.informer(name)
        self._discovered_at = time.monotonic()

    # --- the protocol ------------------------------------------------------------------

    async def capacity(self) -> Capacity:
        return await self._capacity.read()

    async def start(self, unit: UnitSpec) -> UnitState:
        try:
            return await self._start(unit)
        except RuntimeTemporaryError as error:
            # RBAC is checked before existence: with the team namespace (and so its
            # RoleBinding) gone, the server gets 403, not 404. Ensure both again next time.
            if str(error).startswith("RBAC:"):
                self._namespaces_ready.discard(self.namespace(unit.key.team))
            raise
        except RuntimePermanentError as error:
            if error.reason != "NotFound":
                raise
            # The namespace (or claim) went away under us: make it again next time.
            self._namespaces_ready.discard(self.namespace(unit.key.team))
            raise RuntimeTemporaryError(str(error)) from error

    async def _start(self, unit: UnitSpec) -> UnitState:
        async with self._lock(unit.key):
            namespace = await self._ensure_namespace(unit.key.team)
            pods = await self._unit_pods(unit.key)
            jobs = await self._unit_jobs(unit.key)
            current = _current(pods)
            if current is not None and not is_exited(current):
                # as observe() reads it: on a lost node it stays, fenced, until it is gone
                (running,) = await unit_states({unit.key: (current, True)}, self._signals)
                return running
            waiting = pending_run(jobs, pods)
            if current is not None and waiting is None:
                await self._retire(namespace, current, pods, jobs)
            runs = [*(m.run_number(p) for p in pods), *(run_of(j) for j in jobs)]
            run = waiting or max(runs, default=0) + 1
            secret = m.secret_manifest(unit, namespace=namespace)
            if secret is not None:
                path = f"/api/v1/namespaces/{namespace}/secrets/{secret['metadata']['name']}"
                await call("apply a secret", self._kube.apply, path, secret)
            for volume in unit.volumes:
                claim = m.claim_manifest(
                    volume.name,
                    namespace=namespace,
                    team=unit.key.team,
                    size_bytes=self._options.default_volume_size_bytes,
                )
                claims = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"
                await self._create_if_absent(claims, claim, action="create a volume claim")
            manifest = m.pod_manifest(
                unit,
                namespace=namespace,
                run=run,
                image=self._settings.image,
                server_image=self._settings.server_image,
                jupyter_image=self._settings.jupyter_image,
                priority_classes=await self._priority_classes.known(),
                options=self._options,
                uid=self._settings.workload_uid,
                pod_security=self._settings.pod_security,
            )
            self._priority_classes.tell_missing(unit, manifest["spec"])
            pin_to_claim_holder(manifest, self.informer(namespace).pods())
            name = manifest["metadata"]["name"]
            if runs_as_job(unit.key):
                if waiting is None:  # a Job's pod template is immutable: apply it only once
                    job_path, job = jobs_path(namespace, name), job_manifest(manifest)
                    job = await call("apply a job", self._kube.apply, job_path, job)
                else:
                    job = next(j for j in jobs if run_of(j) == waiting)
                uid = str(job["metadata"].get("uid", ""))
                pod = await self._wait_for_pod(unit.key, run, name, uid, new=waiting is None)
            else:
                path = _pods_path(namespace, name)
                pod = await call("apply a pod", self._kube.apply, path, manifest)
            self.informer(namespace).upsert(pod)
        state = pod_to_state(pod)
        assert state is not None
        if state.phase is UnitPhase.EXITED and state.reason == UnitReason.COMMAND_NOT_FOUND:
            raise RuntimePermanentError(state.message or "command not found", reason=state.reason)
        return state

    async def _retire(self, namespace: str, current: Obj, pods: list[Obj], jobs: list[Obj]) -> None:
        """The exited current pod becomes the previous run; older runs are deleted."""
        for pod in pods:
            if pod is not current:
                await self._delete_pod(namespace, pod)
        kept = m.run_number(current)
        await job_runs.delete_jobs(self._kube, namespace, [j for j in jobs if run_of(j) < kept])
        path = _pods_path(namespace, current["metadata"]["name"])
        patch = {"metadata": {"labels": {m.RUN_LABEL: "previous"}}}
        retired = await call("relabel a pod", self._kube.merge_patch, path, patch)
        self.informer(namespace).upsert(retired)

    async def _delete_pod(self, namespace: str, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        path = _pods_path(namespace, name)
        released = await release(self._kube, pod)
        answer = await call("delete a pod", self._kube.delete, path, propagation="Foreground")
        # Events older than these answers must not bring the pod back into the cache.
        versions = [
            str(obj.get("metadata", {}).get("resourceVersion", ""))
            for obj in (released, answer)
            if obj is not None
        ]
        version = max((v for v in versions if v.isdigit()), key=int, default="")
        self.informer(namespace).remove(name, version=version)

    async def stop(self, key: UnitKey, *, grace_period_s: float | None = None) -> None:
        async with self._lock(key):
            namespace = self.namespace(key.team)
            pods = await self._unit_pods(key)
            current = _current(pods)
            if current is None or is_exited(current):
                # A Job whose Pod has not come yet must not start one after this stop.
                jobs = await self._unit_jobs(key)
                waiting = pending_run(jobs, pods)
                pending = [j for j in jobs if run_of(j) == waiting]
                await job_runs.delete_jobs(self._kube, namespace, pending)
                return
            name = current["metadata"]["name"]
            path = _pods_path(namespace, name)
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            patch = {"metadata": {"annotations": {m.STOP_REQUESTED: stamp}}}
            await call("mark a pod stopped", self._kube.merge_patch, path, patch)
            own = int(current["spec"].get("terminationGracePeriodSeconds", 30))
            grace = own if grace_period_s is None else max(0, math.ceil(grace_period_s))
            await end_pod(self._kube, current, grace=grace)
            ended = await await_end(
                self._kube,
                self._signals,
                current,
                grace=grace,
                slack_s=_STOP_SLACK_S,
                poll_s=self._settings.stop_poll_s,
            )
            if ended is None:
                self.informer(namespace).remove(name)
                return
            if ended["metadata"].get("deletionTimestamp"):  # deleted: its log goes with it
                await keep_log(self._kube, ended, today=datetime.now(UTC).date())
            self.informer(namespace).upsert(ended)

    async def forget(self, key: UnitKey) -> None:
        async with self._lock(key):
            namespace = self.namespace(key.team)
            pods = await self._unit_pods(key)
            current = _current(pods)
            if current is not None and not is_exited(current):
                raise RuntimeTemporaryError(f"unit {key.slug()} is still running: stop it first")
            for pod in pods:
                await keep_log(self._kube, pod, today=datetime.now(UTC).date())
                await self._delete_pod(namespace, pod)
                self._reported.discard(str(pod["metadata"].get("uid")))
            await job_runs.delete_jobs(self._kube, namespace, await self._unit_jobs(key))
            secret = f"/api/v1/namespaces/{namespace}/secrets/{m.secret_name(key)}"
            await call("delete a secret", self._kube.delete, secret, propagation="Foreground")
            informer = self._informers.get(namespace)
            if informer is not None:  # no tombstone, even from a deletion seen later
                for pod in [*informer.pods(), *informer.gone()]:
                    if m.key_of(pod) == key:
                        informer.remove(pod["metadata"]["name"])
        self._locks.pop(key, None)

    async def observe(self) -> list[UnitState]:
        await self._discover()
        informers = list(self._informers.values())
        for informer in informers:
            await synced(informer)
        latest = latest_runs(informers)
        states = await unit_states(latest, self._signals)
        await release_accounted(self._kube, informers, self._reported)
        note_reported(latest, self._reported)
        return states

    async def usage(self) -> dict[UnitKey, UnitUsage]:
        """CPU and memory of running units from metrics.k8s.io; empty without metrics-server.

        metrics-server reports a rate over its own window (not since the previous call).
        """
        running = {s.key for s in await self.observe() if s.phase is UnitPhase.RUNNING}
        out: dict[UnitKey, UnitUsage] = {}
        for namespace in list(self._informers):
            path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
            query = [("labelSelector", m.MANAGED_SELECTOR)]
            # No metrics API (404, 503) or no right to it (403): report nothing.
            body = await call_unless(
                "read pod metrics", _NO_METRICS, self._kube.request, "GET", path, query=query
            )
            if body is None:
                continue
            names = {p["metadata"]["name"]: p for p in self._informers[namespace].pods()}
            for item in body.get("items") or []:
                pod = names.get(item["metadata"]["name"])
                key = m.key_of(pod) if pod is not None else None
                if key is None or key not in running:
                    continue
                containers = item.get("containers") or []
                cpu = sum(quantity((c.get("usage") or {}).get("cpu")) for c in containers)
                memory = sum(quantity((c.get("usage") or {}).get("memory")) for c in containers)
                out[key] = UnitUsage(cpu_percent=cpu * 100, memory_bytes=int(memory))
        return out

    def logs(
        self, key: UnitKey, *, follow: bool = False, previous: bool = False
    ) -> AsyncIterator[bytes]:
        return stream_logs(self, key, follow=follow, previous=previous)

    async def close(self) -> None:
        """Stops watching; never touches pods."""
        if self._closed:
            return
        self._closed = True
        for informer in self._informers.values():
            informer.stop()
        await asyncio.to_thread(self._kube.close)

    # --- for logs.py -------------------------------------------------------------------

    @property
    def kube(self) -> KubeClient:
        return self._kube

    async def unit_pods(self, key: UnitKey) -> tuple[Obj | None, Obj | None]:
        """(current, previous) pods of `key`; None where absent."""
        pods = await self._unit_pods(key)
        previous = [
            p for p in pods if (p["metadata"].get("labels") or {}).get(m.RUN_LABEL) == "previous"
        ]
        return _current(pods), max(previous, key=m.run_number) if previous else None
