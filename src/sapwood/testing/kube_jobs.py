"""The API double's Job controller: batch/v1 Jobs make pods, and their pods' ends make the
Job Complete or Failed, as Kubernetes' Job controller does for what Sapwood uses.

`JobController.on_changed` hangs off `KubeStore.on_changed`. A Job that is created or
changed (create, apply, merge patch), or one of whose pods changes, is synced: finished
pods are counted once into `status.succeeded` / `status.failed` (a pod being deleted
counts as failed, as with podReplacementPolicy TerminatingOrFailed; for an Indexed Job
`succeeded` is the number of `completedIndexes`), then

- past `backoffLimit` (default 6): its active pods are deleted (and counted as failed)
  and it gets the condition Failed (reason BackoffLimitExceeded);
- suspended: its active pods are deleted, not counted, and it gets Suspended True;
  resumed, Suspended turns False (JobResumed) and `startTime` restarts;
- otherwise active pods are topped up to `min(parallelism, completions - succeeded)`
  (both default 1), one per pending index for `completionMode: Indexed`; with that many
  succeeded and none active it gets the condition Complete and `completionTime`.

A finished Job (Complete or Failed) is left alone. A pod is built as GetPodFromTemplate
builds it: `<job>-<5 random>` (`<job>-<index>-<5 random>`, with hostname `<job>-<index>`
and the completion-index annotation and label, when Indexed), the template's labels plus
the job-name and controller-uid labels (new and legacy), the template's annotations and
finalizers, a controller ownerReference with blockOwnerDeletion, the template's spec,
managedFields naming kube-controller-manager (an Update, not an Apply). It is created
through the store, so the kubelet simulator runs it, watchers see it ADDED and the
Priority admission applies: a refused pod is not made and a Warning Event FailedCreate
records why; creation is tried again on the Job's next change, or when a PriorityClass,
ResourceQuota, ServiceAccount or Namespace is made or changed (Kubernetes retries with a
backoff).

Not modelled: the `batch.kubernetes.io/job-tracking` finalizer (counting relies on this
controller seeing every pod event, which the store guarantees, so pods are not held),
the JOB_COMPLETION_INDEX variable, spec.selector and template-label defaulting, the
interim SuccessCriteriaMet / FailureTarget conditions, podFailurePolicy,
backoffLimitPerIndex, successPolicy, the pod failure backoff delay, activeDeadlineSeconds,
ttlSecondsAfterFinished, restartPolicy OnFailure restarts, and events other than
FailedCreate.
"""

from __future__ import annotations

import contextlib
import copy
import random
import uuid
from dataclasses import dataclass, field

from sapwood.testing.kube_store import ApiError, KubeStore, Obj, now_iso

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"  # annotation and label
_LEGACY_LABELS = ("job-name", "controller-uid")
# The API server's generateName alphabet (k8s.io/apimachinery utilrand): no vowels.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_PREFIX = 63 - 5  # a generated name's prefix is cut so prefix + suffix fits a label
_TERMINAL = ("Succeeded", "Failed")
_ADMISSION_INPUTS = frozenset(
    {"priorityclasses", "resourcequotas", "serviceaccounts", "namespaces"}
)


# --- pure decisions -------------------------------------------------------------------


def _spec_int(job: Obj, name: str, default: int) -> int:
    value = (job.get("spec") or {}).get(name)
    return default if value is None else int(value)


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def is_suspended(job: Obj) -> bool:
    return (job.get("spec") or {}).get("suspend") is True


