"""Names, labels and metadata of rendered objects: one scheme for every kind.

Kubernetes names get a per-kind prefix (``job-``, ``svc-``, ``ws-``) because Sapwood names
are unique per (team, kind) only, while a Service and a Workspace both render a core
Service; the prefix also makes every name start with a letter, as core Services require.
A name past its limit is cut and given a short hash, so it stays unique and stable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sapwood.manifests.options import DEFAULT_OPTIONS, RenderOptions
from sapwood.specs.objects import AnyObject

Manifest = dict[str, Any]

MANAGED_BY = "sapwood"
TEAM_LABEL = "sapwood.dev/team"
KIND_LABEL = "sapwood.dev/kind"
NAME_LABEL = "sapwood.dev/name"
DEFAULT_IMAGE_ANNOTATION = "sapwood.dev/default-image"

_KIND_PREFIX = {"Job": "job", "Service": "svc", "Workspace": "ws", "Feed": "feed"}
# StatefulSet pods carry a controller-revision-hash label of the name plus 11 characters.
# An Indexed Job's pods are given the hostname ``<job>-<index>``, a DNS label of 63
# characters at most: 57 leaves room for indexes up to 99999.
_NAME_LIMIT = {"Job": 57, "Service": 63, "Workspace": 52, "Feed": 63}


def short_name(text: str, limit: int = 63) -> str:
    """``text`` when it fits in ``limit``; else its head, '-' and 8 hex digits of its hash."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9].rstrip('-')}-{digest}"


def object_name(kind: str, name: str) -> str:
    """The Kubernetes name of a Sapwood object's workload: ``job-train``, ``ws-scratch``."""
    return short_name(f"{_KIND_PREFIX[kind]}-{name}", _NAME_LIMIT[kind])


def namespace_for(team: str, *, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    """The team's namespace: ``sapwood-<team>`` with the default prefix."""
    return short_name(f"{options.namespace_prefix}{team}")


def token_secret_name(kind: str, name: str) -> str:
    """The Secret (key ``token``) that holds a workload's API token; the runtime writes it."""
    return short_name(f"{object_name(kind, name)}-token")


def volume_claim_name(volume: str) -> str:
    """A team volume's PersistentVolumeClaim, shared by the team's jobs and services."""
    return short_name(f"volume-{volume}")


def volume_name(volume: str) -> str:
    """The name of a team volume inside a pod spec (``v-<volume>``): a DNS label, so at
    most 63 characters, shortened with a hash past that."""
    return short_name(f"v-{volume}")


def priority_class_name(priority: str, *, options: RenderOptions = DEFAULT_OPTIONS) -> str:
    return short_name(f"{options.priority_class_prefix}{priority}", 253)


def selector_labels(kind: str, team: str, name: str) -> dict[str, str]:
    """The labels that pick an object's pods: stable, so selectors never change."""
    return {TEAM_LABEL: team, KIND_LABEL: kind, NAME_LABEL: name}


def object_labels(obj: AnyObject, team: str) -> dict[str, str]:
    """The user's labels, then the standard ones (which win on a clash)."""
    return {
        **obj.metadata.labels,
        "app.kubernetes.io/name": obj.metadata.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        **selector_labels(obj.kind, team, obj.metadata.name),
    }


def metadata(
    name: str,
    labels: Mapping[str, str],
    *,
    namespace: str | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: Manifest | None = None,
) -> Manifest:
    """``metadata`` of a manifest; cluster-scoped when ``namespace`` is None."""
    out: Manifest = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(annotations)
    if owner is not None:
        out["ownerReferences"] = [owner]
    return out


def owner_reference(manifest: Manifest, uid: str | None) -> Manifest | None:
    """A reference to ``manifest`` as owner, so its dependant is garbage-collected with it;
    None without a uid (known only once the owner exists in the cluster)."""
    if uid is None:
        return None
    return {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "name": manifest["metadata"]["name"],
        "uid": uid,
    }
