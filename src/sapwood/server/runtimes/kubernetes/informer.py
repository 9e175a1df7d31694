"""A pod cache per namespace, kept by list + watch (the client-go informer pattern).

One thread per namespace lists the unit pods once, then watches from the list's
resourceVersion with bookmarks (so a quiet watch still advances its version and can resume
where it stopped). An expired version (410 Gone, as an ERROR event or an HTTP answer)
means events were missed: it lists again. Other failures back off and resume from the
last version seen. The runtime also writes the results of its own calls into the cache,
so observe() right after start() already shows the new pod; a version check keeps an older
event from overwriting a newer object.

The thread is supervised: any unexpected failure (a broken line in the stream, a bug) is
logged, clears `synced` and records `error` (observe() then reports it instead of serving a
frozen cache), and the thread lists again after a backoff. A pod deleted by someone else
leaves its last copy in `gone()` (a tombstone) until the runtime drops it, so its final
state is not lost with it; a relist turns pods that vanished meanwhile into tombstones too.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from sapwood.server.runtimes.kubernetes.client import TRANSPORT_ERRORS, KubeClient, lines
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError

log = logging.getLogger("sapwood.runtime.kubernetes")

Obj = dict[str, Any]


def newer(candidate: str, current: str) -> bool:
    """Whether resourceVersion `candidate` is at least `current` (etcd's are integers)."""
    if candidate.isdigit() and current.isdigit():
        return int(candidate) >= int(current)
    return True


def _version(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))


class PodInformer:
    """Watches the pods matching `selector` in `namespace`, in a daemon thread."""

    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        *,
        selector: str,
        watch_timeout_s: int,
        on_relist: Callable[[str], None] | None = None,
    ) -> None:
        self.namespace = namespace
        self.synced = threading.Event()
        self.error: str | None = None  # the last unexpected failure, until a list succeeds
        self.relists = 0  # how many times it listed (1 + one per expired version)
        self._kube = kube
        self._selector = selector
        self._watch_timeout_s = watch_timeout_s
        self._on_relist = on_relist
        self._pods: dict[str, Obj] = {}
        self._gone: dict[str, str] = {}  # name -> version at deletion: ignore older events
        self._tombstones: dict[str, Obj] = {}  # name -> last copy of a pod deleted by others
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._response: Any = None
        self._version = ""
        self._path = f"/api/v1/namespaces/{namespace}/pods"
        self._thread = threading.Thread(
            target=self._run, name=f"sapwood-informer-{namespace}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def ensure_running(self) -> None:
        """Starts the thread again if it ended without stop() (it should never)."""
        if self._stopped.is_set() or self._thread.is_alive():
            return
        log.error("the pod watch of %s had ended; starting it again", self.namespace)
        self.synced.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"sapwood-informer-{self.namespace}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ends the watch at once (interrupting a blocked read); does not wait."""
        self._stopped.set()
        response = self._response
        if response is not None:
            try:
                response.shutdown()
            except Exception:
                log.debug("shutting the %s watch down failed", self.namespace, exc_info=True)

    def pods(self) -> list[Obj]:
        with self._lock:
            return list(self._pods.values())

    def gone(self) -> list[Obj]:
        """Last copies of pods deleted by someone else (not through `remove`)."""
        with self._lock:
            return list(self._tombstones.values())

    def drop_gone(self, name: str) -> None:
        with self._lock:
            self._tombstones.pop(name, None)

    def upsert(self, pod: Obj) -> None:
        """Record an object the runtime just read or wrote, unless the cache has newer."""
        name = pod["metadata"]["name"]
        version = _version(pod)
        with self._lock:
            known = self._pods.get(name)
            if known is not None and not newer(version, _version(known)):
                return
            gone = self._gone.get(name)
            if gone is not None and (version == gone or not newer(version, gone)):
                return
            self._gone.pop(name, None)
            self._tombstones.pop(name, None)
            self._pods[name] = pod

    def remove(self, name: str, *, version: str = "") -> None:
        """Forget a pod the runtime itself deleted (no tombstone)."""
        with self._lock:
            self._pods.pop(name, None)
            self._tombstones.pop(name, None)
            self._gone[name] = version or self._version

    def _deleted(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        with self._lock:
            known = name in self._pods
            self._pods.pop(name, None)
            self._gone[name] = _version(obj)
            if known:
                self._tombstones[name] = obj

    # --- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        delay = 0.5
        must_list = True
        while not self._stopped.is_set():
            try:
                if must_list:
                    self._list()
                    must_list = False
                must_list = self._watch()
                delay = 0.5
            except ApiStatusError as error:
                if error.status == 410:
                    must_list = True
                    continue
                delay = self._pause(delay, error)
            except TRANSPORT_ERRORS as error:
                delay = self._pause(delay, error)
            except Exception as error:
                # Events may have been lost: stop serving the cache until a fresh list.
                log.exception("watching pods in %s failed unexpectedly", self.namespace)
                self.error = f"{type(error).__name__}: {error}"
                self.synced.clear()
                must_list = True
                delay = self._pause(delay, error)

    def _pause(self, delay: float, error: Exception) -> float:
        if not self._stopped.is_set():
            log.warning("watching pods in %s failed (%s); retrying", self.namespace, error)
        self._stopped.wait(delay * random.uniform(0.5, 1.5))
        return min(delay * 2, 30.0)

    def _list(self) -> None:
        body = self._kube.request("GET", self._path, query=[("labelSelector", self._selector)])
        items = body.get("items") or []
        with self._lock:
            listed = {pod["metadata"]["name"]: pod for pod in items}
            for name, pod in self._pods.items():
                if name not in listed:  # deleted while the watch was away
                    self._tombstones[name] = pod
            self._pods = listed
            self._gone.clear()
            self.error = None
            self._version = str(body.get("metadata", {}).get("resourceVersion", ""))
        self.relists += 1
        self.synced.set()
        if self._on_relist is not None:
            self._on_relist(self.namespace)

    def _watch(self) -> bool:
        """Follows events until the server ends the watch; True when it must list again."""
        query: list[tuple[str, str | int | bool]] = [
            ("labelSelector", self._selector),
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self._version),
            ("timeoutSeconds", self._watch_timeout_s),
        ]
        response = self._kube.open_stream(
            self._path, query=query, read_timeout_s=self._watch_timeout_s + 30
        )
        self._response = response
        try:
            for line in lines(response.stream(64 * 1024, decode_content=True)):
                if self._stopped.is_set():
                    return False
                if self._apply(json.loads(line)):
                    return True
        finally:
            self._response = None
            response.release_conn()
        return False

    def _apply(self, event: Obj) -> bool:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                return True
            raise ApiStatusError(int(code or 500), str(obj.get("message", "")))
        version = _version(obj)
        if kind == "BOOKMARK":
            self._version = version
            return False
        if kind == "DELETED":
            self._deleted(obj)
        else:
            self.upsert(obj)
        self._version = version
        return False
