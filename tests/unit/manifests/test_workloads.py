"""What each kind renders to: the behaviour a cluster operator would notice."""

from __future__ import annotations

import pytest

from sapwood.manifests import Manifest, RenderError, RenderOptions, render_object
from sapwood.specs.objects import parse_object
from sapwood.testing.feeds import feed
from tests.unit.manifests.cases import TEAM, env_of, find, main_container, obj, render

UID = "0b6f3c2e-5f7e-4c55-9d4b-6a0c1b2d3e4f"


def test_a_job_is_created_suspended_with_retries_deadline_and_ttl() -> None:
    job = find(
        render(obj("Job", "train", {"command": "python train.py", "activeDeadline": "10m"})),
        "Job",
    )
    assert job["metadata"]["name"] == "job-train"
    assert job["metadata"]["namespace"] == "sapwood-research"
    spec = job["spec"]
    assert spec["suspend"] is True
    assert spec["backoffLimit"] == 3
    assert spec["activeDeadlineSeconds"] == 600
    assert spec["ttlSecondsAfterFinished"] == 86_400
    assert (spec["completions"], spec["parallelism"]) == (1, 1)
    assert "completionMode" not in spec
    assert spec["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert env_of(main_container(job))["SAPWOOD_REPLICA"] == "0"


def test_restart_never_means_no_retries() -> None:
    spec = {"command": "true", "restart": "Never", "retries": 5}
    job = find(render(obj("Job", "once", spec)), "Job")
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_a_gang_is_indexed_with_a_headless_service_for_its_workers() -> None:
    manifests = render(obj("Job", "gang", {"command": "true", "replicas": 4}), owner_uid=UID)
    job = find(manifests, "Job")
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["parallelism"] == job["spec"]["completions"] == 4
    assert job["spec"]["template"]["spec"]["subdomain"] == "job-gang"
    replica = env_of(main_container(job))["SAPWOOD_REPLICA"]
    assert "job-completion-index" in replica["fieldRef"]["fieldPath"]
    workers = find(manifests, "Service")
    assert workers["spec"]["clusterIP"] == "None"
    assert workers["metadata"]["name"] == "job-gang"
    assert (
        workers["spec"]["selector"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    )
    assert workers["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "job-gang", "uid": UID}
    ]


def test_gang_workers_get_torchruns_variables_with_rank_0_as_master() -> None:
    spec = {"command": "torchrun-free train.py", "replicas": 3, "env": {"MASTER_PORT": "23456"}}
    job = find(render(obj("Job", "ddp", spec)), "Job")
    env = env_of(main_container(job))
    assert env["WORLD_SIZE"] == "3"
    assert "job-completion-index" in env["RANK"]["fieldRef"]["fieldPath"]
    assert env["LOCAL_RANK"] == "0"
    assert env["MASTER_ADDR"] == "job-ddp-0.job-ddp"
    assert env["MASTER_PORT"] == "23456"  # the user's own setting is kept
    assert env["SAPWOOD_PEERS"] == ",".join(f"job-ddp-{i}.job-ddp:29500" for i in range(3))


def test_a_single_worker_job_gets_no_torch_variables() -> None:
    env = env_of(main_container(find(render(obj("Job", "one", {"command": "x"})), "Job")))
    assert "WORLD_SIZE" not in env
    assert "MASTER_ADDR" not in env


def test_completions_beyond_the_gang_run_replicas_at_a_time() -> None:
    job = find(
        render(obj("Job", "sweep", {"command": "x", "replicas": 2, "completions": 9})), "Job"
    )
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (9, 2)


def test_a_service_is_a_deployment_behind_port_80() -> None:
    spec = {"command": "serve", "replicas": {"min": 2, "max": 6}}
    manifests = render(obj("Service", "web", spec))
    deployment = find(manifests, "Deployment")
    front = find(manifests, "Service")
    assert deployment["metadata"]["annotations"]["sapwood.dev/replicas-min"] == "2"
    assert deployment["metadata"]["annotations"]["sapwood.dev/replicas-max"] == "6"
    container = main_container(deployment)
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert env_of(container)["PORT"] == "8080"
    assert front["spec"]["ports"][0] | {} == {
        "name": "http",
        "port": 80,
        "targetPort": "http",
        "protocol": "TCP",
    }
    assert front["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert "ownerReferences" not in front["metadata"]


def test_the_front_service_is_owned_by_its_workload_only_when_the_uid_is_known() -> None:
    service = find(render(obj("Service", "web", {"command": "x"}), owner_uid=UID), "Service")
    assert service["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "svc-web", "uid": UID}
    ]
    ws = render(obj("Workspace", "nb", {}), owner_uid=UID)
    assert find(ws, "Service")["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"


def test_a_model_service_runs_the_model_server_ready_once_loaded() -> None:
    manifests = render(obj("Service", "m", {"model": "m@production"}))
    main = main_container(find(manifests, "Deployment"))
    assert main["command"] == ["python", "-m", "sapwood.serving", "--model", "m@production"]
    assert main["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_a_workspace_is_one_stateful_replica_with_a_claim_per_volume() -> None:
    spec = {
        "tool": "command",
        "command": "sleep infinity",
        "volumes": [
            {"name": "home", "mountPath": "/home", "size": "5Gi"},
            {"name": "x", "mountPath": "/x"},
        ],
    }
    manifests = render(obj("Workspace", "scratch", spec))
    sts = find(manifests, "StatefulSet")
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == find(manifests, "Service")["metadata"]["name"]
    claims = {t["metadata"]["name"]: t["spec"] for t in sts["spec"]["volumeClaimTemplates"]}
    assert claims["home"]["resources"]["requests"]["storage"] == "5Gi"
    assert claims["x"]["resources"]["requests"]["storage"] == "10Gi"
    container = main_container(sts)
    assert container["volumeMounts"] == [
        {"name": "home", "mountPath": "/home"},
        {"name": "x", "mountPath": "/x"},
    ]
    assert env_of(container)["SAPWOOD_VOLUME_HOME"] == "/home"
    # The claim templates give the volumes; the pod must not name other sources for them.
    assert "volumes" not in sts["spec"]["template"]["spec"]
    assert [m["kind"] for m in manifests] == ["StatefulSet", "Service"]


def test_a_paused_workspace_has_no_replica_but_keeps_its_claims() -> None:
    spec = {"paused": True, "volumes": [{"name": "home", "mountPath": "/home"}]}
    sts = find(render(obj("Workspace", "nb", spec)), "StatefulSet")
    assert sts["spec"]["replicas"] == 0
    assert len(sts["spec"]["volumeClaimTemplates"]) == 1


def test_a_jupyter_workspace_runs_jupyterlab_on_port_with_its_token() -> None:
    spec = {"volumes": [{"name": "my-notes", "mountPath": "/n"}]}
    sts = find(render(obj("Workspace", "nb", spec)), "StatefulSet")
    container = main_container(sts)
    assert container["image"] == RenderOptions().jupyter_image
    script = container["command"][-1]
    assert '--port="$PORT"' in script
    assert '--ServerApp.token="$SAPWOOD_TOKEN"' in script
    assert '--notebook-dir="${SAPWOOD_VOLUME_MY_NOTES}"' in script


def test_job_and_service_volumes_are_shared_team_claims_without_owner() -> None:
    spec = {"command": "x", "volumes": [{"name": "data", "mountPath": "/data", "size": "2Gi"}]}
    manifests = render(obj("Job", "a", spec), owner_uid=UID)
    claim = find(manifests, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "volume-data"
    assert "ownerReferences" not in claim["metadata"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    pod = find(manifests, "Job")["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "volume-data"}}
    ]


def test_team_and_namespace_defaults_and_overrides() -> None:
    job = obj("Job", "t", {"command": "x"}, team="vision")
    assert render_object(job)[0]["metadata"]["namespace"] == "sapwood-vision"
    assert render_object(job, "nlp")[0]["metadata"]["namespace"] == "sapwood-nlp"
    custom = RenderOptions(namespace_prefix="ml-")
    assert render_object(job, options=custom)[0]["metadata"]["namespace"] == "ml-vision"
    assert render_object(job, namespace="shared")[0]["metadata"]["namespace"] == "shared"
    with pytest.raises(RenderError, match="no team"):
        render_object(obj("Job", "t", {"command": "x"}))


def test_rendering_is_deterministic() -> None:
    o = obj("Service", "web", {"command": "x", "env": {"B": "1", "A": "2"}})
    assert render_object(o, TEAM) == render_object(o, TEAM)


def elastic(kind: str, name: str, bounds: dict[str, int]) -> Manifest:
    if kind == "Service":
        manifests = render(obj("Service", name, {"command": "serve", "replicas": bounds}))
    else:
        manifests = render_object(parse_object(feed(name, workers=bounds)), TEAM)
    return find(manifests, "Deployment")


@pytest.mark.parametrize("kind", ["Service", "Feed"])
def test_an_autoscaled_deployment_leaves_its_replica_count_to_the_scaler(kind: str) -> None:
    # A re-applied manifest that names replicas resets what scaling set: leave it out.
    deployment = elastic(kind, "elastic", {"min": 2, "max": 6})
    assert "replicas" not in deployment["spec"]
    assert deployment["metadata"]["annotations"]["sapwood.dev/replicas-min"] == "2"
    assert elastic(kind, "fixed", {"min": 3, "max": 3})["spec"]["replicas"] == 3
