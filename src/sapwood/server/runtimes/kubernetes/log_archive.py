"""Kept logs: a copy of a unit pod's log that outlives the pod.

The kubelet removes the containers of a deleted pod within about a minute, and their logs
with them, so a stopped or forgotten run's log (and `previous`) would vanish. Before the
runtime deletes a pod whose container has ended (forget, retire), and once a stopped pod's
container has ended, it copies the end of the log into a ConfigMap in the team namespace:
any server replica can read it, it needs no volume or extra service, and it goes with the
namespace. It is not a log store (one will come later); it keeps what a user may still ask
for: the last two runs of each unit.

Size: a ConfigMap holds at most 1 MiB. The copy keeps the last `KEPT_BYTES` (1 MiB less
64 KiB for metadata and gzip's framing) of the last `KEPT_LINES` lines, cut at a line
start, gzip-compressed in `binaryData`; when it had to cut, reading it says so in one line.
Lifetime: keeping run N deletes run N-2's copy of the same unit, and a copy older than
`KEPT_DAYS` is deleted when any later copy is made in its namespace (labels carry the day,
so the sweep lists only expired copies). Keeping never fails a stop or a forget: a copy
that cannot be made is logged as a warning, and the log is then lost as before.
"""

from __future__ import annotations

import base64
import gzip
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sapwood.manifests.pods import CONTAINER_NAME
from sapwood.server.runtimes.base import RuntimeFailure, UnitKey
from sapwood.server.runtimes.kubernetes import manifests as m
from sapwood.server.runtimes.kubernetes.calls import call, call_unless
from sapwood.server.runtimes.kubernetes.client import KubeClient

log = logging.getLogger("sapwood.runtime.kubernetes")

Obj = dict[str, Any]

KEPT_BYTES = 1024 * 1024 - 64 * 1024
KEPT_LINES = 20_000
KEPT_DAYS = 7
KEPT_LABEL = "sapwood.dev/kept-log"
KEPT_ON_LABEL = "sapwood.dev/kept-on"
POD_ANNOTATION = "sapwood.dev/pod"
POD_UID_ANNOTATION = "sapwood.dev/pod-uid"
POD_CREATED_ANNOTATION = "sapwood.dev/pod-created"
TRUNCATED_ANNOTATION = "sapwood.dev/truncated"
DATA_KEY = "log.gz"
# What the kubelet answers, with status 200, once it has removed a container.
COLLECTED = b"unable to retrieve container logs for "
_ABSENT = frozenset({400, 404})


@dataclass(frozen=True)
class KeptLog:
    """A kept copy: whose log it is, the bytes, and whether the start was cut off."""

    pod: str
    pod_uid: str
    pod_created: str
    run: int
    data: bytes
    truncated: bool

    def notice(self) -> bytes:
        """The line that precedes a cut copy; empty when the copy is whole."""
        if not self.truncated:
            return b""
        return (
            f"[sapwood] pod {self.pod} is gone; this is the kept copy of its log, "
            f"truncated to its last {len(self.data)} bytes\n"
        ).encode()


def kept_name(pod_name: str) -> str:
    return f"{pod_name}-log"


def tail(data: bytes, *, lines_cut: bool) -> tuple[bytes, bool]:
    """The end of `data` that a copy keeps, cut at a line start; and whether it was cut."""
    if len(data) <= KEPT_BYTES:
        return data, lines_cut
    end = data[-KEPT_BYTES:]
    start = end.find(b"\n")
    return (end[start + 1 :] if 0 <= start < len(end) - 1 else end), True


def kept_manifest(pod: Obj, data: bytes, *, truncated: bool, today: date) -> Obj:
    """The ConfigMap holding `data`, the kept log of `pod` (owned by nothing)."""
    meta = pod["metadata"]
    key = m.key_of(pod)
    labels = m.unit_labels(key) if key is not None else {}
    annotations = {
        POD_ANNOTATION: meta["name"],
        POD_UID_ANNOTATION: str(meta.get("uid", "")),
        POD_CREATED_ANNOTATION: str(meta.get("creationTimestamp", "")),
    }
    if truncated:
        annotations[TRUNCATED_ANNOTATION] = "true"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": kept_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {
                **labels,
                KEPT_LABEL: "true",
                KEPT_ON_LABEL: today.isoformat(),
                m.RUN_NUMBER: str(m.run_number(pod)),
            },
            "annotations": annotations,
        },
        "binaryData": {DATA_KEY: base64.b64encode(gzip.compress(data, mtime=0)).decode()},
    }


