"""The state of the Kubernetes API test double: objects, resource versions, watch history.

Plain data behind one lock, so the ASGI app (in uvicorn's thread) and test hooks (in the
test's thread) can both touch it. It implements just enough of the API server for
`KubernetesRuntime`: server-side apply as a recursive merge with a managedFields-lite
record, merge patches, label and field selectors, deletion with finalizers and owner
propagation (Foreground holds the owner until its blocking dependants are gone), and a
bounded event history so an old resourceVersion answers 410 Gone. Controllers (the Job
controller in `kube_jobs`) hang off `on_changed`, called after every recorded event.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sapwood.testing import kube_namespaces as namespaces
from sapwood.testing.kube_errors import ApiError as ApiError
from sapwood.testing.kube_objects import RESOURCES as RESOURCES
from sapwood.testing.kube_objects import awaits_kubelet as awaits_kubelet
from sapwood.testing.kube_objects import held as held
from sapwood.testing.kube_objects import merge as merge
from sapwood.testing.kube_objects import now_iso as now_iso
from sapwood.testing.kube_objects import removals
from sapwood.testing.kube_selectors import matches_fields as matches_fields
from sapwood.testing.kube_selectors import matches_labels as matches_labels
from sapwood.testing.kube_update_rules import check_precondition
from sapwood.testing.kube_writes import WriteOptions, admit_create, admit_update, check_apply

Obj = dict[str, Any]

# Held by an owner deleted with propagation Foreground until its blocking dependants are gone.
FOREGROUND_FINALIZER = "foregroundDeletion"


@dataclass(frozen=True)
class Event:
    resource_version: int
    plural: str
    namespace: str
    type: str  # ADDED | MODIFIED | DELETED
    object: Obj


Key = tuple[str, str, str]  # plural, namespace ("" when cluster-scoped), name
PodHook = Callable[["KubeStore", Obj], None]
# (store, plural, namespace, body) -> the body as admitted; raises ApiError to refuse.
AdmissionHook = Callable[["KubeStore", str, str, Obj], Obj]
# (store, plural, event type, a copy of the object): called under the store's lock.
ChangeHook = Callable[["KubeStore", str, str, Obj], None]


def _uid(obj: Obj) -> str:
    return str(obj["metadata"].get("uid", ""))


@dataclass
class KubeStore:
    history_limit: int = 1000
    objects: dict[Key, Obj] = field(default_factory=dict)
    history: list[Event] = field(default_factory=list)
    # Events at or below this version were dropped: watching from them is 410 Gone.
    compacted_at: int = 0
    admission: list[AdmissionHook] = field(default_factory=list)
    on_pod_created: list[PodHook] = field(default_factory=list)
    on_pod_deleting: list[PodHook] = field(default_factory=list)
    on_changed: list[ChangeHook] = field(default_factory=list)
    logs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # (object, field manager) -> the configuration it last applied (server-side apply)
    applied: dict[tuple[Key, str], Obj] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    resource_version: int = 0

    def __post_init__(self) -> None:
        self.on_changed.append(namespaces.NamespaceController().on_changed)

    # --- bookkeeping -------------------------------------------------------------------

    def _bump(self, obj: Obj) -> int:
        self.resource_version = next(self._counter)
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        return self.resource_version

    def _record(self, plural: str, namespace: str, type_: str, obj: Obj) -> None:
        event = Event(self.resource_version, plural, namespace, type_, copy.deepcopy(obj))
        self.history.append(event)
        if len(self.history) > self.history_limit:
            dropped = self.history.pop(0)
            self.compacted_at = dropped.resource_version
        for hook in self.on_changed:
            hook(self, plural, type_, copy.deepcopy(obj))

    def compact(self) -> None:
        """Forget every event so far: a watch from any earlier version gets 410 Gone."""
        with self.lock:
            self.history.clear()
            self.compacted_at = self.resource_version

    def events_after(self, version: int, plural: str, namespace: str) -> list[Event]:
        """Events newer than `version`; ApiError(410) when they are no longer retained."""
        with self.lock:
            if version < self.compacted_at:
                raise ApiError(410, "Expired", f"too old resource version: {version}")
            return [
                e
                for e in self.history
                if e.resource_version > version
                and e.plural == plural
                and (not namespace or e.namespace == namespace)
            ]

    # --- reads ---------------------------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects.get((plural, namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            return copy.deepcopy(obj)

    def list(
        self, plural: str, namespace: str, *, labels: str = "", fields: str = ""
    ) -> tuple[list[Obj], int]:
        with self.lock:
            items = [
                copy.deepcopy(obj)
                for (p, ns, _), obj in sorted(self.objects.items())
                if p == plural
                and (not namespace or ns == namespace)
                and matches_labels(obj["metadata"].get("labels") or {}, labels)
                and matches_fields(obj, fields)
            ]
            return items, self.resource_version

    # --- writes --------------------------------------------------------------------------

    def _check_namespace(self, plural: str, namespace: str, name: str) -> None:
        if not RESOURCES[plural][2]:
            return
        if ("namespaces", "", namespace) not in self.objects:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')
        if namespaces.terminating(self, namespace):
            raise namespaces.refuse_content(plural, name, namespace)

    def create(
        self,
        plural: str,
        namespace: str,
        body: Obj,
        *,
        manager: str = "",
        options: WriteOptions | None = None,
    ) -> Obj:
        """Create `body`, checked as the API server checks it (`kube_writes`); with
        `options.dry_run` nothing is stored and the object is returned as it would be."""
        options = options or WriteOptions()
        with self.lock:
            name = body.get("metadata", {}).get("name", "")
            self._check_namespace(plural, namespace, name)
            if name and (plural, namespace, name) in self.objects:
                raise ApiError(409, "AlreadyExists", f'{plural} "{name}" already exists')
            api_version, kind, namespaced = RESOURCES[plural]
            obj = copy.deepcopy(body)
            obj["apiVersion"], obj["kind"] = api_version, kind
            obj.setdefault("metadata", {})
            if plural == "namespaces":
                obj = namespaces.new_namespace(obj)
            for admit in self.admission:
                obj = admit(self, plural, namespace, copy.deepcopy(obj))
            if plural == "pods":
                self._admit_priority(name, obj)
            meta = obj["metadata"]
            if namespaced:
                meta["namespace"] = namespace
            obj = admit_create(plural, obj, options)
            meta = obj["metadata"]
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            meta["generation"] = 1
            if manager:
                meta["managedFields"] = [{"manager": manager, "operation": "Apply"}]
            if options.dry_run:
                return obj
            self._bump(obj)
            self.objects[(plural, namespace, name)] = obj
            self._record(plural, namespace, "ADDED", obj)
            if plural == "namespaces" and ("serviceaccounts", name, "default") not in self.objects:
                # the ServiceAccount controller's "default", which pods run as unless named
                self.create("serviceaccounts", name, {"metadata": {"name": "default"}})
            if plural == "pods":
                for hook in self.on_pod_created:
                    hook(self, obj)
            return copy.deepcopy(self.objects.get((plural, namespace, name), obj))

    def _admit_priority(self, name: str, pod: Obj) -> None:
        """The Priority admission plugin: a pod may only name a PriorityClass that exists."""
        wanted = pod.get("spec", {}).get("priorityClassName")
        if wanted and ("priorityclasses", "", wanted) not in self.objects:
            message = f'pods "{name}" is forbidden: no PriorityClass with name {wanted} was found'
            raise ApiError(403, "Forbidden", message)

    def apply(
        self,
        plural: str,
        namespace: str,
        name: str,
        body: Obj,
        *,
        manager: str,
        force: bool,
        options: WriteOptions | None = None,
    ) -> Obj:
        """Server-side apply: create, or merge the applied fields into the live object.
        Always strict about the applied fields, as the real server is; a resourceVersion
        in the body is a precondition."""
        if not manager:
            raise ApiError(422, "Invalid", "fieldManager is required for apply patches")
        if body.get("metadata", {}).get("name") != name:
            raise ApiError(422, "Invalid", "metadata.name must match the URL")
        check_apply(body, namespace=namespace)
        with self.lock:
            live = self.objects.get((plural, namespace, name))
            if live is None:
                made = self.create(plural, namespace, body, manager=manager, options=options)
                self.applied[((plural, namespace, name), manager)] = copy.deepcopy(body)
                return made
            check_precondition(plural, body, live)
            managers = {m["manager"] for m in live["metadata"].get("managedFields", [])}
            if not force and managers - {manager}:
                others = ", ".join(sorted(managers - {manager}))
                raise ApiError(409, "Conflict", f"Apply failed with conflicts: managers {others}")
            applied = {k: v for k, v in body.items() if k not in ("status", "apiVersion", "kind")}
            options = options or WriteOptions()
            # What this manager applied before and no longer applies goes (its fields).
            before = self.applied.get(((plural, namespace, name), manager), {})
            change = merge(removals(before, applied), applied, delete_nulls=False)
            updated = self._update(
                plural, namespace, live, change, manager=manager, delete_nulls=True, options=options
            )
            if not options.dry_run:
                self.applied[((plural, namespace, name), manager)] = copy.deepcopy(applied)
            return updated

    def patch(
        self,
        plural: str,
        namespace: str,
        name: str,
        body: Obj,
        *,
        status: bool,
        options: WriteOptions | None = None,
    ) -> Obj:
        """A JSON merge patch (strategic merge patches are treated the same way), checked as
        the API server checks an update; a resourceVersion in the body is a precondition."""
        options = options or WriteOptions()
        with self.lock:
            live = self.objects.get((plural, namespace, name))
            if live is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            if status:
                body = {"status": body.get("status", {})}
            check_precondition(plural, body, live)
            return self._update(
                plural, namespace, live, body, manager="", delete_nulls=True, options=options
            )

    def _update(
        self,
        plural: str,
        namespace: str,
        live: Obj,
        change: Obj,
        *,
        manager: str,
        delete_nulls: bool = False,
        options: WriteOptions | None = None,
    ) -> Obj:
        """Merge `change` into `live`; checked (`kube_writes`) when `options` is given, as
        for a client's write (a controller's own changes pass unchecked)."""
        merged = merge(live, change, delete_nulls=delete_nulls)
        meta = merged["metadata"]
        for fixed in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"):
            if fixed in live["metadata"]:
                meta[fixed] = live["metadata"][fixed]
        if merge(live.get("spec"), change.get("spec", {}), delete_nulls=False) != live.get("spec"):
            meta["generation"] = int(live["metadata"].get("generation", 1)) + 1
        if manager:
            fields = [m for m in meta.get("managedFields", []) if m["manager"] != manager]
            meta["managedFields"] = [*fields, {"manager": manager, "operation": "Apply"}]
        if options is not None:
            merged = admit_update(plural, merged, live, options)
            meta = merged["metadata"]
            if options.dry_run:
                return merged
        key = (plural, namespace, meta["name"])
        if meta.get("deletionTimestamp") and not held(plural, merged):
            return self._remove(key, merged)
        self._bump(merged)
        self.objects[key] = merged
        self._record(plural, namespace, "MODIFIED", merged)
        return copy.deepcopy(merged)

    def _remove(self, key: Key, obj: Obj) -> Obj:
        self.objects.pop(key, None)
        for applied in [k for k in self.applied if k[0] == key]:
            del self.applied[applied]
        self._bump(obj)
        self._record(key[0], key[1], "DELETED", obj)
        for ref in obj["metadata"].get("ownerReferences") or []:
            owner = next((k for k, o in self.objects.items() if _uid(o) == ref.get("uid")), None)
            if owner is not None:
                self._release_owner(owner)
        return copy.deepcopy(obj)

    def _release_owner(self, key: Key) -> Obj:
        """Drop the foregroundDeletion finalizer once no dependant blocks the owner (the
        owner then goes, unless other finalizers hold it)."""
        owner = self.objects[key]
        finalizers = owner["metadata"].get("finalizers") or []
        uid = _uid(owner)
        if FOREGROUND_FINALIZER not in finalizers or any(
            ref.get("uid") == uid and ref.get("blockOwnerDeletion")
            for dep in self.objects.values()
            for ref in dep["metadata"].get("ownerReferences") or []
        ):
            return copy.deepcopy(owner)
        rest = [f for f in finalizers if f != FOREGROUND_FINALIZER]
        return self._update(*key[:2], owner, {"metadata": {"finalizers": rest}}, manager="")

    def delete(
        self,
        plural: str,
        namespace: str,
        name: str,
        *,
        propagation: str = "Background",
        grace_period_s: int | None = None,
    ) -> Obj:
        """Background: the object goes (or, held by finalizers, gets a deletionTimestamp),
        then its dependants are deleted. Foreground: the object gets a deletionTimestamp and
        the foregroundDeletion finalizer, its dependants are deleted, and it goes once none
        with blockOwnerDeletion is left. Orphan: dependants lose their ownerReference."""
        with self.lock:
            key = (plural, namespace, name)
            live = self.objects.get(key)
            if live is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            if plural == "namespaces":
                return self._terminate_namespace(name, live)
            uid = _uid(live)
            dependants = [
                k
                for k, dep in self.objects.items()
                if any(o.get("uid") == uid for o in dep["metadata"].get("ownerReferences") or [])
            ]
            if propagation == "Orphan":
                for dep_key in dependants:
                    dep = self.objects[dep_key]
                    owners = dep["metadata"]["ownerReferences"]
                    rest = [o for o in owners if o.get("uid") != uid]
                    self._update(
                        *dep_key[:2], dep, {"metadata": {"ownerReferences": rest}}, manager=""
                    )
            elif propagation == "Foreground" and dependants:
                finalizers = live["metadata"].get("finalizers") or []
                if FOREGROUND_FINALIZER not in finalizers:
                    held = {
                        "finalizers": [*finalizers, FOREGROUND_FINALIZER],
                        "deletionTimestamp": now_iso(),
                    }
                    self._update(plural, namespace, live, {"metadata": held}, manager="")
                self._delete_all(dependants, propagation)
                return self._release_owner(key) if key in self.objects else copy.deepcopy(live)
            deleted = self._delete_one(key, live, grace_period_s)
            if propagation == "Background":
                self._delete_all(dependants, propagation)
            return deleted

    def _terminate_namespace(self, name: str, live: Obj) -> Obj:
        """A namespace goes Terminating; the namespace controller empties it (and it goes
        once empty, see `kube_namespaces`)."""
        if not live["metadata"].get("deletionTimestamp"):
            live = copy.deepcopy(live)
            live["metadata"]["deletionTimestamp"] = now_iso()
            live["status"] = {"phase": "Terminating"}
            self._bump(live)
            self.objects[("namespaces", "", name)] = live
            self._record("namespaces", "", "MODIFIED", live)
            namespaces.start_deletion(self, name)
        return copy.deepcopy(self.objects.get(("namespaces", "", name), live))

    def finalize_namespace(self, name: str, finalizers: Iterable[str]) -> Obj:
        """The namespace's spec.finalizers become `finalizers` (the finalize subresource);
        a Terminating namespace with none left goes."""
        with self.lock:
            live = self.objects[("namespaces", "", name)]
            change = {"spec": {"finalizers": list(finalizers)}}
            return self._update("namespaces", "", live, change, manager="")

    def _delete_all(self, keys: Iterable[Key], propagation: str) -> None:
        for key in keys:
            if key in self.objects:
                self.delete(*key, propagation=propagation)

    def _delete_one(self, key: Key, live: Obj, grace_period_s: int | None) -> Obj:
        plural, namespace, _ = key
        if plural == "pods" and not live["metadata"].get("deletionTimestamp"):
            live = copy.deepcopy(live)
            live["metadata"]["deletionTimestamp"] = now_iso()
            grace = grace_period_s
            if grace is None:
                grace = live.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            live["metadata"]["deletionGracePeriodSeconds"] = grace
            self._bump(live)
            self.objects[key] = live
            self._record(plural, namespace, "MODIFIED", live)
            for hook in self.on_pod_deleting:
                hook(self, live)
            live = self.objects.get(key, live)
            if key not in self.objects:
                return copy.deepcopy(live)
        elif plural == "pods" and grace_period_s is not None:
            live = self._shorten_grace(key, live, grace_period_s)
        if plural == "pods" and awaits_kubelet(live):
            return copy.deepcopy(live)  # the kubelet confirms (it may be unreachable)
        if live["metadata"].get("finalizers"):
            if not live["metadata"].get("deletionTimestamp"):
                return self._update(
                    plural,
                    namespace,
                    live,
                    {"metadata": {"deletionTimestamp": now_iso()}},
                    manager="",
                )
            return copy.deepcopy(live)
        return self._remove(key, copy.deepcopy(live))

    def _shorten_grace(self, key: Key, live: Obj, grace_period_s: int) -> Obj:
        """A second delete of a terminating pod may only shorten its grace period (0: a
        force delete, which stops waiting for the kubelet)."""
        current = live["metadata"].get("deletionGracePeriodSeconds")
        if current is not None and grace_period_s >= int(current):
            return live
        live = copy.deepcopy(live)
        live["metadata"]["deletionGracePeriodSeconds"] = grace_period_s
        self._bump(live)
        self.objects[key] = live
        self._record(key[0], key[1], "MODIFIED", live)
        return live

    def set_pod_status(self, namespace: str, name: str, status: Obj) -> Obj:
        """Replace a pod's status, as the kubelet would (a MODIFIED event follows)."""
        return self.set_status("pods", namespace, name, status)

    def set_status(self, plural: str, namespace: str, name: str, status: Obj) -> Obj:
        """Replace an object's status, as its controller would (a MODIFIED event follows)."""
        with self.lock:
            live = self.objects.get((plural, namespace, name))
            if live is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            updated = copy.deepcopy(live)
            updated["status"] = copy.deepcopy(status)
            return self._replace(plural, namespace, updated)

    def _replace(self, plural: str, namespace: str, obj: Obj) -> Obj:
        key = (plural, namespace, obj["metadata"]["name"])
        if obj["metadata"].get("deletionTimestamp") and not held(plural, obj):
            phase = obj.get("status", {}).get("phase")
            if plural != "pods" or phase in ("Succeeded", "Failed"):
                return self._remove(key, obj)
        self._bump(obj)
        self.objects[key] = obj
        self._record(plural, namespace, "MODIFIED", obj)
        return copy.deepcopy(obj)
