"""API server answers become RuntimeTemporaryError or RuntimePermanentError, at the seam."""

from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.server.runtimes.base import RuntimePermanentError, RuntimeTemporaryError, UnitKey
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.server.runtimes.kubernetes.settings import KubernetesRuntimeSettings
from sapwood.testing.kube_api import KubeApiDouble
from tests.integration.runtimes.kubernetes.conftest import NAMESPACE, spec

pytestmark = pytest.mark.anyio

# What start() applies: a Job unit's batch/v1 Job, any other unit's Pod.
APPLIED = [
    pytest.param(UnitKey("Job", "research", "train"), "/jobs/", id="job"),
    pytest.param(UnitKey("Service", "research", "web"), "/pods/", id="service"),
]


@pytest.mark.parametrize(("key", "path"), APPLIED)
@pytest.mark.parametrize("code", [409, 429, 500, 503])
async def test_conflicts_throttling_and_server_errors_are_temporary(
    runtime: KubernetesRuntime, double: KubeApiDouble, code: int, key: UnitKey, path: str
) -> None:
    double.fail_next(code, "try again", method="PATCH", path_contains=path)
    with pytest.raises(RuntimeTemporaryError, match="try again"):
        await runtime.start(spec(key))
    await runtime.start(spec(key))  # the retry goes through
    assert len(double.pods(NAMESPACE)) == 1


@pytest.mark.parametrize(("key", "path"), APPLIED)
async def test_forbidden_is_temporary_with_the_servers_message(
    runtime: KubernetesRuntime, double: KubeApiDouble, key: UnitKey, path: str
) -> None:
    # An admin fixes RBAC (or a quota, a namespace's Pod Security level) without touching
    # the object: the start is retried, and the server's words say what to fix.
    resource = path.strip("/")
    message = f'{resource} is forbidden: User "sapwood" cannot patch resource "{resource}"'
    double.fail_next(403, message, method="PATCH", path_contains=path)
    with pytest.raises(RuntimeTemporaryError) as caught:
        await runtime.start(spec(key))
    assert str(caught.value).startswith("RBAC: ")
    assert message in str(caught.value)
    await runtime.start(spec(key))  # the retry goes through
    assert len(double.pods(NAMESPACE)) == 1


@pytest.mark.parametrize(("key", "path"), APPLIED)
async def test_invalid_is_permanent_with_the_servers_message(
    runtime: KubernetesRuntime, double: KubeApiDouble, key: UnitKey, path: str
) -> None:
    message = f'{path.strip("/")} "x" is invalid: spec: Invalid value'
    double.fail_next(422, message, method="PATCH", path_contains=path)
    with pytest.raises(RuntimePermanentError) as caught:
        await runtime.start(spec(key))
    assert caught.value.reason == "Invalid"
    assert message in str(caught.value)


async def test_an_unreachable_api_server_is_temporary(tmp_path: Path) -> None:
    gone = KubeApiDouble()
    with gone.running():
        kubeconfig = gone.write_kubeconfig(tmp_path / "kubeconfig")
    runtime = KubernetesRuntime(
        KubernetesRuntimeSettings(kubeconfig=kubeconfig, request_timeout_s=2)
    )
    try:
        with pytest.raises(RuntimeTemporaryError, match="unreachable"):
            await runtime.capacity()
    finally:
        await runtime.close()
