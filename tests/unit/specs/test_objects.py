"""Parsing Workspace, Job and Service documents: what is accepted, and what users are told."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sapwood.specs.objects import (
    FieldError,
    Job,
    Service,
    SpecError,
    Workspace,
    kind_of,
    parse_object,
    spec_dict,
)
from sapwood.specs.quantity import MAX_CPU_MILLIS, MAX_MEMORY_BYTES, format_cpu, format_memory

Gi = 1024**3
Mi = 1024**2
QUICKSTART = Path(__file__).parents[3] / "examples" / "quickstart"


def doc(kind: str, spec: Any, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sapwood/v1",
        "kind": kind,
        "metadata": {"name": "train", **metadata},
        "spec": spec,
    }


def errors_of(document: object) -> list[FieldError]:
    with pytest.raises(SpecError) as info:
        parse_object(document)
    assert info.value.errors, "a SpecError must name at least one problem"
    return info.value.errors


def error_at(document: object, path: str) -> str:
    """The message for ``path``; fails listing every error when that path has none."""
    errors = errors_of(document)
    messages = [e.message for e in errors if e.path == path]
    assert messages, f"no error at {path!r}; got {errors}"
    return messages[0]


# --- valid documents --------------------------------------------------------------------


def test_minimal_job_gets_defaults() -> None:
    obj = parse_object(doc("Job", {"command": ["python", "train.py"]}))
    assert isinstance(obj, Job)
    assert obj.metadata.name == "train"
    assert obj.metadata.team is None
    assert obj.spec.command == ["python", "train.py"]
    assert obj.spec.replicas == 1
    assert obj.spec.retries == 3
    assert obj.spec.restart == "OnFailure"
    assert obj.spec.priority == "normal"
    assert obj.spec.resources.cpu == 500
    assert obj.spec.resources.memory == 512 * Mi
    assert obj.spec.resources.gpu == 0
    assert obj.spec.termination_grace_period == timedelta(seconds=30)
    assert obj.spec.active_deadline is None


def test_full_job() -> None:
    obj = parse_object(
        doc(
            "Job",
            {
                "command": "python train.py --epochs 3",
                "image": "ghcr.io/acme/train:1.2",
                "workdir": "/work",
                "env": {"EPOCHS": "3", "_PRIVATE": "x", "lr_2": "0.1"},
                "resources": {"cpu": "1.5", "memory": "4Gi", "gpu": 1},
                "volumes": [{"name": "data", "mountPath": "/data", "size": "10Gi"}],
                "priority": "high",
                "terminationGracePeriod": "1m",
                "replicas": 4,
                "completions": 8,
                "restart": "Never",
                "retries": 0,
                "backoff": {"initial": "5s", "max": "1m"},
                "activeDeadline": "2h",
            },
            team="ml",
            labels={"app": "train", "sapwood.dev/owner": "ada", "empty": ""},
            resourceVersion=7,
        )
    )
    assert isinstance(obj, Job)
    assert obj.metadata.team == "ml"
    assert obj.metadata.resource_version == 7
    assert obj.metadata.labels["sapwood.dev/owner"] == "ada"
    spec = obj.spec
    assert spec.command == ["/bin/sh", "-c", "python train.py --epochs 3"]
    assert spec.resources.cpu == 1500
    assert spec.resources.memory == 4 * Gi
    assert spec.resources.gpu == 1
    assert spec.volumes[0].mount_path == "/data"
    assert spec.volumes[0].size == 10 * Gi
    assert spec.replicas == 4
    assert spec.completions == 8
    assert spec.restart == "Never"
    assert spec.backoff.initial == timedelta(seconds=5)
    assert spec.active_deadline == timedelta(hours=2)
    assert spec.termination_grace_period == timedelta(minutes=1)


def test_minimal_service_with_a_model() -> None:
    obj = parse_object(doc("Service", {"model": "llama@prod"}))
    assert isinstance(obj, Service)
    assert obj.spec.model == "llama@prod"
    assert obj.spec.command is None
    assert (obj.spec.replicas.min, obj.spec.replicas.max) == (1, 1)
    assert obj.spec.readiness is None


def test_full_service() -> None:
    obj = parse_object(
        doc(
            "Service",
            {
                "command": ["uvicorn", "app:api", "--port", "$PORT"],
                "replicas": {"min": 0, "max": 4},
                "readiness": {
                    "http": {"path": "/healthz", "port": 8080},
                    "initialDelay": "5s",
                    "period": "2s",
                    "timeout": "500ms",
                    "failureThreshold": 5,
                },
                "liveness": {"exec": {"command": ["true"]}, "successThreshold": 1},
                "backoff": {"initial": "1s", "max": "1s"},
            },
        )
    )
    assert isinstance(obj, Service)
    assert (obj.spec.replicas.min, obj.spec.replicas.max) == (0, 4)
    readiness = obj.spec.readiness
    assert readiness is not None
    assert readiness.http is not None
    assert readiness.http.path == "/healthz"
    assert readiness.timeout == timedelta(milliseconds=500)
    assert readiness.failure_threshold == 5
    assert obj.spec.liveness is not None
    assert obj.spec.liveness.exec is not None
    assert obj.spec.liveness.period == timedelta(seconds=10)


def test_minimal_workspace_is_jupyter_pausing_after_two_hours() -> None:
    obj = parse_object(doc("Workspace", {}))
    assert isinstance(obj, Workspace)
    assert obj.spec.tool == "jupyter"
    assert obj.spec.idle_timeout == timedelta(hours=2)
    assert obj.spec.preemptible is False
    assert obj.spec.paused is False


def test_full_workspace() -> None:
    obj = parse_object(
        doc(
            "Workspace",
            {
                "tool": "command",
                "command": "code-server --bind-addr 0.0.0.0:$PORT",
                "idleTimeout": None,
                "preemptible": True,
                "paused": True,
                "resources": {"cpu": 2, "memory": "8Gi", "gpu": "1"},
                "volumes": [{"name": "home", "mountPath": "/home/me", "size": "50Gi"}],
            },
        )
    )
    assert isinstance(obj, Workspace)
    assert obj.spec.tool == "command"
    assert obj.spec.idle_timeout is None
    assert obj.spec.preemptible is True
    assert obj.spec.resources.cpu == 2000
    assert obj.spec.resources.gpu == 1


def test_server_written_metadata_and_status_are_accepted_so_exports_reapply() -> None:
    document = doc(
        "Job",
        {"command": ["x"]},
        uid="0b6c",
        generation=3,
        createdAt="2024-01-01T00:00:00Z",
        updatedAt="2024-01-02T00:00:00Z",
        deletionTimestamp=None,
    )
    document["status"] = {"phase": "Running"}
    obj = parse_object(document)
    assert obj.metadata.generation == 3
    assert obj.status == {"phase": "Running"}


# --- envelope ---------------------------------------------------------------------------


def test_missing_api_version() -> None:
    document = doc("Job", {"command": ["x"]})
    del document["apiVersion"]
    assert errors_of(document) == [FieldError("apiVersion", "must be 'sapwood/v1'")]


def test_wrong_api_version_names_what_was_given() -> None:
    document = {**doc("Job", {"command": ["x"]}), "apiVersion": "v1"}
    assert errors_of(document) == [FieldError("apiVersion", "must be 'sapwood/v1', got 'v1'")]


@pytest.mark.parametrize("kind", ["Pod", "job", None, 3])
def test_unknown_kind_lists_the_allowed_kinds(kind: object) -> None:
    document = {**doc("Job", {"command": ["x"]}), "kind": kind}
    message = error_at(document, "kind")
    assert f"unknown kind {kind!r}" in message
    assert "expected one of Workspace, Job, Service" in message


@pytest.mark.parametrize("document", [[], "Job", None, 3])
def test_a_document_must_be_a_mapping(document: object) -> None:
    (error,) = errors_of(document)
    assert error.path == ""
    assert error.message == f"expected a mapping, got {type(document).__name__}"


def test_missing_metadata_and_spec_are_both_reported() -> None:
    errors = errors_of({"apiVersion": "sapwood/v1", "kind": "Job"})
    assert {e.path: e.message for e in errors} == {
        "metadata": "Field required",
        "spec": "Field required",
    }


def test_spec_error_message_joins_every_field() -> None:
    with pytest.raises(SpecError) as info:
        parse_object(doc("Job", {"command": ["x"], "resources": {"cpu": -1, "memory": "10Pi"}}))
    text = str(info.value)
    assert "spec.resources.cpu: cpu -1 is out of range" in text
    assert "; spec.resources.memory: memory '10Pi' is out of range" in text


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("job", "Job"),
        ("jobs", "Job"),
        ("Job", "Job"),
        ("JOBS", "Job"),
        ("svc", "Service"),
        ("services", "Service"),
        ("ws", "Workspace"),
        ("workspace", "Workspace"),
    ],
)
def test_kind_of_aliases(word: str, kind: str) -> None:
    assert kind_of(word) == kind


def test_kind_of_unknown_lists_the_plurals() -> None:
    with pytest.raises(
        ValueError, match=r"unknown kind 'pods': expected one of feeds, jobs, services"
    ):
        kind_of("pods")


# --- unknown fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (doc("Job", {"command": ["x"], "bogus": 1}), "spec.bogus"),
        (doc("Job", {"command": ["x"], "resources": {"disk": "1Gi"}}), "spec.resources.disk"),
        (doc("Job", {"command": ["x"]}, creator="ada"), "metadata.creator"),
        ({**doc("Job", {"command": ["x"]}), "extra": 1}, "extra"),
        (doc("Service", {"model": "m@1", "replicas": {"min": 1, "most": 2}}), "spec.replicas.most"),
        (doc("Workspace", {"idle": "1h"}), "spec.idle"),
        (
            doc("Job", {"command": ["x"], "volumes": [{"name": "d", "mountPath": "/d", "rw": 1}]}),
            "spec.volumes[0].rw",
        ),
        # snake_case spellings of camelCase fields are not silently ignored either
        (doc("Job", {"command": ["x"], "active_deadline_x": "1h"}), "spec.active_deadline_x"),
    ],
)
def test_unknown_field_is_named(document: dict[str, Any], path: str) -> None:
    assert error_at(document, path) == "unknown field"


# --- names, labels, env -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Train_", "'Train_' is not a valid name: use lowercase letters, digits and '-'"),
        ("a" * 64, "is longer than 63 characters"),
        ("-a", "'-a' is not a valid name"),
        ("a-", "is not a valid name"),
        ("", "is not a valid name"),
        ("my.job", "is not a valid name"),
    ],
)
def test_invalid_names(name: str, message: str) -> None:
    assert message in error_at(doc("Job", {"command": ["x"]}, name=name), "metadata.name")


def test_longest_name_is_63_characters() -> None:
    obj = parse_object(doc("Job", {"command": ["x"]}, name="a" * 63))
    assert len(obj.metadata.name) == 63


def test_invalid_team_name() -> None:
    message = error_at(doc("Job", {"command": ["x"]}, team="ML Team"), "metadata.team")
    assert "is not a valid name" in message


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"-bad": "x"}, "label key '-bad' is invalid"),
        ({"a" * 64: "x"}, "is invalid: up to 63"),
        ({"Bad_Prefix/app": "x"}, "has an invalid prefix: use a DNS subdomain"),
        ({"app": "bad value"}, "label value 'bad value' is invalid"),
        ({"app": "x" * 64}, "label value"),
        ({"app": "-x"}, "label value '-x' is invalid"),
    ],
)
def test_bad_labels(labels: dict[str, str], message: str) -> None:
    assert message in error_at(doc("Job", {"command": ["x"]}, labels=labels), "metadata.labels")


def test_label_value_must_be_a_string() -> None:
    document = doc("Job", {"command": ["x"]}, labels={"replicas": 3})
    assert error_at(document, "metadata.labels.replicas") == "Input should be a valid string"


@pytest.mark.parametrize("name", ["1A", "MY-VAR", "A B", ""])
def test_bad_env_names(name: str) -> None:
    message = error_at(doc("Job", {"command": ["x"], "env": {name: "v"}}), "spec.env")
    assert f"environment variable name {name!r} is invalid" in message
    assert "letters, digits and '_'" in message


def test_env_value_must_be_a_string_and_the_path_names_the_variable() -> None:
    document = doc("Job", {"command": ["x"], "env": {"EPOCHS": 3}})
    assert error_at(document, "spec.env.EPOCHS") == "Input should be a valid string"


def test_env_var_named_like_a_type_keeps_its_name_in_the_path() -> None:
    document = doc("Job", {"command": ["x"], "env": {"int": 3}})
    assert error_at(document, "spec.env.int") == "Input should be a valid string"


# --- resources --------------------------------------------------------------------------


def test_negative_cpu_and_oversized_memory_both_reported_at_their_fields() -> None:
    document = doc("Job", {"command": ["x"], "resources": {"cpu": -1, "memory": "10Pi"}})
    errors = {e.path: e.message for e in errors_of(document)}
    assert errors["spec.resources.cpu"] == (
        "cpu -1 is out of range: must be between 0 and 4096 CPUs"
    )
    assert errors["spec.resources.memory"] == (
        "memory '10Pi' is out of range: must be between 0 and 64Ti"
    )


@pytest.mark.parametrize(
    ("resources", "path", "message"),
    [
        ({"cpu": "lots"}, "spec.resources.cpu", "'lots' is not a CPU count such as 2, 1.5"),
        ({"cpu": "1.5m"}, "spec.resources.cpu", "finer than 1m"),
        ({"cpu": True}, "spec.resources.cpu", "got bool"),
        ({"memory": "4GB"}, "spec.resources.memory", "unknown memory unit 'GB'"),
        ({"memory": [1]}, "spec.resources.memory", "got list"),
        ({"gpu": 0.5}, "spec.resources.gpu", "whole number of GPUs"),
        ({"gpu": 2000}, "spec.resources.gpu", "out of range"),
    ],
)
def test_bad_resources(resources: dict[str, Any], path: str, message: str) -> None:
    assert message in error_at(doc("Job", {"command": ["x"], "resources": resources}), path)


def test_infinite_deadline_is_a_field_error_not_a_crash() -> None:
    body = yaml.safe_load(
        "apiVersion: sapwood/v1\nkind: Job\nmetadata: {name: a}\n"
        "spec: {command: [x], activeDeadline: .inf}\n"
    )
    assert "between 0s and 365d" in error_at(body, "spec.activeDeadline")


# --- wrong types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({"command": 5}, "spec.command", "valid list"),
        ({"command": ""}, "spec.command", "must not be empty"),
        ({"command": ["x"], "replicas": "many"}, "spec.replicas", "valid integer"),
        ({"command": ["x"], "replicas": 0}, "spec.replicas", "greater than or equal to 1"),
        ({"command": ["x"], "retries": -1}, "spec.retries", "greater than or equal to 0"),
        ({"command": ["x"], "restart": "Always"}, "spec.restart", "'Never' or 'OnFailure'"),
        ({"command": ["x"], "env": ["A=1"]}, "spec.env", "valid dictionary"),
        ({"command": ["x"], "volumes": {"name": "d"}}, "spec.volumes", "valid list"),
        ({"command": ["x"], "activeDeadline": "soon"}, "spec.activeDeadline", "not a duration"),
        ({"command": ["x"], "priority": "High!"}, "spec.priority", "not a valid name"),
    ],
)
def test_wrong_types_are_reported_at_the_field(spec: Any, path: str, message: str) -> None:
    assert message in error_at(doc("Job", spec), path)


def test_job_needs_a_command() -> None:
    assert error_at(doc("Job", {}), "spec.command") == "Field required"


def test_spec_must_be_a_mapping() -> None:
    assert "valid dictionary" in error_at(doc("Job", ["x"]), "spec")


def test_negative_resource_version_is_refused() -> None:
    document = doc("Job", {"command": ["x"]}, resourceVersion=-1)
    assert "greater than or equal to 0" in error_at(document, "metadata.resourceVersion")


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("Job", {"command": []}),
        ("Service", {"command": []}),
        ("Workspace", {"tool": "command", "command": []}),
    ],
)
def test_empty_command_list_is_refused(kind: str, spec: dict[str, Any]) -> None:
    assert "at least 1 item" in error_at(doc(kind, spec), "spec.command")


# --- services ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [{}, {"model": "llama@prod", "command": ["serve"]}])
def test_service_needs_exactly_one_of_model_or_command(spec: dict[str, Any]) -> None:
    message = error_at(doc("Service", spec), "spec")
    assert message == "a service needs exactly one of 'model' or 'command'"


@pytest.mark.parametrize("model", ["llama", "Llama@prod", "llama@", "@prod", "llama@-x"])
def test_service_model_must_be_name_at_alias(model: str) -> None:
    assert "should match pattern" in error_at(doc("Service", {"model": model}), "spec.model")


def test_replicas_shorthand_means_exactly_that_many() -> None:
    obj = parse_object(doc("Service", {"model": "llama@prod", "replicas": 3}))
    assert isinstance(obj, Service)
    assert (obj.spec.replicas.min, obj.spec.replicas.max) == (3, 3)
    assert spec_dict(obj.spec)["replicas"] == {"min": 3, "max": 3}


def test_replicas_shorthand_does_not_take_booleans() -> None:
    document = doc("Service", {"model": "llama@prod", "replicas": True})
    assert "valid dictionary" in error_at(document, "spec.replicas")


def test_replicas_min_above_max() -> None:
    document = doc("Service", {"command": "serve", "replicas": {"min": 3, "max": 2}})
    message = error_at(document, "spec.replicas")
    assert message == "replicas.min (3) must not exceed replicas.max (2)"


@pytest.mark.parametrize(
    ("probe", "got"),
    [
        ({}, "got none"),
        ({"http": {}, "tcp": {}}, "got ['http', 'tcp']"),
        ({"http": {}, "tcp": {}, "exec": {"command": ["true"]}}, "got ['http', 'tcp', 'exec']"),
    ],
)
def test_probe_needs_exactly_one_kind(probe: dict[str, Any], got: str) -> None:
    document = doc("Service", {"command": "serve", "readiness": probe})
    message = error_at(document, "spec.readiness")
    assert message == f"a probe needs exactly one of http, tcp or exec; {got}"


@pytest.mark.parametrize("probe", [{"tcp": {}}, {"http": {}}, {"exec": {"command": ["true"]}}])
def test_probe_with_one_kind_is_valid(probe: dict[str, Any]) -> None:
    obj = parse_object(doc("Service", {"command": "serve", "liveness": probe}))
    assert isinstance(obj, Service)
    assert obj.spec.liveness is not None


@pytest.mark.parametrize(
    ("probe", "path", "message"),
    [
        ({"tcp": {}, "period": "0s"}, "spec.readiness", "period and timeout must be above 0s"),
        ({"tcp": {}, "timeout": 0}, "spec.readiness", "period and timeout must be above 0s"),
        ({"tcp": {"port": 0}}, "spec.readiness.tcp.port", "greater than or equal to 1"),
        ({"tcp": {"port": 70000}}, "spec.readiness.tcp.port", "less than or equal to 65535"),
        ({"http": {"path": "healthz"}}, "spec.readiness.http.path", "should match pattern"),
        ({"exec": {"command": []}}, "spec.readiness.exec.command", "at least 1 item"),
        (
            {"tcp": {}, "failureThreshold": 0},
            "spec.readiness.failureThreshold",
            "than or equal to 1",
        ),
    ],
)
def test_bad_probe_settings(probe: dict[str, Any], path: str, message: str) -> None:
    document = doc("Service", {"command": "serve", "readiness": probe})
    assert message in error_at(document, path)


def test_backoff_initial_must_not_exceed_max() -> None:
    document = doc("Job", {"command": ["x"], "backoff": {"initial": "10m", "max": "5m"}})
    assert error_at(document, "spec.backoff") == "backoff initial must not exceed max"


# --- workspaces -------------------------------------------------------------------------


def test_workspace_tool_command_needs_a_command() -> None:
    message = error_at(doc("Workspace", {"tool": "command"}), "spec")
    assert message == "tool 'command' needs a 'command'"


def test_workspace_jupyter_refuses_a_command() -> None:
    message = error_at(doc("Workspace", {"command": "jupyter lab"}), "spec")
    assert message == "tool 'jupyter' starts JupyterLab itself: drop 'command'"


def test_workspace_unknown_tool_lists_the_tools() -> None:
    message = error_at(doc("Workspace", {"tool": "vscode"}), "spec.tool")
    assert message == "Input should be 'jupyter' or 'command'"


# --- volumes ----------------------------------------------------------------------------


def test_duplicate_volume_names() -> None:
    volumes = [
        {"name": "data", "mountPath": "/a"},
        {"name": "data", "mountPath": "/b"},
        {"name": "cache", "mountPath": "/c"},
        {"name": "cache", "mountPath": "/d"},
        {"name": "home", "mountPath": "/e"},
    ]
    message = error_at(doc("Workspace", {"volumes": volumes}), "spec")
    assert message == "volume names must be unique; repeated: cache, data"


@pytest.mark.parametrize(
    ("volume", "path", "message"),
    [
        ({"name": "data", "mountPath": "data"}, "spec.volumes[0].mountPath", "match pattern"),
        ({"name": "Data", "mountPath": "/d"}, "spec.volumes[0].name", "not a valid name"),
        ({"name": "d", "mountPath": "/d", "size": "lots"}, "spec.volumes[0].size", "memory size"),
        ({"name": "d"}, "spec.volumes[0].mountPath", "Field required"),
    ],
)
def test_bad_volume(volume: dict[str, Any], path: str, message: str) -> None:
    assert message in error_at(doc("Job", {"command": ["x"], "volumes": [volume]}), path)


# --- canonical form ---------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [(0.5, "500m"), ("0.5", 0.5), (2, "2000m"), ("1", 1.0)])
def test_spec_dict_normalises_cpu_spellings(a: object, b: object) -> None:
    first = parse_object(doc("Job", {"command": ["x"], "resources": {"cpu": a}}))
    second = parse_object(doc("Job", {"command": ["x"], "resources": {"cpu": b}}))
    assert spec_dict(first.spec) == spec_dict(second.spec)


def test_spec_dict_canonical_values() -> None:
    obj = parse_object(
        doc(
            "Job",
            {
                "command": ["x"],
                "resources": {"cpu": 0.5, "memory": 4 * Gi},
                "activeDeadline": 5400,
            },
        )
    )
    spec = spec_dict(obj.spec)
    assert spec["resources"] == {"cpu": "500m", "memory": "4Gi", "gpu": 0, "gpuModel": None}
    assert spec["activeDeadline"] == "1h30m"
    assert spec["terminationGracePeriod"] == "30s"
    assert spec["backoff"] == {"initial": "10s", "max": "5m"}


@pytest.mark.parametrize(
    "document",
    [
        doc("Job", {"command": ["x"]}),
        doc(
            "Job",
            {
                "command": "run",
                "resources": {"cpu": "1.5", "memory": "10G", "gpu": 2},
                "volumes": [{"name": "d", "mountPath": "/d", "size": "1e9"}],
                "activeDeadline": "1d1s250ms",
                "env": {"A": "1"},
            },
            labels={"app": "x"},
            team="ml",
        ),
        doc("Service", {"model": "llama@prod", "replicas": 3}),
        doc(
            "Service",
            {"command": "serve", "readiness": {"http": {"path": "/h"}}, "liveness": {"tcp": {}}},
        ),
        doc("Workspace", {}),
        doc("Workspace", {"tool": "command", "command": ["bash"], "idleTimeout": None}),
    ],
)
def test_spec_dict_reparses_to_an_equal_model(document: dict[str, Any]) -> None:
    obj = parse_object(document)
    wire = spec_dict(obj)
    again = parse_object(copy.deepcopy(wire))
    assert again == obj
    assert spec_dict(again) == wire


# --- examples ---------------------------------------------------------------------------

# The quickstart, and the network-defense example's feed and service (its job.yaml holds a
# placeholder the demo fills in).
NETWORK_DEFENSE = QUICKSTART.parent / "network-defense"
EXAMPLES = [
    *sorted([*QUICKSTART.glob("*.yaml"), *QUICKSTART.glob("*.yml")]),
    NETWORK_DEFENSE / "feed.yaml",
    NETWORK_DEFENSE / "service.yaml",
]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_quickstart_examples_parse(path: Path) -> None:
    bodies = [b for b in yaml.safe_load_all(path.read_text()) if b is not None]
    assert bodies, f"{path} has no documents"
    for body in bodies:
        obj = parse_object(body)
        assert parse_object(spec_dict(obj)) == obj


# --- random valid jobs ------------------------------------------------------------------

names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
label_values = st.from_regex(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?)?", fullmatch=True)
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
cpus = st.integers(min_value=0, max_value=MAX_CPU_MILLIS).flatmap(
    lambda m: st.sampled_from([format_cpu(m), f"{m}m", m // 1000, f"{m / 1000:.3f}"])
)
memories = st.integers(min_value=0, max_value=MAX_MEMORY_BYTES).flatmap(
    lambda b: st.sampled_from([format_memory(b), b, str(b)])
)
durations = st.integers(min_value=0, max_value=365 * 86_400_000).map(
    lambda ms: f"{ms}ms" if ms % 1000 else ms // 1000
)
# What a process can be given: any text but NUL, which the kernel cannot pass.
process_text = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
commands = st.one_of(
    # a shell string must have something to run (whitespace alone is refused)
    st.text(process_text, min_size=1, max_size=20).filter(str.strip),
    st.lists(st.text(process_text, min_size=1, max_size=10), min_size=1, max_size=4),
)


@st.composite
def job_documents(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "command": draw(commands),
        "resources": {
            "cpu": draw(cpus),
            "memory": draw(memories),
            "gpu": draw(st.integers(min_value=0, max_value=1024)),
        },
        "env": draw(st.dictionaries(env_names, st.text(process_text, max_size=10), max_size=3)),
        "replicas": draw(st.integers(min_value=1, max_value=1024)),
        "retries": draw(st.integers(min_value=0, max_value=1000)),
        "restart": draw(st.sampled_from(["Never", "OnFailure"])),
        "priority": draw(names),
        "terminationGracePeriod": draw(durations),
    }
    if draw(st.booleans()):
        spec["activeDeadline"] = draw(durations.filter(lambda d: d not in (0, "0ms")))
    if draw(st.booleans()):
        spec["completions"] = draw(st.integers(min_value=1, max_value=100_000))
    volume_names = draw(st.lists(names, max_size=3, unique=True))
    spec["volumes"] = [{"name": n, "mountPath": f"/v/{n}"} for n in volume_names]
    metadata: dict[str, Any] = {
        "name": draw(names),
        "labels": draw(st.dictionaries(names, label_values, max_size=3)),
    }
    if draw(st.booleans()):
        metadata["team"] = draw(names)
    return {"apiVersion": "sapwood/v1", "kind": "Job", "metadata": metadata, "spec": spec}


@settings(max_examples=60, deadline=None)
@given(job_documents())
def test_random_valid_jobs_survive_parse_spec_dict_parse(document: dict[str, Any]) -> None:
    obj = parse_object(document)
    assert isinstance(obj, Job)
    wire = spec_dict(obj)
    again = parse_object(wire)
    assert again == obj
    assert spec_dict(again) == wire
    assert spec_dict(again.spec) == spec_dict(obj.spec)


def test_a_blank_shell_command_is_refused() -> None:
    assert "must not be empty" in error_at(doc("Job", {"command": "   "}), "spec.command")


def test_a_lone_surrogate_in_a_command_is_refused_by_name() -> None:
    with pytest.raises(SpecError) as caught:
        parse_object(doc("Job", {"command": ["python", "\ud800"]}))
    assert "spec.command[1]" in str(caught.value)
    assert "lone surrogate" in str(caught.value)
