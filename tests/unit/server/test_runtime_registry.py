"""The runtime registry: every SAPWOOD_RUNTIME a server accepts opens through one entry."""

from __future__ import annotations

from typing import get_args

import pytest

from sapwood.server.runtime_registry import RUNTIMES, runtime_kind
from sapwood.server.settings import KubernetesRuntimeSettings, RuntimeSettings, Settings


def test_every_kind_the_settings_accept_has_an_entry() -> None:
    kinds = get_args(RuntimeSettings.model_fields["kind"].annotation)
    assert set(kinds) == set(RUNTIMES)


def test_an_unknown_kind_names_the_kinds_there_are() -> None:
    with pytest.raises(ValueError, match="expected one of local, kubernetes"):
        runtime_kind("nomad")


def test_kubernetes_units_reach_the_api_through_the_cluster_service() -> None:
    cluster = KubernetesRuntimeSettings(api_url="http://api")
    settings = Settings(runtime=RuntimeSettings(kind="kubernetes", kubernetes=cluster))
    kind = runtime_kind(settings.runtime.kind)
    assert kind.api_url(settings) == "http://api"
    assert kind.runs_images
    assert not kind.local_workdirs


def test_local_units_reach_the_api_on_loopback() -> None:
    settings = Settings()
    kind = runtime_kind("local")
    assert kind.api_url(settings) == "http://127.0.0.1:8420"
    assert kind.local_workdirs
