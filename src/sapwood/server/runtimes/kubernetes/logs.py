"""A unit's logs through pods/log: read once, or followed across the key's runs.

Kubernetes keeps a container's log only as long as its Pod: forget() (which deletes the
Pods) drops the logs with them, unlike the local runtime. previous=True reads the Pod of
the run before the current one (each run is its own Pod, so the API's own `previous`
flag, for restarts inside one Pod, never applies).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sapwood.manifests.pods import CONTAINER_NAME
from sapwood.server.runtimes.base import UnitKey
from sapwood.server.runtimes.kubernetes.client import TRANSPORT_ERRORS, KubeClient
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, translate, unreachable

if TYPE_CHECKING:  # the runtime imports this module; only its type is needed here
    from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime

Obj = dict[str, Any]

POLL_S = 0.5
_WAITING = 400  # the container has not started: no log yet


def _log_path(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/log"


async def stream_logs(
    runtime: KubernetesRuntime, key: UnitKey, *, follow: bool, previous: bool
) -> AsyncIterator[bytes]:
    current, before = await runtime.unit_pods(key)
    pod = before if previous else current
    if pod is None:
        return
    if not follow:
        try:
            data = await asyncio.to_thread(
                runtime.kube.read, _log_path(pod), query=[("container", CONTAINER_NAME)]
            )
        except ApiStatusError as error:
            if error.status in (_WAITING, 404):
                return
            raise translate(error, action="read a log") from error
        except TRANSPORT_ERRORS as error:
            raise unreachable(error, action="read a log") from error
        if data:
            yield data
        return
    while True:
        async for chunk in _follow(runtime.kube, pod):
            yield chunk
        name = pod["metadata"]["name"]
        while True:  # until the key runs again; the caller ends the iteration
            await asyncio.sleep(POLL_S)
            current, _ = await runtime.unit_pods(key)
            if current is not None and current["metadata"]["name"] != name:
                pod = current
                break


async def _follow(kube: KubeClient, pod: Obj) -> AsyncIterator[bytes]:
    """Streams one pod's log until its container ends; waits while it has not started."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    holder: dict[str, Any] = {}
    done = threading.Event()

    def put(item: bytes | BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is reading
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            query = [("container", CONTAINER_NAME), ("follow", "true")]
            raw = kube.open_stream(_log_path(pod), query=query, read_timeout_s=24 * 3600)
            holder["raw"] = raw
            try:
                for chunk in raw.stream(64 * 1024, decode_content=True):
                    if done.is_set():
                        break
                    put(chunk)
            finally:
                raw.release_conn()
            put(None)
        except BaseException as error:
            put(error)

    try:
        while True:
            threading.Thread(target=pump, name="sapwood-log-follow", daemon=True).start()
            while (item := await queue.get()) is not None:
                if isinstance(item, ApiStatusError) and item.status == _WAITING:
                    break
                if isinstance(item, ApiStatusError):
                    if item.status == 404:
                        return
                    raise translate(item, action="follow a log") from item
                if isinstance(item, TRANSPORT_ERRORS):
                    if done.is_set():
                        return
                    raise unreachable(item, action="follow a log") from item
                if isinstance(item, BaseException):
                    raise item
                yield item
            else:
                return
            await asyncio.sleep(POLL_S)  # not started yet: try again
    finally:
        done.set()
        raw = holder.get("raw")
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.shutdown()
