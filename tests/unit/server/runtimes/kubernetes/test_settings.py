"""Choosing and configuring the runtime from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sapwood.server.runtimes.base import RuntimePermanentError
from sapwood.server.runtimes.kubernetes.client import in_cluster_namespace
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.server.settings import Settings


def test_kubernetes_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "SAPWOOD_RUNTIME": "kubernetes",
            "SAPWOOD_KUBECONFIG": "/etc/kube/config",
            "SAPWOOD_KUBE_CONTEXT": "kind-test",
            "SAPWOOD_KUBE_NAMESPACE_PREFIX": "ml-",
        }
    )
    runtime = settings.runtime.kubernetes
    assert settings.runtime.kind == "kubernetes"
    assert runtime.kubeconfig == Path("/etc/kube/config")
    assert (runtime.context, runtime.namespace_prefix) == ("kind-test", "ml-")


def test_the_default_is_local_and_in_cluster() -> None:
    settings = Settings.from_env({})
    assert settings.runtime.kind == "local"
    assert settings.runtime.kubernetes.kubeconfig is None  # service account


def test_an_unknown_runtime_names_the_choices() -> None:
    with pytest.raises(ValidationError, match="'local' or 'kubernetes'"):
        Settings.from_env({"SAPWOOD_RUNTIME": "nomad"})


def test_a_missing_kubeconfig_names_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(RuntimePermanentError, match=f"SAPWOOD_KUBECONFIG={missing}"):
        KubernetesRuntime(KubernetesRuntimeSettings(kubeconfig=missing))


def test_outside_a_cluster_without_kubeconfig_says_what_to_set() -> None:
    with pytest.raises(RuntimePermanentError, match="set SAPWOOD_KUBECONFIG"):
        KubernetesRuntime(KubernetesRuntimeSettings())


def test_the_servers_namespace_comes_from_its_service_account(tmp_path: Path) -> None:
    token_dir = tmp_path / "namespace"
    token_dir.write_text("platform\n")
    assert in_cluster_namespace(token_dir) == "platform"
    assert in_cluster_namespace(tmp_path / "absent") is None
