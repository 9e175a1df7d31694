"""The API double refuses what the real API server refuses, in its words: names, labels,
finalizers, env, volume and container names, Secret keys, unknown fields by
fieldValidation, and the update rules (Pod spec, Job template, finalizers on deletion)."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.testing.kube_errors import ApiError
from sapwood.testing.kube_names import is_dns1123_label, is_qualified_name
from sapwood.testing.kube_store import KubeStore
from sapwood.testing.kube_writes import WriteOptions

Obj = dict[str, Any]
NS = "team"


@pytest.fixture
def store() -> KubeStore:
    made = KubeStore()
    made.create("namespaces", "", {"metadata": {"name": NS}})
    return made


def _pod(name: str = "web", **spec: Any) -> Obj:
    container = {"name": "main", "image": "python:3.12", **spec.pop("container", {})}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def _refused(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_an_upper_case_pod_name_is_refused_with_the_real_message_and_causes(
    store: KubeStore,
) -> None:
    error = _refused(store.create, "pods", NS, _pod("Web"))
    assert error.code == 422
    assert error.reason == "Invalid"
    assert error.message == (
        'Pod "Web" is invalid: metadata.name: Invalid value: "Web": a lowercase RFC 1123 '
        "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    assert error.details is not None
    (cause,) = error.details["causes"]
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["field"] == "metadata.name"


def test_names_follow_their_kind_rule(store: KubeStore) -> None:
    namespace = _refused(store.create, "namespaces", "", {"metadata": {"name": "a.b"}})
    assert 'metadata.name: Invalid value: "a.b": must not contain dots' in namespace.message
    service = {"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}
    error = _refused(store.create, "services", NS, service)
    assert "a DNS-1035 label must consist of" in error.message
    job = {"metadata": {"name": "x" * 254}, "spec": {"template": {"spec": _pod()["spec"]}}}
    assert "must be no more than 253 characters" in _refused(store.create, "jobs", NS, job).message


def test_labels_finalizers_env_volumes_and_hostnames_are_checked(store: KubeStore) -> None:
    pod = _pod(
        hostname="job-" + "x" * 61,
        volumes=[{"name": "v-" + "x" * 62, "emptyDir": {}}],
        container={"env": [{"name": "1BAD", "value": "x"}]},
    )
    pod["metadata"]["labels"] = {"sapwood.dev/name": "x" * 64, "bad key!": "v"}
    pod["metadata"]["finalizers"] = ["a/b/c"]
    error = _refused(store.create, "pods", NS, pod)
    fields = {cause["field"] for cause in error.details["causes"]}  # type: ignore[index]
    assert fields == {
        "metadata.labels",
        "metadata.finalizers",
        "spec.volumes[0].name",
        "spec.containers[0].env[0].name",
        "spec.hostname",
    }
    assert error.message.startswith('Pod "web" is invalid: [')
    assert "must be no more than 63 characters" in error.message


def test_secret_keys_must_be_config_keys(store: KubeStore) -> None:
    secret = {"metadata": {"name": "env"}, "data": {"MY KEY": "eA=="}}
    error = _refused(store.create, "secrets", NS, secret)
    assert 'data[MY KEY]: Invalid value: "MY KEY": a valid config key must consist' in (
        error.message
    )


def test_an_unqualified_finalizer_is_accepted_with_the_real_warning(store: KubeStore) -> None:
    options = WriteOptions()
    pod = _pod()
    pod["metadata"]["finalizers"] = ["mine"]
    store.create("pods", NS, pod, options=options)
    assert options.warnings == [
        'metadata.finalizers: "mine": prefer a domain-qualified finalizer name including a '
        "path (/) to avoid accidental conflicts with other finalizer writers"
    ]


@pytest.mark.parametrize("validation", ["Strict", "Warn", "Ignore"])
def test_unknown_fields_follow_field_validation(store: KubeStore, validation: str) -> None:
    pod = _pod(container={"imagePullPolice": "Always"})
    options = WriteOptions(field_validation=validation)
    if validation == "Strict":
        error = _refused(store.create, "pods", NS, pod, options=options)
        assert error.code == 400
        assert error.message == (
            'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
            'unknown field "spec.containers[0].imagePullPolice"'
        )
        return
    made = store.create("pods", NS, pod, options=options)
    assert "imagePullPolice" not in made["spec"]["containers"][0]
    expected = ['unknown field "spec.containers[0].imagePullPolice"']
    assert options.warnings == (expected if validation == "Warn" else [])


def test_apply_is_strict_whatever_field_validation_says(store: KubeStore) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", **_pod()}
    pod["spec"]["foo"] = 1
    options = WriteOptions(field_validation="Ignore")
    error = _refused(store.apply, "pods", NS, "web", pod, manager="m", force=True, options=options)
    assert error.code == 500
    assert error.message == (
        "failed to create typed patch object (team/web; /v1, Kind=Pod): .spec.foo: "
        "field not declared in schema"
    )


def test_a_wrong_type_is_a_bad_request_and_a_missing_field_invalid(store: KubeStore) -> None:
    error = _refused(store.create, "pods", NS, _pod(activeDeadlineSeconds="soon"))
    assert error.code == 400
    assert "cannot unmarshal string" in error.message
    missing = _refused(store.create, "pods", NS, {"metadata": {"name": "x"}, "spec": {}})
    assert missing.code == 422
    assert "spec.containers: Required value" in missing.message


def test_dry_run_checks_without_storing(store: KubeStore) -> None:
    made = store.create("pods", NS, _pod(), options=WriteOptions(dry_run=True))
    assert made["metadata"]["name"] == "web"
    assert ("pods", NS, "web") not in store.objects


def test_a_pod_spec_is_immutable_but_for_its_image(store: KubeStore) -> None:
    store.create("pods", NS, _pod())
    patched = store.patch(
        "pods",
        NS,
        "web",
        {"spec": {"containers": [{"name": "main", "image": "python:3.13"}]}},
        status=False,
    )
    assert patched["spec"]["containers"][0]["image"] == "python:3.13"
    error = _refused(
        store.patch, "pods", NS, "web", {"spec": {"restartPolicy": "Never"}}, status=False
    )
    assert error.code == 422
    assert error.message.startswith(
        'Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`"
    )


def test_active_deadline_may_only_be_added_or_shortened(store: KubeStore) -> None:
    store.create("pods", NS, _pod())
    store.patch("pods", NS, "web", {"spec": {"activeDeadlineSeconds": 60}}, status=False)
    store.patch("pods", NS, "web", {"spec": {"activeDeadlineSeconds": 30}}, status=False)
    error = _refused(
        store.patch, "pods", NS, "web", {"spec": {"activeDeadlineSeconds": 90}}, status=False
    )
    assert "must be less than or equal to previous value" in error.message


def test_a_job_template_is_immutable(store: KubeStore) -> None:
    job = {"metadata": {"name": "train"}, "spec": {"template": {"spec": _pod()["spec"]}}}
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    store.create("jobs", NS, job)
    change = {"spec": {"template": {"spec": {"activeDeadlineSeconds": 5}}}}
    error = _refused(store.patch, "jobs", NS, "train", change, status=False)
    assert error.message.startswith('Job.batch "train" is invalid: spec.template: Invalid value')
    assert error.message.endswith("field is immutable")


def test_no_new_finalizer_once_deleting(store: KubeStore) -> None:
    pod = _pod()
    pod["metadata"]["finalizers"] = ["example.com/a"]
    store.create("pods", NS, pod)
    store.delete("pods", NS, "web")
    change = {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}}
    error = _refused(store.patch, "pods", NS, "web", change, status=False)
    assert error.message == (
        'Pod "web" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added '
        'if the object is being deleted, found new finalizers []string{"example.com/b"}'
    )


def test_a_stale_resource_version_in_an_apply_is_a_conflict(store: KubeStore) -> None:
    made = store.create("pods", NS, _pod())
    store.patch("pods", NS, "web", {"metadata": {"labels": {"a": "b"}}}, status=False)
    applied = {"apiVersion": "v1", "kind": "Pod", **_pod()}
    applied["metadata"]["resourceVersion"] = made["metadata"]["resourceVersion"]
    error = _refused(store.apply, "pods", NS, "web", applied, manager="m", force=True)
    assert error.code == 409
    assert error.message == (
        'Operation cannot be fulfilled on pods "web": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )


def test_the_string_rules_match_apimachinery() -> None:
    assert is_dns1123_label("job-train-0") == []
    assert is_qualified_name("sapwood.dev/unit") == []
    assert is_qualified_name("/x") == [
        "prefix part must be non-empty",
    ]
    assert is_qualified_name("Sapwood.dev/x")[0].startswith("prefix part a lowercase RFC 1123")
