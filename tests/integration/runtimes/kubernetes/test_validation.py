"""The runtime against a double that validates as the API server does: every name Sapwood
derives passes, a Secret loses the keys a unit no longer has, writes are strictly decoded,
and a gang's Indexed pods get hostnames the API server accepts."""

from __future__ import annotations

import pytest

from sapwood.manifests import render_object
from sapwood.manifests.names import TEAM_LABEL
from sapwood.server.runtimes.base import UnitPhase, VolumeMount
from sapwood.server.runtimes.kubernetes.client import KubeClient
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError
from sapwood.server.runtimes.kubernetes.manifests import secret_name
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.specs.objects import parse_object
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.kube_store import ApiError
from tests.integration.runtimes.kubernetes.conftest import KEY, NAMESPACE, current_pod, spec

pytestmark = pytest.mark.anyio


async def test_a_volume_with_a_63_character_name_mounts(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    volume = "v" * 63  # the longest name a Sapwood volume may have
    state = await runtime.start(spec(volumes=(VolumeMount(volume, "/data"),)))
    assert state.phase is UnitPhase.RUNNING
    pod_volumes = current_pod(double)["spec"]["volumes"]
    assert [len(v["name"]) <= 63 for v in pod_volumes] == [True]


async def test_a_secret_key_the_unit_no_longer_has_is_gone_after_a_restart(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec(env={"DB_PASSWORD": "a", "API_TOKEN": "b"}))
    await runtime.stop(KEY)
    await runtime.start(spec(env={"DB_PASSWORD": "a"}))
    secret = double.store.get("secrets", NAMESPACE, secret_name(KEY))
    assert set(secret["data"]) == {"DB_PASSWORD"}


async def test_writes_are_strictly_decoded(
    runtime: KubernetesRuntime, double: KubeApiDouble, kube: KubeClient
) -> None:
    await runtime.start(spec())  # makes the team namespace
    body = {"metadata": {"name": "x"}, "type": "Opaque", "dta": {}}
    with pytest.raises(ApiStatusError) as refused:
        kube.request("POST", f"/api/v1/namespaces/{NAMESPACE}/secrets", body=body)
    assert refused.value.status == 400
    assert 'strict decoding error: unknown field "dta"' in refused.value.message


def test_a_gang_with_a_long_name_gets_pods_with_valid_hostnames(double: KubeApiDouble) -> None:
    name = "n" * 63
    job = parse_object(
        {
            "apiVersion": "sapwood/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {"command": "python train.py", "replicas": 12},
        }
    )
    double.add_namespace(NAMESPACE, labels={TEAM_LABEL: "research"})
    if ("priorityclasses", "", "sapwood-normal") not in double.store.objects:
        double.add_priority_class("sapwood-normal")
    for manifest in render_object(job, "research"):
        plural = {"Job": "jobs", "Service": "services"}[manifest["kind"]]
        manifest["metadata"]["namespace"] = NAMESPACE
        if plural == "jobs":
            manifest["spec"]["suspend"] = False
        try:
            double.store.create(plural, NAMESPACE, manifest)
        except ApiError as error:  # pragma: no cover - the failure this test guards
            pytest.fail(error.message)
    pods = double.pods(NAMESPACE)
    events = [e["message"] for e in double.store.list("events", NAMESPACE)[0]]
    assert len(pods) == 12, events
    assert all(len(p["spec"]["hostname"]) <= 63 for p in pods)
