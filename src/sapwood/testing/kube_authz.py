"""The Kubernetes API double's front door: what runs before any handler, and loading an install.

`RequestGuard.check` authenticates a request and authorises it (`kube_rbac`), authorises a
server-side apply that would create as a ``create`` too, runs the RBAC storage's escalation
checks on (Cluster)Role(Binding) writes, then the ValidatingAdmissionPolicies
(`kube_authz_policy`), in the real API server's order. `load_manifests` stores rendered
manifests (such as `sapwood install kubernetes` prints) as an admin's ``kubectl apply`` would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sapwood.testing.kube_authz_policy import PolicyAdmission
from sapwood.testing.kube_rbac import RBAC_GROUP, Attributes, Authorizer, UserInfo, request_verb
from sapwood.testing.kube_store import RESOURCES, ApiError, KubeStore, Obj, merge


def request_attributes(user: UserInfo, request: Request) -> Attributes:
    params = request.path_params
    name, namespace = params.get("name", ""), params.get("namespace", "")
    resource = params["plural"]
    if resource == "namespaces" and name:
        namespace = name  # the API server treats a namespace as living in itself
    watch = request.query_params.get("watch") in ("true", "1")
    return Attributes(
        user,
        request_verb(request.method, name=name, watch=watch),
        params.get("group", ""),
        resource,
        subresource=params.get("sub", ""),
        namespace=namespace,
        name=name,
    )


async def request_object(
    store: KubeStore, attrs: Attributes, request: Request
) -> tuple[str, Obj | None, Obj | None]:
    """(admission operation, the object as it would be written, the live one) of a write."""
    key = (attrs.resource, attrs.namespace if RESOURCES[attrs.resource][2] else "", attrs.name)
    with store.lock:
        live = store.objects.get(key) if attrs.name else None
    if request.method == "DELETE":
        return "DELETE", None, live
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    body: Obj = (
        (yaml.safe_load(raw) if "apply-patch" in content_type else json.loads(raw)) if raw else {}
    )
    if request.method == "POST" or live is None:
        return "CREATE", body, None
    if request.method == "PATCH":
        return "UPDATE", merge(live, body, delete_nulls="merge-patch" in content_type), live
    return "UPDATE", body, live


class RequestGuard:
    """What runs before the double's handlers: authenticate, authorise, the RBAC storage's
    escalation checks and ValidatingAdmissionPolicies. `check` returns a refusal or None."""

    def __init__(self, store: KubeStore, authorizer: Authorizer) -> None:
        self.store = store
        self.authorizer = authorizer
        self.admission = PolicyAdmission(store)

    async def check(self, request: Request, *, metrics: bool = False) -> Response | None:
        try:
            user = self.authorizer.authenticate(request.headers)
            if metrics:
                namespace = request.path_params["namespace"]
                attrs = Attributes(user, "list", "metrics.k8s.io", "pods", namespace=namespace)
                self.authorizer.authorize(attrs)
                return None
            if request.path_params.get("plural") not in RESOURCES:
                return None  # the handler answers 404
            attrs = request_attributes(user, request)
            self.authorizer.authorize(attrs)
            if request.method not in ("POST", "PUT", "PATCH", "DELETE") or attrs.subresource:
                return None
            operation, obj, old = await request_object(self.store, attrs, request)
            if (
                request.method == "PATCH"
                and old is None
                and "apply-patch" in request.headers.get("content-type", "")
            ):
                # An apply that creates is authorised as a create too.
                self.authorizer.authorize(
                    Attributes(
                        user,
                        "create",
                        attrs.api_group,
                        attrs.resource,
                        namespace=attrs.namespace,
                        name=attrs.name,
                    )
                )
            if obj is not None and attrs.api_group == RBAC_GROUP:
                self.authorizer.confirm_no_escalation(attrs, obj)
            self.admission.admit(attrs, operation=operation, obj=obj, old=old)
        except ApiError as error:
            return JSONResponse(error.status(), status_code=error.code)
        return None


_KINDS = {kind: plural for plural, (_, kind, _) in RESOURCES.items()}


def load_manifests(store: KubeStore, manifests: Iterable[Obj]) -> list[Obj]:
    """Creates each manifest whose kind the double stores, in order (as a cluster admin's
    ``kubectl apply`` would, so no RBAC or admission policy applies); returns the skipped
    ones (an Ingress, a NetworkPolicy... that the double does not serve)."""
    skipped: list[Obj] = []
    for manifest in manifests:
        plural = _KINDS.get(manifest.get("kind", ""))
        if plural is None:
            skipped.append(manifest)
            continue
        namespace = manifest["metadata"].get("namespace", "") if RESOURCES[plural][2] else ""
        store.create(plural, namespace, manifest)
    return skipped
