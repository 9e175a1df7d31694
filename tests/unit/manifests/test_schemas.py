"""Every manifest we render validates, strictly, against Kubernetes' own schemas."""

from __future__ import annotations

import itertools

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped]

from sapwood.manifests import Manifest, render_priority_classes, render_team
from sapwood.manifests.install import InstallOptions, render_install
from sapwood.manifests.install_secrets import seeded_bytes
from tests.unit.manifests.cases import EXAMPLES, all_objects, render

# The oldest supported: ValidatingAdmissionPolicy (install_rbac.py) is GA since 1.30.
VERSIONS = ["1.30", latest_version()]

INSTALLS = {
    "bundled-postgres": InstallOptions(),
    "external-db": InstallOptions(database_url="postgresql://sapwood:pw@db.internal:5432/sapwood"),
    "ingress-tls": InstallOptions(
        namespace="platform",
        ingress_host="sapwood.example.com",
        tls_secret="sapwood-tls",
        ingress_class="nginx",
        storage_class="fast",
    ),
    "ingress-plain": InstallOptions(ingress_host="sapwood.internal"),
    "gateway-only": InstallOptions(gateway_host="services.internal", tls_secret="services-tls"),
    "object-store-one-replica": InstallOptions(
        models_url="s3://bucket/models", server_replicas=1, cluster_domain="corp.internal"
    ),
    "models-rwo": InstallOptions(
        models_access_mode="ReadWriteOnce", server_replicas=1, models_storage_class="local"
    ),
}


def _cases() -> list[tuple[str, Manifest]]:
    cases: list[tuple[str, Manifest]] = []
    for o in all_objects():
        for owner_uid in (None, "0b6f3c2e-5f7e-4c55-9d4b-6a0c1b2d3e4f"):
            for m in render(o, owner_uid=owner_uid):
                cases.append((f"{o.kind}/{o.metadata.name[:20]}/{m['kind']}", m))
    for m in [*render_team("research"), *render_priority_classes()]:
        cases.append((f"team/{m['kind']}", m))
    for variant, options in INSTALLS.items():
        for m in render_install(options, randbytes=seeded_bytes(7)):
            cases.append((f"install-{variant}/{m['kind']}/{m['metadata']['name']}", m))
    return cases


CASES = _cases()


def test_the_examples_are_all_found() -> None:
    assert len(EXAMPLES) == 4


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("where", "manifest"), CASES, ids=[c[0] for c in CASES])
def test_manifest_validates_strictly(version: str, where: str, manifest: Manifest) -> None:
    kubernetes_validate.validate(manifest, version, strict=True)


def test_every_install_variant_and_kind_is_covered() -> None:
    kinds = {m["kind"] for _, m in CASES}
    assert kinds >= {
        "Job",
        "Deployment",
        "StatefulSet",
        "Service",
        "PersistentVolumeClaim",
        "Namespace",
        "PriorityClass",
        "RoleBinding",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Secret",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_strict_validation_refuses_an_unknown_field(version: str) -> None:
    # Guards the guard: strict mode must catch a misspelt field, or the tests above prove
    # nothing.
    job = next(m for _, m in CASES if m["kind"] == "Job")
    broken = {**job, "spec": {**job["spec"], "suspended": True}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_names_are_unique_per_kind_and_namespace() -> None:
    rendered = [m for o in all_objects() for m in render(o)]
    keys = [(m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]) for m in rendered]
    claims = [k for k in keys if k[0] == "PersistentVolumeClaim"]
    others = [k for k in keys if k[0] != "PersistentVolumeClaim"]
    # Team volume claims are shared by name on purpose; everything else is unique.
    assert len(others) == len(set(others))
    assert all(len(name) <= 63 for _, _, name in itertools.chain(claims, others))
