"""The informer's watch thread is supervised: a failure it did not expect is reported by
observe() and the cache recovers instead of freezing."""

from __future__ import annotations

import pytest

from sapwood.server.runtimes.base import RuntimeTemporaryError, UnitPhase
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.testing.kube_api import KubeApiDouble
from sapwood.testing.waiting import eventually
from tests.integration.runtimes.kubernetes.conftest import (
    KEY,
    NAMESPACE,
    current_pod,
    spec,
    wait_for,
)

pytestmark = pytest.mark.anyio


async def test_a_watch_killed_by_a_broken_answer_is_reported_and_recovers(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    await runtime.observe()
    double.garble_next_watch()
    double.expire_watches()  # the informer lists again and watches: the answer is broken

    async def refused() -> str:
        try:
            await runtime.observe()
        except RuntimeTemporaryError as error:
            return str(error)
        return ""

    message = await eventually(refused, lambda text: "JSONDecodeError" in text)
    assert "not listed: JSONDecodeError" in message  # the cause, not a frozen cache

    await eventually(refused, lambda text: text == "")  # listed and watching again
    double.finish_pod(NAMESPACE, current_pod(double)["metadata"]["name"], 0)
    state = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    assert state.exit_code == 0