def from_config_map(config_map: Obj) -> KeptLog:
    meta = config_map["metadata"]
    annotations = meta.get("annotations") or {}
    raw = (config_map.get("binaryData") or {}).get(DATA_KEY, "")
    data = gzip.decompress(base64.b64decode(raw)) if raw else b""
    labels = meta.get("labels") or {}
    run = labels.get(m.RUN_NUMBER, "0")
    return KeptLog(
        pod=annotations.get(POD_ANNOTATION, ""),
        pod_uid=annotations.get(POD_UID_ANNOTATION, ""),
        pod_created=annotations.get(POD_CREATED_ANNOTATION, ""),
        run=int(run) if run.isdigit() else 0,
        data=data,
        truncated=annotations.get(TRUNCATED_ANNOTATION) == "true",
    )


def choose(kept: list[KeptLog], *, current: Obj | None, previous: bool) -> KeptLog | None:
    """The copy that stands for the current run (or, with `previous`, the run before it)
    when that run's pod is gone; `current` is the unit's current pod if it still exists.

    Runs are ordered by their pods' creation, then run number (numbers start again after a
    unit was forgotten; two runs created in the same second across such a restart may be
    taken in the wrong order).
    """
    ordered = sorted(kept, key=lambda k: (k.pod_created, k.run), reverse=True)
    if current is not None:
        if not previous:
            return None  # the current pod exists: it is read, or its own copy
        uid = current["metadata"].get("uid")
        return next((k for k in ordered if k.pod_uid != uid), None)
    index = 1 if previous else 0
    return ordered[index] if len(ordered) > index else None


def _sweep_selector(today: date) -> str:
    fresh = ",".join((today - timedelta(days=d)).isoformat() for d in range(KEPT_DAYS))
    return f"{KEPT_LABEL}=true,{KEPT_ON_LABEL} notin ({fresh})"


def _config_maps(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps" + (f"/{name}" if name else "")


def log_path(pod: Obj) -> str:
    """The pods/log path of `pod`."""
    meta = pod["metadata"]
    return f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/log"


async def keep_log(kube: KubeClient, pod: Obj, *, today: date) -> None:
    """Copy the end of `pod`'s log into its kept ConfigMap; never raises (see module)."""
    meta = pod["metadata"]
    try:
        existing = await call_unless(
            "read a kept log",
            _ABSENT,
            kube.request,
            "GET",
            _config_maps(meta["namespace"], kept_name(meta["name"])),
        )
        if existing is not None and from_config_map(existing).pod_uid == meta.get("uid"):
            return  # kept already (stop, then forget)
        query = [("container", CONTAINER_NAME), ("tailLines", str(KEPT_LINES + 1))]
        data = await call_unless("read a log", _ABSENT, kube.read, log_path(pod), query=query)
        if not data or data.startswith(COLLECTED):
            return  # never started, or the kubelet removed its container already
        lines_cut = data.count(b"\n") > KEPT_LINES
        if lines_cut:
            data = data[data.index(b"\n") + 1 :]
        data, truncated = tail(data, lines_cut=lines_cut)
        manifest = kept_manifest(pod, data, truncated=truncated, today=today)
        path = _config_maps(meta["namespace"], manifest["metadata"]["name"])
        await call("keep a log", kube.apply, path, manifest)
        await _prune(kube, pod, today=today)
    except RuntimeFailure as error:
        log.warning("cannot keep the log of pod %s/%s: %s", meta["namespace"], meta["name"], error)


async def _prune(kube: KubeClient, pod: Obj, *, today: date) -> None:
    """Delete the copy two runs back and every expired copy in the namespace."""
    namespace = pod["metadata"]["namespace"]
    key = m.key_of(pod)
    run = m.run_number(pod)
    stale = [kept_name(m.pod_name(key, run - 2))] if key and run > 2 else []
    query = [("labelSelector", _sweep_selector(today))]
    expired = await call(
        "list kept logs", kube.request, "GET", _config_maps(namespace), query=query
    )
    stale += [item["metadata"]["name"] for item in expired.get("items") or []]
    for name in stale:
        await call(
            "delete a kept log",
            kube.delete,
            _config_maps(namespace, name),
            propagation="Background",
        )


async def kept_logs(kube: KubeClient, namespace: str, key: UnitKey) -> list[KeptLog]:
    """Every kept copy of `key`'s runs (at most a few)."""
    query = [("labelSelector", f"{m.unit_selector(key)},{KEPT_LABEL}=true")]
    body = await call_unless(
        "list kept logs", _ABSENT, kube.request, "GET", _config_maps(namespace), query=query
    )
    return [from_config_map(item) for item in (body or {}).get("items") or []]


async def kept_log_of(kube: KubeClient, pod: Obj) -> KeptLog | None:
    """The kept copy of this very pod (same uid); None when there is none."""
    meta = pod["metadata"]
    path = _config_maps(meta["namespace"], kept_name(meta["name"]))
    body = await call_unless("read a kept log", _ABSENT, kube.request, "GET", path)
    if body is None:
        return None
    kept = from_config_map(body)
    return kept if kept.pod_uid == meta.get("uid") else None
