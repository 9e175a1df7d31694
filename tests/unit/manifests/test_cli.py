"""`sapwood render` and `sapwood install kubernetes`, through Typer as a user runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from sapwood.cli import install
from sapwood.cli.errors import CliError, ErrorHandlingGroup
from sapwood.cli.render import pick_team, render
from sapwood.schemas import Membership, Role, WhoAmI
from tests.unit.manifests.cases import EXAMPLES

JOB = """\
apiVersion: sapwood/v1
kind: Job
metadata: {name: train}
spec: {command: [python, train.py], replicas: 2}
"""


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    # As main.py will register them: the error-handling root group, render, install group.
    app = typer.Typer(cls=ErrorHandlingGroup)
    app.command("render")(render)
    app.add_typer(install.app)
    return CliRunner().invoke(app, list(args), input=input, env=env)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def test_render_prints_every_examples_manifests_as_yaml() -> None:
    result = run("render", "-f", str(EXAMPLES[0].parent), "--team", "research")
    assert result.exit_code == 0, result.stderr
    kinds = [d["kind"] for d in documents(result.stdout)]
    # the quickstart folder: job, service (Deployment and Service), workspace
    assert kinds == ["Job", "Deployment", "Service", "StatefulSet", "Service"]
    assert {d["metadata"]["namespace"] for d in documents(result.stdout)} == {"sapwood-research"}


def test_render_reads_stdin_and_honours_namespace() -> None:
    result = run("render", "-f", "-", "-n", "lab", "-t", "research", input=JOB)
    assert result.exit_code == 0, result.stderr
    job, workers = documents(result.stdout)
    assert job["metadata"] == workers["metadata"] | job["metadata"]
    assert job["metadata"]["namespace"] == "lab"
    assert job["spec"]["suspend"] is True


def test_render_takes_the_team_from_env_or_metadata() -> None:
    result = run("render", "-f", "-", input=JOB, env={"SAPWOOD_TEAM": "nlp"})
    assert documents(result.stdout)[0]["metadata"]["namespace"] == "sapwood-nlp"
    owned = JOB.replace("{name: train}", "{name: train, team: vision}")
    result = run("render", "-f", "-", input=owned)
    assert documents(result.stdout)[0]["metadata"]["namespace"] == "sapwood-vision"


def test_render_without_a_team_or_a_server_says_how_to_give_one(
    tmp_path: Path, no_server: None
) -> None:
    # Nothing answers: asking the server for the caller's team fails.
    env = {"SAPWOOD_URL": "http://127.0.0.1:9", "SAPWOOD_TOKEN": "sw_test"}
    result = run("render", "-f", "-", input=JOB, env=env)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        "error: an object has no team, and asking the server which team is yours failed: "
        "cannot reach"
    )
    assert lines[-1] == "hint: give --team, set SAPWOOD_TEAM or set metadata.team"
    assert result.stdout == ""


def _me(*teams: str, admin: bool = False) -> WhoAmI:
    memberships = [Membership(team=t, role=Role.MEMBER) for t in teams]
    return WhoAmI(user="ada", admin=admin, teams=memberships, token_id="t")


def test_render_picks_the_team_as_apply_does() -> None:
    assert pick_team(_me("research")) == "research"
    assert pick_team(_me("default", "research")) == "default"
    assert pick_team(_me(admin=True)) == "default"
    with pytest.raises(CliError, match=r"several teams \(ml, research\): say which one"):
        pick_team(_me("research", "ml"))
    with pytest.raises(CliError, match="user ada belongs to no team"):
        pick_team(_me())


def test_render_refuses_a_team_that_contradicts_the_document() -> None:
    owned = JOB.replace("{name: train}", "{name: train, team: vision}")
    result = run("render", "-f", "-", "--team", "nlp", input=owned)
    assert result.exit_code == 1
    assert "metadata.team is 'vision' but --team is 'nlp'" in result.stderr


def test_render_names_the_file_document_and_field_of_an_invalid_spec(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(JOB + "---\n" + JOB.replace("replicas: 2", "replicas: 0"))
    result = run("render", "-f", str(path), "-t", "research")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}, document 2: spec.replicas: ")
    assert result.stdout == ""


def test_render_reports_a_missing_file(tmp_path: Path) -> None:
    result = run("render", "-f", str(tmp_path / "nope.yaml"), "-t", "research")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'nope.yaml'}: no such file")


def test_a_model_service_renders_the_model_server_with_its_readiness() -> None:
    model = "apiVersion: sapwood/v1\nkind: Service\nmetadata: {name: m}\nspec: {model: m@prod}\n"
    result = run("render", "-f", "-", "-t", "research", input=model)
    assert result.exit_code == 0, result.stderr
    assert "sapwood.serving" in result.stdout
    assert "/v2/health/ready" in result.stdout


def test_install_kubernetes_prints_fresh_manifests_each_time() -> None:
    first, second = run("install", "kubernetes"), run("install", "kubernetes")
    assert first.exit_code == 0, first.stderr
    docs = documents(first.stdout)
    assert any(d["kind"] == "StatefulSet" for d in docs)  # bundled PostgreSQL by default
    assert first.stdout != second.stdout  # fresh passwords


def test_install_kubernetes_with_external_database_and_ingress() -> None:
    result = run(
        "install",
        "kubernetes",
        "--namespace",
        "platform",
        "--database-url",
        "postgresql://a:b@db:5432/s",
        "--ingress-host",
        "sapwood.example.com",
        "--tls-secret",
        "sapwood-tls",
        "--image",
        "registry.local/sapwood:dev",
    )
    assert result.exit_code == 0, result.stderr
    docs = documents(result.stdout)
    kinds = [d["kind"] for d in docs]
    assert "Ingress" in kinds
    assert all(d["metadata"]["name"] != "sapwood-postgres" for d in docs)
    server = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "sapwood"
    )
    assert (
        server["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/sapwood:dev"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database-url", "postgresql://x", "--bundled-postgres"], "not both"),
        (["--tls-secret", "t"], "--tls-secret needs --ingress-host"),
        (["--namespace", "Bad_NS"], "--namespace"),
        (["--models-access-mode", "ReadWriteOnce"], "needs --server-replicas 1"),
        (["--models-url", "bucket/models"], "--models-url must be an fsspec URL"),
        (["--cluster-domain", "Not A Domain"], "--cluster-domain"),
    ],
)
def test_install_kubernetes_refuses_impossible_options(args: list[str], message: str) -> None:
    result = run("install", "kubernetes", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stdout == ""


def test_install_kubernetes_exposes_the_gateway_and_keeps_models_where_told() -> None:
    result = run(
        "install",
        "kubernetes",
        "--gateway-host",
        "services.example.com",
        "--models-url",
        "s3://models-bucket/sapwood",
        "--cluster-domain",
        "corp.internal",
        "--server-replicas",
        "3",
    )
    assert result.exit_code == 0, result.stderr
    assert "#   models: the object store at s3://models-bucket/sapwood" in result.stdout
    docs = documents(result.stdout)
    ingress = next(d for d in docs if d["kind"] == "Ingress")
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["services.example.com"]
    server = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "sapwood"
    )
    assert server["spec"]["replicas"] == 3
    env = {
        e["name"]: e.get("value")
        for e in server["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SAPWOOD_MODEL_STORE"] == "s3://models-bucket/sapwood"
    assert env["SAPWOOD_KUBE_API_URL"] == "http://sapwood.sapwood.svc.corp.internal"
    assert all(d["kind"] != "PersistentVolumeClaim" for d in docs)  # no models claim


def test_install_kubernetes_grants_cluster_wide_pod_reads_only_when_asked() -> None:
    plain = documents(run("install", "kubernetes").stdout)
    asked = run("install", "kubernetes", "--capacity-reads-all-pods")
    assert asked.exit_code == 0, asked.stderr
    wider = documents(asked.stdout)

    def capacity_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d for d in docs if d["metadata"]["name"] == "sapwood-capacity"]

    assert capacity_roles(plain) == []
    role, binding = capacity_roles(wider)
    assert role["kind"] == "ClusterRole"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sapwood", "namespace": "sapwood"}
    ]
