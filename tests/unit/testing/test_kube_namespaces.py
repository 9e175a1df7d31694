"""Namespace lifecycle in the API double: Terminating, no new content, emptied by the
namespace controller, gone only when empty (a finalizer keeps it Terminating)."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.testing.kube_errors import ApiError
from sapwood.testing.kube_store import KubeStore

Obj = dict[str, Any]
NS = "sapwood-research"


@pytest.fixture
def store() -> KubeStore:
    made = KubeStore()
    made.create("namespaces", "", {"metadata": {"name": NS}})
    return made


def _pod(name: str, *finalizers: str) -> Obj:
    meta: Obj = {"name": name}
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"metadata": meta, "spec": {"containers": [{"name": "main", "image": "i"}]}}


def test_a_new_namespace_is_active_with_the_kubernetes_finalizer_and_a_service_account(
    store: KubeStore,
) -> None:
    namespace = store.get("namespaces", "", NS)
    assert namespace["spec"]["finalizers"] == ["kubernetes"]
    assert namespace["status"]["phase"] == "Active"
    assert ("serviceaccounts", NS, "default") in store.objects


def test_deleting_a_namespace_empties_it_and_it_goes(store: KubeStore) -> None:
    store.create("pods", NS, _pod("a"))
    store.create("secrets", NS, {"metadata": {"name": "env"}, "data": {"K": "dg=="}})
    store.delete("namespaces", "", NS)
    assert not [key for key in store.objects if key[1] == NS]
    assert ("namespaces", "", NS) not in store.objects
    deleted = [e for e in store.history if e.plural == "namespaces" and e.type == "DELETED"]
    assert len(deleted) == 1


def test_a_finalizer_keeps_the_namespace_terminating_and_nothing_new_gets_in(
    store: KubeStore,
) -> None:
    store.create("pods", NS, _pod("held", "sapwood.dev/unit"))
    store.delete("namespaces", "", NS)
    namespace = store.get("namespaces", "", NS)
    assert namespace["status"]["phase"] == "Terminating"
    assert namespace["metadata"]["deletionTimestamp"]
    conditions = {c["type"]: c["message"] for c in namespace["status"]["conditions"]}
    assert conditions["NamespaceFinalizersRemaining"] == (
        "Some content in the namespace has finalizers remaining: sapwood.dev/unit in 1 "
        "resource instances"
    )
    with pytest.raises(ApiError) as refused:
        store.create("pods", NS, _pod("new"))
    assert refused.value.code == 403
    assert refused.value.message == (
        'pods "new" is forbidden: unable to create new content in namespace '
        f"{NS} because it is being terminated"
    )
    # Releasing the finalizer lets the pod go, and then the namespace.
    store.patch("pods", NS, "held", {"metadata": {"finalizers": None}}, status=False)
    assert ("namespaces", "", NS) not in store.objects
