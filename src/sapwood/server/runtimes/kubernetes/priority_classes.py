"""The cluster's PriorityClasses, as far as unit Pods need them: read at most once a
minute, and a warning once per class a Pod has to go without."""

from __future__ import annotations

import logging
import math
import time

from sapwood.manifests.names import priority_class_name
from sapwood.manifests.options import RenderOptions
from sapwood.server.runtimes.base import UnitSpec
from sapwood.server.runtimes.kubernetes.calls import call_unless
from sapwood.server.runtimes.kubernetes.client import KubeClient

log = logging.getLogger("sapwood.runtime.kubernetes")

TRUST_S = 60.0  # how long a read of the cluster's PriorityClasses is trusted
_UNREADABLE = frozenset({403, 404, 503})
_PATH = "/apis/scheduling.k8s.io/v1/priorityclasses"


class PriorityClasses:
    def __init__(self, kube: KubeClient, options: RenderOptions) -> None:
        self._kube = kube
        self._options = options
        self._names: frozenset[str] | None = None
        self._read_at = -math.inf
        self._told: set[str] = set()

    async def known(self) -> frozenset[str] | None:
        """The cluster's PriorityClass names; None when they cannot be read (no right to
        list them): a Pod then names its class regardless."""
        if time.monotonic() - self._read_at < TRUST_S:
            return self._names
        body = await call_unless(
            "list priority classes", _UNREADABLE, self._kube.request, "GET", _PATH
        )
        names = body.get("items") or [] if body is not None else None
        self._names = None if names is None else frozenset(i["metadata"]["name"] for i in names)
        self._read_at = time.monotonic()
        return self._names

    def tell_missing(self, unit: UnitSpec, pod_spec: dict[str, object]) -> None:
        """Warns once per class a unit asked for and its Pod goes without."""
        if not unit.priority_class or "priorityClassName" in pod_spec:
            return
        name = priority_class_name(unit.priority_class, options=self._options)
        if name not in self._told:
            self._told.add(name)
            log.warning(
                "the cluster has no PriorityClass %s: pods run without it "
                "(apply `sapwood install kubernetes` to create Sapwood's classes)",
                name,
            )
