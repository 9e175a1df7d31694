"""A unit's logs through pods/log: read once, or followed across the key's runs.

Each run is its own Pod, so previous=True reads the Pod of the run before the current one
(the API's own `previous` flag, for restarts inside one Pod, never applies). A pod that is
gone, or whose containers the kubelet has already removed, is read from its kept copy
(log_archive.py), so stopped and forgotten runs keep their logs as they do on the local
runtime. Following resumes after the stream ends early (log_follow.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sapwood.manifests.pods import CONTAINER_NAME
from sapwood.server.runtimes.base import UnitKey
from sapwood.server.runtimes.kubernetes.client import TRANSPORT_ERRORS, KubeClient
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, translate, unreachable
from sapwood.server.runtimes.kubernetes.log_archive import (
    COLLECTED,
    choose,
    kept_log_of,
    kept_logs,
    log_path,
)
from sapwood.server.runtimes.kubernetes.log_follow import follow_pod
from sapwood.server.runtimes.kubernetes.states import is_exited

if TYPE_CHECKING:  # the runtime imports this module; only its type is needed here
    from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime

Obj = dict[str, Any]

POLL_S = 0.5
_WAITING = 400  # the container has not started: no log yet


async def stream_logs(
    runtime: KubernetesRuntime, key: UnitKey, *, follow: bool, previous: bool
) -> AsyncIterator[bytes]:
    kube = runtime.kube
    current, before = await runtime.unit_pods(key)
    pod = before if previous else current
    if pod is not None:
        if follow and not previous and not is_exited(pod):
            async for chunk in follow_pod(kube, pod):
                yield chunk
        else:
            async for chunk in _read_pod(kube, pod):
                yield chunk
        seen = pod["metadata"]["name"]
    else:  # the pod is gone: its kept copy, if any
        if current is None and not await runtime.has_team_namespace(key):
            return  # no team namespace: the key never ran here
        namespace = runtime.namespace(key.team)
        kept = choose(await kept_logs(kube, namespace, key), current=current, previous=previous)
        if kept is not None:
            yield kept.notice() + kept.data
        if current is None or not follow:
            return
        seen = kept.pod if kept is not None else ""
    if not follow:
        return
    while True:  # later runs of the key; the caller ends the iteration
        current, _ = await runtime.unit_pods(key)
        if current is None or current["metadata"]["name"] == seen:
            await asyncio.sleep(POLL_S)
            continue
        async for chunk in follow_pod(kube, current):
            yield chunk
        seen = current["metadata"]["name"]


async def _read_pod(kube: KubeClient, pod: Obj) -> AsyncIterator[bytes]:
    """The pod's log as it is now; its kept copy once the pod or its container is gone."""
    query = [("container", CONTAINER_NAME)]
    try:
        data: bytes | None = await asyncio.to_thread(kube.read, log_path(pod), query=query)
    except ApiStatusError as error:
        if error.status == _WAITING and not is_exited(pod):
            return  # not started yet: no log
        if error.status not in (_WAITING, 404):
            raise translate(error, action="read a log") from error
        data = None
    except TRANSPORT_ERRORS as error:
        raise unreachable(error, action="read a log") from error
    if data is not None and not data.startswith(COLLECTED):
        if data:
            yield data
        return
    kept = await kept_log_of(kube, pod)
    if kept is not None:
        yield kept.notice() + kept.data
