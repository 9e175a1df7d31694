"""Admission for the API double: the plugins a real API server runs on a pod create that
Sapwood's pods meet on an ordinary cluster, each refusing with the server's own words.

`Admission.admit` hangs off `KubeStore.admission` and runs, as the real chain does, the
mutating plugins first and the validating ones after:

- ServiceAccount (mutating): a pod without `serviceAccountName` gets "default".
- a sidecar-injecting webhook (mutating, off until `inject_sidecar`): adds a container,
  as Istio or Linkerd do, or a native sidecar (an init container with restartPolicy
  Always) when asked.
- ServiceAccount (validating): the named ServiceAccount must exist in the namespace:
  403 `pods "x" is forbidden: error looking up service account ns/sa: serviceaccount
  "sa" not found`.
- PodSecurity: the namespace's `pod-security.kubernetes.io/enforce` level
  (kube_pod_security), 403 `... violates PodSecurity "restricted:latest": ...`.
- ResourceQuota: each ResourceQuota in the namespace caps what its non-terminal pods
  request: 403 `... exceeded quota: q, requested: requests.cpu=2, used: requests.cpu=3,
  limited: requests.cpu=4`, or `failed quota: q: must specify limits.cpu for: main` when
  the quota tracks cpu or memory the pod does not state. Usage is counted from the pods at
  the time of the request (the real plugin reads the quota's status, which its
  controller keeps current the same way).

Pods only, on create only: the pod fields these plugins read cannot change on update.
Admission of other kinds (a Job whose template would be refused is admitted; its pods
are refused when the Job controller makes them, as on a real cluster) is not modelled.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal

from sapwood.testing import kube_pod_security
from sapwood.testing.kube_store import ApiError, KubeStore, Obj

DEFAULT_SERVICE_ACCOUNT = "default"
_TERMINAL = ("Succeeded", "Failed")
_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
# If a quota tracks one of these, every container must state it (a compatibility rule
# the real pod evaluator keeps for cpu and memory only).
_MUST_SPECIFY = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)


def _forbidden(name: str, why: str) -> ApiError:
    return ApiError(403, "Forbidden", f'pods "{name}" is forbidden: {why}')


def parse_quantity(text: str | int | float) -> Decimal:
    """A resource quantity ("500m", "2", "1Gi", "1e3") as a number; ValueError if malformed."""
    match = _QUANTITY.match(str(text).strip())
    if match is None or match.group(2) not in _SUFFIXES:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]


def format_quantity(value: Decimal, *, binary: bool) -> str:
    """The canonical form the API server prints: "2", "500m", "1Gi" (binary) or "1G"."""
    if value != value.to_integral_value():
        return f"{int(value * 1000)}m"
    number = int(value)
    steps = ("Ki", "Mi", "Gi", "Ti", "Pi") if binary else ("k", "M", "G", "T", "P")
    base = 1024 if binary else 1000
    suffix = ""
    for step in steps:
        if number == 0 or number % base:
            break
        number //= base
        suffix = step
    return f"{number}{suffix}"


def _container_usage(container: Obj) -> dict[str, Decimal]:
    """What one container charges a quota, under the names quotas use."""
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    out: dict[str, Decimal] = {}
    for name in ("cpu", "memory", "ephemeral-storage"):
        if name in requests:
            out[name] = out[f"requests.{name}"] = parse_quantity(requests[name])
        if name in limits:
            out[f"limits.{name}"] = parse_quantity(limits[name])
    for name, value in requests.items():
        if "/" in name:  # an extended resource: quotas name it requests.<name> only
            out[f"requests.{name}"] = parse_quantity(value)
    return out


def pod_usage(pod: Obj) -> dict[str, Decimal]:
    """What a pod charges: its containers' sums (init containers' largest, as the
    scheduler counts them), `pods` 1 while it is not terminal, `count/pods` always."""
    spec = pod.get("spec") or {}
    out: dict[str, Decimal] = {"count/pods": Decimal(1)}
    if (pod.get("status") or {}).get("phase") in _TERMINAL:
        return out
    out["pods"] = Decimal(1)
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for name, value in _container_usage(container).items():
            total[name] = total.get(name, Decimal(0)) + value
    for container in spec.get("initContainers") or []:
        for name, value in _container_usage(container).items():
            total[name] = max(total.get(name, Decimal(0)), value)
    out.update(total)
    return out


def quota_refusal(quota: Obj, pod: Obj, pods: list[Obj]) -> str | None:
    """Why `quota` refuses `pod` given the namespace's other `pods`; None if it fits."""
    name = quota["metadata"]["name"]
    hard = {k: parse_quantity(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()}
    spec = pod.get("spec") or {}
    required = _MUST_SPECIFY & hard.keys()
    missing: dict[str, list[str]] = {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for resource in sorted(required - _container_usage(container).keys()):
            missing.setdefault(resource, []).append(container["name"])
    if missing:
        parts = [f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing)]
        return f"failed quota: {name}: must specify {'; '.join(parts)}"
    requested = {k: v for k, v in pod_usage(pod).items() if k in hard}
    used: dict[str, Decimal] = {}
    for other in pods:
        for k, v in pod_usage(other).items():
            if k in hard:
                used[k] = used.get(k, Decimal(0)) + v
    exceeded = sorted(k for k, v in requested.items() if used.get(k, Decimal(0)) + v > hard[k])
    if not exceeded:
        return None
    raw = (quota.get("spec") or {}).get("hard") or {}

    def show(values: dict[str, Decimal]) -> str:
        return ",".join(
            f"{k}={format_quantity(values.get(k, Decimal(0)), binary='i' in str(raw[k]))}"
            for k in exceeded
        )

    return (
        f"exceeded quota: {name}, requested: {show(requested)}, used: {show(used)}, "
        f"limited: {show(hard)}"
    )


@dataclass(frozen=True)
class Sidecar:
    """A container a mutating webhook adds to every pod (in `namespaces`, or all)."""

    container: Obj
    native: bool = False
    namespaces: frozenset[str] | None = None


def sidecar_container(name: str, image: str) -> Obj:
    """A proxy container that meets Pod Security "restricted", as current meshes inject."""
    return {
        "name": name,
        "image": image,
        "args": ["proxy", "sidecar"],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": 1337,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


@dataclass
class Admission:
    """The double's admission chain for pods; see the module docstring."""

    sidecars: list[Sidecar] = field(default_factory=list)

    def admit(self, store: KubeStore, plural: str, namespace: str, body: Obj) -> Obj:
        """The object as admitted (mutated); raises ApiError(403) to refuse it."""
        if plural != "pods":
            return body
        pod = copy.deepcopy(body)
        name = pod["metadata"]["name"]
        spec = pod.setdefault("spec", {})
        spec.setdefault("serviceAccountName", DEFAULT_SERVICE_ACCOUNT)
        for sidecar in self.sidecars:
            if sidecar.namespaces is None or namespace in sidecar.namespaces:
                self._inject(spec, sidecar)
        account = spec["serviceAccountName"]
        if ("serviceaccounts", namespace, account) not in store.objects:
            why = (
                f"error looking up service account {namespace}/{account}: "
                f'serviceaccount "{account}" not found'
            )
            raise _forbidden(name, why)
        ns = store.objects.get(("namespaces", "", namespace)) or {"metadata": {}}
        labels = ns["metadata"].get("labels") or {}
        if (violation := kube_pod_security.refusal(labels, spec)) is not None:
            raise _forbidden(name, violation)
        objects = store.objects
        pods = [
            p
            for (kind, ns_name, _), p in objects.items()
            if kind == "pods" and ns_name == namespace
        ]
        quotas = [
            q
            for (kind, ns_name, _), q in sorted(objects.items())
            if kind == "resourcequotas" and ns_name == namespace
        ]
        for quota in quotas:
            if (exceeded := quota_refusal(quota, pod, pods)) is not None:
                raise _forbidden(name, exceeded)
        return pod

    @staticmethod
    def _inject(spec: Obj, sidecar: Sidecar) -> None:
        container = copy.deepcopy(sidecar.container)
        if sidecar.native:
            container["restartPolicy"] = "Always"
            spec["initContainers"] = [container, *(spec.get("initContainers") or [])]
        else:
            spec["containers"] = [*(spec.get("containers") or []), container]
