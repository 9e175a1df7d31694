"""A thin, blocking JSON client over the official `kubernetes` ApiClient.

The typed API classes turn every object into generated models; the runtime works on plain
dicts (as the renderers produce them), so this module calls raw paths through the
ApiClient, which still handles kubeconfig, in-cluster tokens, TLS and auth. Every method
blocks: `KubernetesRuntime` calls them through `asyncio.to_thread`. Non-2xx answers raise
`ApiStatusError`; transport failures raise `urllib3` errors (translated by the caller).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from sapwood.server.runtimes.base import RuntimePermanentError
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings

Obj = dict[str, Any]
Query = Sequence[tuple[str, str | int | bool]]

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
FIELD_MANAGER = "sapwood"
# Writes are decoded strictly: a field the server does not know is an error, not a field
# silently dropped (the server's default, Warn, only logs a warning nobody reads).
_WRITES = ("POST", "PUT", "PATCH")

# Transport failures worth a retry: the API server may be restarting or overloaded.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (urllib3.exceptions.HTTPError, OSError)


def api_client(settings: KubernetesRuntimeSettings) -> k8s_client.ApiClient:
    """From the kubeconfig (and context) in `settings`, else the in-cluster service account.

    Raises RuntimePermanentError naming the setting when neither can be loaded.
    """
    configuration = k8s_client.Configuration()
    try:
        if settings.kubeconfig is not None:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(settings.kubeconfig),
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            load = k8s_config.load_incluster_config
            load(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (k8s_config.ConfigException, OSError) as error:
        where = (
            f"SAPWOOD_KUBECONFIG={settings.kubeconfig}"
            if settings.kubeconfig is not None
            else "the in-cluster service account (set SAPWOOD_KUBECONFIG outside a cluster)"
        )
        raise RuntimePermanentError(
            f"cannot configure the Kubernetes client from {where}: {error}", reason="Config"
        ) from error
    return k8s_client.ApiClient(configuration)


SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def in_cluster_namespace(path: Path = SERVICE_ACCOUNT_NAMESPACE) -> str | None:
    """The namespace the server's own pod runs in; None outside a cluster."""
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


class KubeClient:
    """Raw JSON requests; paths are API paths ("/api/v1/namespaces/ns/pods")."""

    def __init__(self, api: k8s_client.ApiClient, *, timeout_s: float) -> None:
        self._api = api
        self._timeout_s = timeout_s

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if method in _WRITES and not any(k == "fieldValidation" for k, _ in query):
            query = [*query, ("fieldValidation", "Strict")]
        serialized = self._api.param_serialize(
            method,
            path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        http_method, url, header_params, request_body, post_params = serialized
        response = self._api.call_api(
            http_method,
            url,
            header_params,
            request_body,
            post_params,
            _request_timeout=timeout or self._timeout_s,
        )
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        """One request; returns the decoded JSON body. Raises ApiStatusError on non-2xx."""
        response = self._send(method, path, query=query, body=body, content_type=content_type)
        data: bytes = response.read()
        if not 200 <= response.status < 300:
            raise ApiStatusError.from_body(response.status, data)
        decoded: Obj = json.loads(data) if data else {}
        return decoded

    def read(self, path: str, *, query: Query = ()) -> bytes:
        """The raw body of a GET (a log). Raises ApiStatusError on non-2xx."""
        response = self._send("GET", path, query=query)
        data: bytes = response.read()
        if not 200 <= response.status < 300:
            raise ApiStatusError.from_body(response.status, data)
        return data

    def get(self, path: str, *, query: Query = ()) -> Obj | None:
        """The object at `path`, or None when absent (404)."""
        try:
            return self.request("GET", path, query=query)
        except ApiStatusError as error:
            if error.status == 404:
                return None
            raise

    def apply(self, path: str, manifest: Mapping[str, Any]) -> Obj:
        """Server-side apply as field manager "sapwood", forcing ownership; idempotent."""
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        return self.request("PATCH", path, query=query, body=dict(manifest), content_type=APPLY)

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> Obj:
        return self.request("PATCH", path, body=dict(patch), content_type=MERGE)

    def delete(
        self, path: str, *, propagation: str = "Foreground", grace_period_s: int | None = None
    ) -> Obj | None:
        """Delete with the given propagation; returns the answer (the object, or a Status),
        None when the object was already absent."""
        query: list[tuple[str, str | int | bool]] = [("propagationPolicy", propagation)]
        if grace_period_s is not None:
            query.append(("gracePeriodSeconds", grace_period_s))
        try:
            return self.request("DELETE", path, query=query)
        except ApiStatusError as error:
            if error.status != 404:
                raise
            return None

    def open_stream(self, path: str, *, query: Query, read_timeout_s: float) -> Any:
        """A streaming GET (watch, follow): the urllib3 response, not yet read.

        The caller reads it with `.stream()`, may interrupt a blocked read from another
        thread with `.shutdown()`, and must `.release_conn()` it. Raises ApiStatusError.
        """
        response = self._send("GET", path, query=query, timeout=(self._timeout_s, read_timeout_s))
        raw = response.response
        if not 200 <= response.status < 300:
            try:
                raise ApiStatusError.from_body(response.status, raw.read())
            finally:
                raw.release_conn()
        return raw

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]


def lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Newline-delimited records out of arbitrary chunks (a watch stream)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending
