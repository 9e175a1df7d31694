"""What the runtime writes to the cluster and what it reads back, over the API double."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from sapwood.server.runtimes.base import (
    RuntimeTemporaryError,
    UnitKey,
    UnitPhase,
    UnitReason,
    VolumeMount,
)
from sapwood.server.runtimes.kubernetes.client import FIELD_MANAGER, KubeClient
from sapwood.server.runtimes.kubernetes.jobs import job_manifest, jobs_path
from sapwood.server.runtimes.kubernetes.manifests import RUN_NUMBER, pod_manifest
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble
from tests.integration.runtimes.kubernetes.conftest import (
    KEY,
    NAMESPACE,
    current_pod,
    spec,
    wait_for,
)

pytestmark = pytest.mark.anyio


async def test_start_applies_a_pod_server_side(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    web = UnitKey("Service", "research", "web")
    await runtime.start(spec(web, cpu_millis=500, memory_bytes=2**30, generation=3))
    await runtime.start(spec(web))  # idempotent: no second pod
    pods = double.pods(NAMESPACE)
    assert len(pods) == 1
    pod = pods[0]
    assert [m["manager"] for m in pod["metadata"]["managedFields"]] == [FIELD_MANAGER]
    assert pod["metadata"]["finalizers"] == ["sapwood.dev/unit"]
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "train"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": str(2**30)},
        "limits": {"memory": str(2**30)},
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    applies = [path for method, path in double.requests if method == "PATCH" and "/pods/" in path]
    assert applies  # server-side apply, not create
    namespace = double.store.get("namespaces", "", NAMESPACE)
    assert namespace["metadata"]["labels"]["sapwood.dev/team"] == "research"
    binding = double.store.get("rolebindings", NAMESPACE, "sapwood")
    assert binding["roleRef"]["name"] == "sapwood-workloads"


async def test_credentials_go_to_a_secret_not_the_pod(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    unit = spec(env={"SAPWOOD_TOKEN": "s3cret", "MODE": "fast"})
    await runtime.start(unit)
    pod = current_pod(double)
    assert "s3cret" not in str(pod)
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["MODE"]["value"] == "fast"
    ref = env["SAPWOOD_TOKEN"]["valueFrom"]["secretKeyRef"]
    secret = double.store.get("secrets", NAMESPACE, ref["name"])
    assert base64.b64decode(secret["data"][ref["key"]]) == b"s3cret"
    await runtime.stop(KEY)
    await runtime.forget(KEY)
    assert double.store.list("secrets", NAMESPACE)[0] == []


async def test_volumes_become_team_claims_that_outlive_the_unit(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec(volumes=(VolumeMount("data", "/data"),)))
    pod = current_pod(double)
    mount = pod["spec"]["containers"][0]["volumeMounts"][0]
    assert mount["mountPath"] == "/data"
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["SAPWOOD_VOLUME_DATA"] == "/data"
    await runtime.stop(KEY)
    await runtime.forget(KEY)
    assert double.store.get("persistentvolumeclaims", NAMESPACE, "volume-data")


async def test_gpus_request_and_tolerate(runtime: KubernetesRuntime, double: KubeApiDouble) -> None:
    await runtime.start(spec(gpus=2))
    pod = current_pod(double)
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "2"
    assert pod["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"


async def test_stop_uses_the_grace_period_and_keeps_the_pod_until_forget(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    await runtime.stop(KEY, grace_period_s=7.2)
    pod = current_pod(double)
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 8
    assert pod["status"]["phase"] == "Failed"
    (state,) = await runtime.observe()
    assert (state.phase, state.reason, state.exit_code) == (
        UnitPhase.EXITED,
        UnitReason.STOPPED,
        143,
    )
    await runtime.forget(KEY)
    assert double.pods(NAMESPACE) == []
    assert await runtime.observe() == []


async def test_a_restart_keeps_the_previous_run(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec(generation=1))
    double.finish_pod(NAMESPACE, current_pod(double)["metadata"]["name"], 1)
    await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    await runtime.start(spec(generation=2))
    await runtime.stop(KEY)
    await runtime.start(spec(generation=3))
    runs = sorted(
        (p["metadata"]["labels"]["sapwood.dev/run"], p["metadata"]["labels"][RUN_NUMBER])
        for p in double.pods(NAMESPACE)
    )
    # only the run just before the current one is kept, Pod and Job alike
    assert runs == [("current", "3"), ("previous", "2")]
    assert job_names(double) == ["job-train-0-2", "job-train-0-3"]
    (state,) = await runtime.observe()
    assert (state.phase, state.generation) == (UnitPhase.RUNNING, 3)


async def test_a_new_runtime_adopts_running_units(
    runtime: KubernetesRuntime, settings: KubernetesRuntimeSettings, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    await runtime.close()  # never touches pods
    assert len(double.pods(NAMESPACE)) == 1
    again = KubernetesRuntime(settings)
    try:
        (state,) = await again.observe()
        assert (state.key, state.phase) == (KEY, UnitPhase.RUNNING)
        await again.stop(KEY)
        (state,) = await again.observe()
        assert state.reason == UnitReason.STOPPED
    finally:
        await again.close()


async def test_other_teams_live_in_their_own_namespaces(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    other = UnitKey("Service", "vision", "api", 1)
    await runtime.start(spec())
    await runtime.start(spec(other, wants_port=True))
    assert [p["metadata"]["name"] for p in double.pods("sapwood-vision")] == ["svc-api-1-1"]
    states = {s.key: s for s in await runtime.observe()}
    assert states[other].port == 8080
    assert states[KEY].port is None


async def test_a_deleted_namespace_is_made_again(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    await runtime.stop(KEY)
    await runtime.forget(KEY)
    double.store.delete("rolebindings", NAMESPACE, "sapwood")
    double.store.delete("namespaces", "", NAMESPACE)
    with pytest.raises(RuntimeTemporaryError):
        await runtime.start(spec())
    state = await runtime.start(spec())
    assert state.phase is UnitPhase.RUNNING


async def test_stopping_a_pod_that_never_started(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.kubelet.auto_run = False  # unschedulable: no kubelet ever reports on it
    await runtime.start(spec())
    await runtime.stop(KEY)
    (state,) = await runtime.observe()
    assert (state.phase, state.reason, state.exit_code) == (
        UnitPhase.EXITED,
        UnitReason.STOPPED,
        None,
    )
    await runtime.forget(KEY)
    assert double.pods(NAMESPACE) == []


async def test_a_pod_names_its_priority_class_when_the_cluster_has_it(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    double.add_priority_class("sapwood-high", 100)

    await runtime.start(spec(priority_class="high"))

    assert current_pod(double)["spec"]["priorityClassName"] == "sapwood-high"


async def test_without_sapwood_s_priority_classes_a_pod_runs_without_one(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    # The double refuses a pod naming a missing class, as the API server's admission does.
    state = await runtime.start(spec(priority_class="high"))

    assert state.phase is UnitPhase.RUNNING
    assert "priorityClassName" not in current_pod(double)["spec"]


def job_names(double: KubeApiDouble) -> list[str]:
    jobs, _ = double.store.list("jobs", NAMESPACE)
    return [j["metadata"]["name"] for j in jobs]


async def test_a_job_unit_runs_as_a_kubernetes_job_whose_pod_it_watches(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    state = await runtime.start(spec())

    assert state.phase is UnitPhase.RUNNING
    (job,) = double.store.list("jobs", NAMESPACE)[0]
    assert job["metadata"]["name"] == "job-train-0-1"
    assert [m["manager"] for m in job["metadata"]["managedFields"]] == [FIELD_MANAGER]
    assert job["spec"]["backoffLimit"] == 0
    await runtime.start(spec())  # idempotent: no second Job, no second Pod
    assert job_names(double) == ["job-train-0-1"]
    assert len(double.pods(NAMESPACE)) == 1
    pod = current_pod(double)
    (owner,) = pod["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("Job", "job-train-0-1")
    assert pod["metadata"]["finalizers"] == ["sapwood.dev/unit"]

    double.finish_pod(NAMESPACE, pod["metadata"]["name"], 0)
    done = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    assert (done.reason, done.exit_code) == (UnitReason.COMPLETED, 0)

    await runtime.forget(KEY)
    assert job_names(double) == []
    assert double.pods(NAMESPACE) == []


async def test_a_stopped_job_unit_ends_its_job_without_a_second_pod(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())

    await runtime.stop(KEY, grace_period_s=0)

    (state,) = await runtime.observe()
    assert (state.phase, state.reason) == (UnitPhase.EXITED, UnitReason.STOPPED)
    assert len(double.pods(NAMESPACE)) == 1  # the Job made no replacement


async def test_other_kinds_run_as_bare_pods(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    key = UnitKey("Service", "research", "web")

    await runtime.start(spec(key))

    assert job_names(double) == []
    assert [p["metadata"]["name"] for p in double.pods(NAMESPACE)] == ["svc-web-0-1"]
    assert "ownerReferences" not in double.pods(NAMESPACE)[0]["metadata"]


def waiting_job(run: int, **pod_spec: object) -> dict[str, object]:
    """A Job of KEY's run `run`, as start() would have left it, whose Pod is not there."""
    unit = spec()
    pod = pod_manifest(unit, namespace=NAMESPACE, run=run, image="python:3.11-slim")
    pod["spec"].update(pod_spec)
    return job_manifest(pod)