def is_finished(job: Obj) -> bool:
    """Whether the Job has the condition Complete or Failed."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
    )


def is_active(pod: Obj) -> bool:
    """Neither finished nor being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in _TERMINAL and not pod["metadata"].get("deletionTimestamp")


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_outcome(pod: Obj) -> str | None:
    """ "Succeeded", "Failed" (a pod being deleted counts as failed), or None while active."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return "Succeeded"
    if phase == "Failed" or pod["metadata"].get("deletionTimestamp"):
        return "Failed"
    return None


def completion_index(pod: Obj) -> int | None:
    text = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY, "")
    return int(text) if text.isdigit() else None


def parse_indexes(text: str) -> set[int]:
    """`completedIndexes` ("0-2,5") as a set."""
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    """A set of indexes as `completedIndexes` writes it: sorted intervals, "0-2,5"."""
    runs: list[list[int]] = []
    for i in sorted(indexes):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def tally(job: Obj, pods: list[Obj], counted: set[str]) -> tuple[Obj, set[str]]:
    """The Job's status with its finished pods not in `counted` added to succeeded and
    failed (completedIndexes for an Indexed Job), and the uids of the pods added."""
    status = copy.deepcopy(job.get("status") or {})
    completions = _spec_int(job, "completions", 1)
    completed = parse_indexes(status.get("completedIndexes", ""))
    added: set[str] = set()
    for pod in pods:
        uid = pod["metadata"]["uid"]
        outcome = pod_outcome(pod)
        if outcome is None or uid in counted:
            continue
        added.add(uid)
        if outcome == "Failed":
            status["failed"] = status.get("failed", 0) + 1
        elif not is_indexed(job):
            status["succeeded"] = status.get("succeeded", 0) + 1
        elif (index := completion_index(pod)) is not None and index < completions:
            completed.add(index)
    if is_indexed(job):
        status["completedIndexes"] = format_indexes(completed)
        status["succeeded"] = len(completed)
    return status, added


def past_backoff_limit(job: Obj) -> bool:
    return int((job.get("status") or {}).get("failed", 0)) > _spec_int(job, "backoffLimit", 6)


def want_active(job: Obj) -> int:
    """How many pods the Job wants running: min(parallelism, completions - succeeded)."""
    if is_suspended(job) or is_finished(job):
        return 0
    succeeded = int((job.get("status") or {}).get("succeeded", 0))
    remaining = _spec_int(job, "completions", 1) - succeeded
    return max(0, min(_spec_int(job, "parallelism", 1), remaining))


def pods_wanted(job: Obj, pods: list[Obj]) -> int:
    """How many pods to create now, given the Job (with counted status) and its pods."""
    if past_backoff_limit(job):
        return 0
    return max(0, want_active(job) - sum(map(is_active, pods)))


def pending_indexes(job: Obj, pods: list[Obj]) -> list[int]:
    """An Indexed Job's indexes with neither a success nor an active pod, lowest first."""
    completed = parse_indexes((job.get("status") or {}).get("completedIndexes", ""))
    busy = {completion_index(p) for p in pods if is_active(p)}
    completions = _spec_int(job, "completions", 1)
    return [i for i in range(completions) if i not in completed and i not in busy]


def generate_prefix(job_name: str, index: int | None) -> str:
    """The pod name's prefix, cut as the Job controller and the API server cut it."""
    if index is None:
        return f"{job_name}-"[:_MAX_PREFIX]
    suffix = f"-{index}-"
    return job_name[: _MAX_PREFIX - len(suffix)] + suffix


