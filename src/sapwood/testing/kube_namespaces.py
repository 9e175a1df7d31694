"""Namespace lifecycle in the Kubernetes API double, as the API server and the namespace
controller play it.

A new namespace is Active with the `kubernetes` finalizer in `spec.finalizers`. Deleting it
makes it Terminating (a deletionTimestamp, `status.phase: Terminating`); from then on the
API server refuses to create anything in it (403 `unable to create new content in namespace
X because it is being terminated`), and the namespace controller deletes everything inside.
The namespace goes only once nothing is left: an object held by a finalizer keeps it
Terminating for good, with `NamespaceContentRemaining` and `NamespaceFinalizersRemaining`
conditions that say what is left, as `kubectl describe namespace` shows on a real cluster.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from sapwood.testing.kube_errors import ApiError

if TYPE_CHECKING:
    from sapwood.testing.kube_store import KubeStore

Obj = dict[str, Any]

NAMESPACE_FINALIZER = "kubernetes"


def new_namespace(body: Obj) -> Obj:
    """A namespace as created: the `kubernetes` finalizer and phase Active."""
    spec = body.setdefault("spec", {})
    spec.setdefault("finalizers", [NAMESPACE_FINALIZER])
    body["status"] = {"phase": "Active"}
    return body


def terminating(store: KubeStore, namespace: str) -> bool:
    live = store.objects.get(("namespaces", "", namespace))
    return live is not None and bool(live["metadata"].get("deletionTimestamp"))


def refuse_content(plural: str, name: str, namespace: str) -> ApiError:
    """The API server's answer to a create in a Terminating namespace."""
    message = (
        f'{plural} "{name}" is forbidden: unable to create new content in namespace '
        f"{namespace} because it is being terminated"
    )
    cause = {
        "reason": "NamespaceTerminating",
        "message": f"namespace {namespace} is being terminated",
        "field": "metadata.namespace",
    }
    details = {"name": name, "kind": plural, "causes": [cause]}
    return ApiError(403, "Forbidden", message, details=details)


def _contents(store: KubeStore, namespace: str) -> list[tuple[str, str, str]]:
    return [key for key in store.objects if key[1] == namespace and key[0] != "namespaces"]


def _conditions(store: KubeStore, namespace: str) -> list[Obj]:
    keys = _contents(store, namespace)
    if not keys:
        return []
    counts = Counter(plural for plural, _, _ in keys)
    held = Counter(
        finalizer
        for key in keys
        for finalizer in store.objects[key]["metadata"].get("finalizers") or []
    )
    remaining = ", ".join(f"{p}. has {n} resource instances" for p, n in sorted(counts.items()))
    conditions = [
        {
            "type": "NamespaceContentRemaining",
            "status": "True",
            "reason": "SomeResourcesRemain",
            "message": f"Some resources are remaining: {remaining}",
        }
    ]
    if held:
        left = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(held.items()))
        conditions.append(
            {
                "type": "NamespaceFinalizersRemaining",
                "status": "True",
                "reason": "SomeFinalizersRemain",
                "message": f"Some content in the namespace has finalizers remaining: {left}",
            }
        )
    return conditions


def _sync(store: KubeStore, namespace: str) -> None:
    """Finish the namespace when it is empty; else say what is left in its conditions."""
    live = store.objects.get(("namespaces", "", namespace))
    if live is None or not live["metadata"].get("deletionTimestamp"):
        return
    if not _contents(store, namespace):
        rest = [f for f in live["spec"].get("finalizers") or [] if f != NAMESPACE_FINALIZER]
        store.finalize_namespace(namespace, rest)
        return
    status = {"phase": "Terminating", "conditions": _conditions(store, namespace)}
    if live.get("status") != status:
        store.set_status("namespaces", "", namespace, status)


def start_deletion(store: KubeStore, namespace: str) -> None:
    """The namespace controller's pass over a namespace just marked Terminating: delete
    everything in it (each object then goes as its own deletion allows)."""
    for plural, ns, name in _contents(store, namespace):
        if (plural, ns, name) in store.objects:
            try:
                store.delete(plural, ns, name, propagation="Background")
            except ApiError as error:
                if error.code != 404:
                    raise
    _sync(store, namespace)


class NamespaceController:
    """Follows the store's changes: a namespace whose content changed is finished (or its
    conditions updated) once its deletion has started."""

    def on_changed(self, store: KubeStore, plural: str, type_: str, obj: Obj) -> None:
        namespace = obj.get("metadata", {}).get("namespace") or ""
        if plural != "namespaces" and namespace and terminating(store, namespace):
            _sync(store, namespace)