async def test_a_job_still_waiting_for_its_pod_is_waited_for_not_made_twice(
    settings: KubernetesRuntimeSettings, double: KubeApiDouble, kube: KubeClient
) -> None:
    runtime = KubernetesRuntime(replace(settings, pod_wait_s=0.3))
    try:
        await runtime.start(spec(key=UnitKey("Job", "research", "other")))  # the namespace
        job = waiting_job(1)
        job["spec"]["suspend"] = True  # type: ignore[index]
        kube.apply(jobs_path(NAMESPACE, "job-train-0-1"), job)

        with pytest.raises(RuntimeTemporaryError, match="job-train-0-1 has no pod yet"):
            await runtime.start(spec())
        kube.merge_patch(jobs_path(NAMESPACE, "job-train-0-1"), {"spec": {"suspend": False}})
        state = await runtime.start(spec())

        assert state.phase is UnitPhase.RUNNING
        assert job_names(double) == ["job-other-0-1", "job-train-0-1"]
    finally:
        await runtime.close()


async def test_the_job_controller_s_complaint_is_quoted(
    settings: KubernetesRuntimeSettings, kube: KubeClient
) -> None:
    runtime = KubernetesRuntime(replace(settings, pod_wait_s=0.3))
    try:
        await runtime.start(spec(key=UnitKey("Job", "research", "other")))  # the namespace
        kube.apply(jobs_path(NAMESPACE, "job-train-0-1"), waiting_job(1, priorityClassName="gold"))

        with pytest.raises(RuntimeTemporaryError, match="no PriorityClass with name gold"):
            await runtime.start(spec())
    finally:
        await runtime.close()