def pod_from_template(job: Obj, *, index: int | None, suffix: str) -> Obj:
    """The pod the Job controller creates for `index` (None for a NonIndexed Job)."""
    meta = job["metadata"]
    name, uid = meta["name"], meta["uid"]
    template = (job.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    labels.update({JOB_NAME_LABEL: name, CONTROLLER_UID_LABEL: uid})
    labels.update(dict(zip(_LEGACY_LABELS, (name, uid), strict=True)))
    annotations = dict(template_meta.get("annotations") or {})
    spec = copy.deepcopy(template.get("spec") or {})
    if index is not None:
        annotations[INDEX_KEY] = labels[INDEX_KEY] = str(index)
        spec["hostname"] = f"{name}-{index}"
    prefix = generate_prefix(name, index)
    pod_meta: Obj = {"name": prefix + suffix, "generateName": prefix, "labels": labels}
    pod_meta["managedFields"] = [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1"}
    ]
    if annotations:
        pod_meta["annotations"] = annotations
    if template_meta.get("finalizers"):
        pod_meta["finalizers"] = list(template_meta["finalizers"])
    pod_meta["ownerReferences"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def set_condition(
    status: Obj, type_: str, value: str, reason: str, message: str, *, now: str
) -> bool:
    """Set a condition in `status`; whether it changed. Like ensureJobConditionStatus, a
    False condition that is absent is not added."""
    conditions = status.setdefault("conditions", [])
    current = next((c for c in conditions if c.get("type") == type_), None)
    if current is None:
        if value == "False":
            if not conditions:
                del status["conditions"]
            return False
        current = {"type": type_}
        conditions.append(current)
    elif (current.get("status"), current.get("reason")) == (value, reason):
        return False
    changed = current.get("status") != value
    transition = now if changed else current.get("lastTransitionTime", now)
    current.update(
        status=value,
        lastProbeTime=now,
        lastTransitionTime=transition,
        reason=reason,
        message=message,
    )
    return True


def _owning_job(pod: Obj) -> Obj | None:
    """The pod's controller ownerReference when that is a batch/v1 Job."""
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and (ref.get("apiVersion"), ref.get("kind")) == (
            "batch/v1",
            "Job",
        ):
            return dict(ref)
    return None


# --- the controller -------------------------------------------------------------------


@dataclass
class JobController:
    """Syncs Jobs from the store's change hook. Runs under the store's lock; a change made
    while a sync runs (the controller's own writes included) queues the Job again, so
    syncs never nest and each recomputes from the Job and its pods."""

    rng: random.Random = field(default_factory=random.Random)
    _queue: list[tuple[str, str]] = field(default_factory=list)
    _busy: bool = False
    # pod uids already in each Job's status (by Job uid): each pod is counted once
    _counted: dict[str, set[str]] = field(default_factory=dict)
    # pods removed before a sync saw them finished (by Job uid)
    _gone: dict[str, list[Obj]] = field(default_factory=dict)
    # Jobs whose pod creation was refused since the queue last ran dry
    _refused: set[str] = field(default_factory=set)

    def on_changed(self, store: KubeStore, plural: str, type_: str, obj: Obj) -> None:
        namespace = obj["metadata"].get("namespace", "")
        if plural == "jobs":
            if type_ == "DELETED":
                self._counted.pop(obj["metadata"]["uid"], None)
                self._gone.pop(obj["metadata"]["uid"], None)
                return
            self._enqueue(namespace, obj["metadata"]["name"])
        elif plural == "pods" and (ref := _owning_job(obj)) is not None:
            job = store.objects.get(("jobs", namespace, ref["name"]))
            if job is None or job["metadata"]["uid"] != ref["uid"]:
                return  # its Job is gone: nothing to count it into
            counted = self._counted.get(ref["uid"], set())
            if type_ == "DELETED" and obj["metadata"]["uid"] not in counted:
                self._gone.setdefault(ref["uid"], []).append(obj)
            self._enqueue(namespace, ref["name"])
        elif plural in _ADMISSION_INPUTS and type_ != "DELETED":
            # what admission refused may pass now (a class or an account made, a quota
            # raised, a namespace relabelled): Kubernetes retries with a back-off
            for kind, job_namespace, name in list(store.objects):
                if kind == "jobs":
                    self._enqueue(job_namespace, name)
        else:
            return
        self._drain(store)

    def _enqueue(self, namespace: str, name: str) -> None:
        if (namespace, name) not in self._queue:
            self._queue.append((namespace, name))

    def _drain(self, store: KubeStore) -> None:
        if self._busy:
            return  # the running drain picks the queued Job up
        self._busy = True
        try:
            while self._queue:
                self._sync(store, *self._queue.pop(0))
        finally:
            self._busy = False
            self._queue.clear()
            self._refused.clear()

    def _sync(self, store: KubeStore, namespace: str, name: str) -> None:
        live = store.objects.get(("jobs", namespace, name))
        if live is None or live["metadata"].get("deletionTimestamp"):
            return
        job = copy.deepcopy(live)
        uid = job["metadata"]["uid"]
        gone = self._gone.pop(uid, [])
        if is_finished(job):
            return
        pods = [
            p
            for (kind, ns, _), p in list(store.objects.items())
            if kind == "pods"
            and ns == namespace
            and (p["metadata"].get("labels") or {}).get(CONTROLLER_UID_LABEL) == uid
        ]
        counted = self._counted.setdefault(uid, set())
        job["status"], added = tally(job, [*pods, *gone], counted)
        counted |= added
        status, now = job["status"], now_iso()
        if "startTime" not in status and not is_suspended(job):
            status["startTime"] = now
        active = [p for p in pods if is_active(p)]
        if past_backoff_limit(job):
            # as Kubernetes does once a Job fails, its remaining pods count as failed
            self._delete_pods(store, active, counted)
            status["failed"] += len(active)
            active = []
            message = "Job has reached the specified backoff limit"
            set_condition(status, "Failed", "True", "BackoffLimitExceeded", message, now=now)
        else:
            surplus = active[want_active(job) :]
            self._delete_pods(store, surplus, counted)  # not failures: the Job let them go
            active = active[: want_active(job)]
            if not surplus:
                active += [p for p in self._create_pods(store, job, active) if is_active(p)]
            if not active and status.get("succeeded", 0) >= _spec_int(job, "completions", 1):
                message = "Reached expected number of succeeded pods"
                set_condition(status, "Complete", "True", "CompletionsReached", message, now=now)
                status["completionTime"] = now
            elif is_suspended(job):
                set_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now=now)
            elif set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now=now):
                status["startTime"] = now  # activeDeadlineSeconds counts from the resume
        status["active"] = len(active)
        status["ready"] = sum(map(is_ready, active))
        for key in ("active", "succeeded", "failed"):
            if not status.get(key):
                status.pop(key, None)  # omitted when 0, as the API server writes them
        if status != live.get("status"):
            store.set_status("jobs", namespace, name, status)

    def _delete_pods(self, store: KubeStore, pods: list[Obj], counted: set[str]) -> None:
        for pod in pods:
            counted.add(pod["metadata"]["uid"])
            try:
                store.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
            except ApiError as error:
                if error.code != 404:
                    raise

    def _create_pods(self, store: KubeStore, job: Obj, active: list[Obj]) -> list[Obj]:
        meta = job["metadata"]
        wanted = pods_wanted(job, active)
        if not wanted or meta["uid"] in self._refused:
            return []
        indexes: list[int | None] = [None] * wanted
        if is_indexed(job):
            indexes = list(pending_indexes(job, active)[:wanted])
        created = []
        for index in indexes:
            pod = pod_from_template(job, index=index, suffix=self._suffix())
            while ("pods", meta["namespace"], pod["metadata"]["name"]) in store.objects:
                pod = pod_from_template(job, index=index, suffix=self._suffix())
            try:
                created.append(store.create("pods", meta["namespace"], pod))
            except ApiError as error:
                # as the real controller: no pod, a FailedCreate event, a retry later
                self._refused.add(meta["uid"])
                with contextlib.suppress(ApiError):  # e.g. its namespace is gone
                    message = f"Error creating: {error.message}"
                    record_event(store, job, "FailedCreate", message)
                break
        return created

    def _suffix(self) -> str:
        return "".join(self.rng.choices(_NAME_ALPHABET, k=5))


def record_event(store: KubeStore, job: Obj, reason: str, message: str) -> Obj:
    """A Warning Event about the Job; a repeat of the same one raises its count, as the
    event recorder aggregates them."""
    meta = job["metadata"]
    namespace, now = meta["namespace"], now_iso()
    for event in store.list("events", namespace)[0]:
        involved = event.get("involvedObject") or {}
        if (involved.get("uid"), event.get("reason"), event.get("message")) == (
            meta["uid"],
            reason,
            message,
        ):
            change = {"count": event.get("count", 1) + 1, "lastTimestamp": now}
            return store.patch("events", namespace, event["metadata"]["name"], change, status=False)
    body = {
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}"},
        "involvedObject": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": meta["name"],
            "namespace": namespace,
            "uid": meta["uid"],
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "source": {"component": "job-controller"},
        "reportingComponent": "job-controller",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    return store.create("events", namespace, body)
