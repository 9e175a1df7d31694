"""An in-process Kubernetes API server double, for testing `KubernetesRuntime` without a cluster.

`KubeApiDouble` serves the paths the runtime uses (namespaces, nodes, pods and pods/log,
services, persistentvolumeclaims, secrets, jobs, deployments and statefulsets with their
scale subresource, rolebindings, and metrics.k8s.io pods) from `KubeStore` on a free
127.0.0.1 port, in a thread, and writes a kubeconfig pointing at itself. A
`KubeletSimulator` (`kube_kubelet`) plays the kubelet: it runs new pods at once (or
leaves them Pending), fails missing commands, and terminates pods being deleted. Tests
drive the rest through hooks: `finish_pod`, `set_pod_status`, `write_log`, `compact`
(the next watch from an old resourceVersion gets 410 Gone), `fail_next` (an error
answer), `add_node` (taints, NotReady) and `add_daemon_pod` (kube_node_bodies),
`write_log`, `end_log_streams` (a follow stream ends early) and `collect_containers` (the
kubelet's container garbage collection) (kube_logs: stamped lines, since/tail/limit,
follow), `end_watch_streams`. Lists honour `limit` and `continue` (kube_paging).

A `JobController` (`kube_jobs`) runs batch/v1 Jobs: it makes their pods and marks them
Complete or Failed from how the pods end. It is not an API server: no validation beyond
names, admission for pods only (Priority's in the store; ServiceAccount, Pod Security,
ResourceQuota and an optional sidecar webhook in `kube_admission`), no other controllers
(a Deployment or StatefulSet makes no pods), apply merges fields instead of tracking
field ownership.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sapwood.testing.kube_admission import Admission, Sidecar, sidecar_container
from sapwood.testing.kube_authz import RequestGuard
from sapwood.testing.kube_jobs import JobController
from sapwood.testing.kube_kubelet import KubeletSimulator, finish_pod
from sapwood.testing.kube_logs import LogBook, LogHooks, log_response
from sapwood.testing.kube_node_bodies import NodeHooks
from sapwood.testing.kube_nodes import evict_lost_pods, lose_node, restore_node
from sapwood.testing.kube_paging import paginate
from sapwood.testing.kube_rbac import Authorizer
from sapwood.testing.kube_store import (
    RESOURCES,
    ApiError,
    KubeStore,
    Obj,
    matches_fields,
    matches_labels,
)
from sapwood.testing.kube_writes import warning_headers, write_options


@dataclass(frozen=True)
class Failure:
    code: int
    message: str
    method: str | None
    path_contains: str


class KubeApiDouble(LogHooks, NodeHooks):
    """The double's ASGI app and the uvicorn thread that serves it. Use `running()`."""

    def __init__(
        self, *, kubelet: KubeletSimulator | None = None, bookmark_interval_s: float = 0.2
    ) -> None:
        self.store = KubeStore()
        self.kubelet = kubelet or KubeletSimulator()
        self.store.on_pod_created.append(self.kubelet.on_created)
        self.store.on_pod_deleting.append(self.kubelet.on_deleting)
        self.store.on_changed.append(self.kubelet.on_changed)
        self.admission = Admission()
        self.store.admission.append(self.admission.admit)
        self.jobs = JobController()
        self.store.on_changed.append(self.jobs.on_changed)
        self.logbook = LogBook(self.store.lock)  # containers' logs; gone with their pods
        self.store.on_changed.append(self.drop_logs)
        # Authentication, RBAC and ValidatingAdmissionPolicies run before every handler.
        self.rbac = Authorizer(self.store)
        self.guard = RequestGuard(self.store, self.rbac)
        self.bookmark_interval_s = bookmark_interval_s
        self.pod_metrics: dict[tuple[str, str], Obj] | None = None  # None: no metrics API
        self.requests: list[tuple[str, str]] = []  # (method, path), for assertions
        self._failures: list[Failure] = []
        self._closing = threading.Event()
        self._expired = 0
        self._watch_generation = 0  # bumped by end_watch_streams
        self._garbled_watches = 0  # garble_next_watch: watches that answer a broken line
        self.url = ""
        self.app = Starlette(routes=_routes(self))

    # --- hooks for tests ---------------------------------------------------------------

    def add_namespace(self, name: str, labels: dict[str, str] | None = None) -> Obj:
        return self.store.create(
            "namespaces", "", {"metadata": {"name": name, "labels": labels or {}}}
        )

    def add_resource_quota(self, namespace: str, name: str, hard: dict[str, str]) -> Obj:
        """A ResourceQuota (`hard`: {"requests.cpu": "4", "pods": "10"}); pod creates that
        would pass it are refused (kube_admission). Apply it again to raise it."""
        body = {"metadata": {"name": name}, "spec": {"hard": dict(hard)}}
        if ("resourcequotas", namespace, name) in self.store.objects:
            return self.store.patch("resourcequotas", namespace, name, body, status=False)
        return self.store.create("resourcequotas", namespace, body)

    def inject_sidecar(
        self,
        name: str = "istio-proxy",
        *,
        image: str = "docker.io/istio/proxyv2:1.24.0",
        native: bool = False,
        namespaces: frozenset[str] | None = None,
    ) -> None:
        """From now on a mutating webhook adds container `name` to every new pod (in
        `namespaces`, or all), as a service mesh injects its proxy; `native`: as an init
        container with restartPolicy Always (a native sidecar, Kubernetes 1.29+)."""
        sidecar = Sidecar(sidecar_container(name, image), native=native, namespaces=namespaces)
        with self.store.lock:
            self.admission.sidecars.append(sidecar)

    def add_priority_class(self, name: str, value: int = 0) -> Obj:
        """A PriorityClass, as `sapwood install kubernetes` makes them."""
        body = {"metadata": {"name": name}, "value": value, "preemptionPolicy": "Never"}
        return self.store.create("priorityclasses", "", body)

    def finish_pod(
        self,
        namespace: str,
        name: str,
        exit_code: int,
        *,
        reason: str | None = None,
        container: str | None = None,
    ) -> Obj:
        """The pod's containers (or only `container`) exit with `exit_code`."""
        return finish_pod(
            self.store, namespace, name, exit_code=exit_code, reason=reason, container=container
        )

    def set_pod_status(self, namespace: str, name: str, status: Obj) -> Obj:
        return self.store.set_pod_status(namespace, name, status)

    def pods(self, namespace: str = "", labels: str = "") -> list[Obj]:
        return self.store.list("pods", namespace, labels=labels)[0]

    def end_watch_streams(self) -> None:
        """End every open watch now, cleanly and without an error event (an API server
        restart): watchers must watch again from the last resourceVersion they saw."""
        with self.store.lock:
            self._watch_generation += 1

    def lose_node(self, name: str) -> Obj:
        """The node's kubelet stops reporting (kube_nodes.lose_node): Ready Unknown,
        unreachable taints, its pods not Ready; nothing on it runs or ends any more."""
        return lose_node(self.store, name)

    def evict_lost_pods(self, name: str) -> list[str]:
        """The NoExecute toleration of a lost node's pods ran out (300 s on a real
        cluster): the taint manager marks them DisruptionTarget and deletes them; they stay
        Terminating, as no kubelet confirms. Returns their names."""
        return evict_lost_pods(self.store, name)

    def restore_node(self, name: str) -> None:
        """The node's kubelet reports again: pods deleted meanwhile end and go."""
        with self.store.lock:
            self.kubelet.after_restore(self.store, restore_node(self.store, name))

    def garble_next_watch(self, count: int = 1) -> None:
        """The next `count` watches answer a line cut in the middle of a JSON object."""
        with self.store.lock:
            self._garbled_watches += count

    def compact(self) -> None:
        """Drop the event history: the next watch from an older version gets 410 Gone."""
        self.store.compact()

    def expire_watches(self) -> None:
        """Compact, and end every open watch with a 410 Gone error event (as an API server
        does when a watcher falls behind the retained history): watchers must list again."""
        with self.store.lock:
            self.store.compact()
            self._expired += 1

    def fail_next(
        self, code: int, message: str, *, method: str | None = None, path_contains: str = ""
    ) -> None:
        """The next matching request is answered with a Status of `code`."""
        with self.store.lock:
            self._failures.append(Failure(code, message, method, path_contains))

    def _take_failure(self, method: str, path: str) -> Failure | None:
        with self.store.lock:
            self.requests.append((method, path))
            for failure in self._failures:
                if (failure.method in (None, method)) and failure.path_contains in path:
                    self._failures.remove(failure)
                    return failure
            return None

    # --- serving -------------------------------------------------------------------------

    def write_kubeconfig(
        self,
        path: Path,
        *,
        context: str = "double",
        service_account: tuple[str, str] | None = None,
    ) -> Path:
        """A kubeconfig for the cluster admin, or for `service_account` (namespace, name):
        a token of that account, authorised by the RBAC objects in the double."""
        token = "double-token" if service_account is None else self.rbac.token_for(*service_account)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "double", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": "double", "user": "tester"}}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    @contextmanager
    def running(self) -> Iterator[KubeApiDouble]:
        """Serve on a free loopback port until the block ends."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="kube-api-double", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the Kubernetes API double did not start")
            time.sleep(0.01)
        try:
            yield self
        finally:
            self._closing.set()
            server.should_exit = True
            thread.join(timeout=5)
            sock.close()

    # --- handlers ------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        params = request.path_params
        plural = params["plural"]
        namespace = params.get("namespace", "")
        name = params.get("name", "")
        sub = params.get("sub", "")
        refused = await self.guard.check(request)
        if refused is not None:
            return refused
        failure = self._take_failure(request.method, request.url.path)
        if failure is not None:
            reason = {403: "Forbidden", 409: "Conflict", 422: "Invalid", 429: "TooManyRequests"}
            error = ApiError(
                failure.code, reason.get(failure.code, "InternalError"), failure.message
            )
            return JSONResponse(error.status(), status_code=failure.code)
        if plural not in RESOURCES:
            return _error(ApiError(404, "NotFound", f"the server could not find {plural}"))
        try:
            if not name:
                return await self._collection(request, plural, namespace)
            if sub == "log":
                return await self._log(request, namespace, name)
            if sub == "scale":
                return await self._scale(request, plural, namespace, name)
            return await self._item(request, plural, namespace, name, status=sub == "status")
        except ApiError as error:
            return _error(error)

    async def _collection(self, request: Request, plural: str, namespace: str) -> Response:
        q = request.query_params
        if request.method == "POST":
            body = json.loads(await request.body())
            options = write_options(q)
            obj = self.store.create(plural, namespace, body, options=options)
            return JSONResponse(obj, status_code=201, headers=warning_headers(options))
        if q.get("watch") in ("true", "1"):
            return StreamingResponse(
                self._watch(request, plural, namespace), media_type="application/json"
            )
        items, version = self.store.list(
            plural, namespace, labels=q.get("labelSelector", ""), fields=q.get("fieldSelector", "")
        )
        page = paginate(
            items,
            version=version,
            limit=q.get("limit", ""),
            token=q.get("continue", ""),
            compacted_at=self.store.compacted_at,
        )
        meta: Obj = {"resourceVersion": str(page.version)}
        if page.token:
            meta.update({"continue": page.token, "remainingItemCount": page.remaining})
        api_version, kind, _ = RESOURCES[plural]
        body = {"apiVersion": api_version, "kind": f"{kind}List", "metadata": meta}
        return JSONResponse({**body, "items": page.items})

    async def _watch(self, request: Request, plural: str, namespace: str) -> AsyncIterator[bytes]:
        q = request.query_params
        labels, fields = q.get("labelSelector", ""), q.get("fieldSelector", "")
        version = int(q.get("resourceVersion") or self.store.resource_version)
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        deadline = time.monotonic() + float(q.get("timeoutSeconds") or 1800)
        last_bookmark = time.monotonic()
        _, kind, _ = RESOURCES[plural]
        expired, generation = self._expired, self._watch_generation
        with self.store.lock:
            garbled = self._garbled_watches > 0
            self._garbled_watches = max(0, self._garbled_watches - 1)
        if garbled:
            yield b'{"type": "MODIFIED", "object": {"metadata": \n'  # cut mid-object
            return
        while not self._closing.is_set() and time.monotonic() < deadline:
            if self._watch_generation != generation:
                return  # ended early (end_watch_streams), without an error event
            try:
                with self.store.lock:
                    if self._expired != expired:
                        raise ApiError(410, "Expired", "too old resource version")
                    events = self.store.events_after(version, plural, namespace)
                    current = self.store.resource_version
            except ApiError as error:
                yield _line({"type": "ERROR", "object": error.status()})
                return
            for event in events:
                version = event.resource_version
                meta = event.object["metadata"]
                if matches_labels(meta.get("labels") or {}, labels) and matches_fields(
                    event.object, fields
                ):
                    yield _line({"type": event.type, "object": event.object})
            version = max(version, current)
            if bookmarks and time.monotonic() - last_bookmark >= self.bookmark_interval_s:
                last_bookmark = time.monotonic()
                marker = {"kind": kind, "metadata": {"resourceVersion": str(version)}}
                yield _line({"type": "BOOKMARK", "object": marker})
            await asyncio.sleep(0.02)

    async def _item(
        self, request: Request, plural: str, namespace: str, name: str, *, status: bool
    ) -> Response:
        q = request.query_params
        if request.method == "GET":
            return JSONResponse(self.store.get(plural, namespace, name))
        if request.method == "DELETE":
            raw = await request.body()
            options = json.loads(raw) if raw else {}
            propagation = q.get("propagationPolicy") or options.get("propagationPolicy")
            grace = q.get("gracePeriodSeconds") or options.get("gracePeriodSeconds")
            obj = self.store.delete(
                plural,
                namespace,
                name,
                propagation=propagation or "Background",
                grace_period_s=None if grace is None else int(grace),
            )
            return JSONResponse(obj)
        if request.method == "PATCH":
            content_type = request.headers.get("content-type", "")
            raw = await request.body()
            if content_type.startswith("application/apply-patch"):
                body = yaml.safe_load(raw)
                force = q.get("force") in ("true", "1")
                manager = q.get("fieldManager", "")
                opts = write_options(q)
                obj = self.store.apply(
                    plural, namespace, name, body, manager=manager, force=force, options=opts
                )
                return JSONResponse(obj, headers=warning_headers(opts))
            if "merge-patch" in content_type:
                opts = write_options(q)
                patch = json.loads(raw)
                obj = self.store.patch(plural, namespace, name, patch, status=status, options=opts)
                return JSONResponse(obj, headers=warning_headers(opts))
            raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported")

    async def _scale(self, request: Request, plural: str, namespace: str, name: str) -> Response:
        if plural not in ("deployments", "statefulsets"):
            raise ApiError(404, "NotFound", f"{plural} have no scale subresource")
        if request.method == "PATCH":
            body = json.loads(await request.body())
            replicas = body.get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", "spec.replicas: must be a non-negative integer")
            self.store.patch(
                plural, namespace, name, {"spec": {"replicas": replicas}}, status=False
            )
        obj = self.store.get(plural, namespace, name)
        replicas = obj.get("spec", {}).get("replicas", 1)
        return JSONResponse(
            {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "resourceVersion": obj["metadata"]["resourceVersion"],
                },
                "spec": {"replicas": replicas},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0)},
            }
        )

    async def _log(self, request: Request, namespace: str, name: str) -> Response:
        """pods/log (kube_logs: timestamps, sinceTime, tailLines, limitBytes, follow)."""
        params = dict(request.query_params)
        return log_response(self.store, self.logbook, self._closing, namespace, name, params)

    async def metrics(self, request: Request) -> Response:
        namespace = request.path_params["namespace"]
        refused = await self.guard.check(request, metrics=True)
        if refused is not None:
            return refused
        if self.pod_metrics is None:
            return _error(
                ApiError(404, "NotFound", "the server could not find the requested resource")
            )
        items = [m for (ns, _), m in self.pod_metrics.items() if ns == namespace]
        return JSONResponse(
            {
                "apiVersion": "metrics.k8s.io/v1beta1",
                "kind": "PodMetricsList",
                "metadata": {},
                "items": items,
            }
        )


def _line(event: Any) -> bytes:
    return json.dumps(event).encode() + b"\n"


def _error(error: ApiError) -> Response:
    return JSONResponse(error.status(), status_code=error.code)


def _routes(api: KubeApiDouble) -> list[Route]:
    methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    paths = [
        "/api/v1/namespaces/{namespace}/{plural}/{name}/{sub}",
        "/api/v1/namespaces/{namespace}/{plural}/{name}",
        "/api/v1/namespaces/{namespace}/{plural}",
        "/api/v1/{plural}/{name}",
        "/api/v1/{plural}",
        "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}/{sub}",
        "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
        "/apis/{group}/{version}/namespaces/{namespace}/{plural}",
        "/apis/{group}/{version}/{plural}/{name}",
        "/apis/{group}/{version}/{plural}",
    ]
    metrics = Route("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", api.metrics)
    return [metrics, *(Route(p, api.handle, methods=methods) for p in paths)]
