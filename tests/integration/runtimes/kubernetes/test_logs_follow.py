"""Following a log when the stream ends early (API server, kubelet or proxy restarts), and
a watch that ends early (issue 17, 10 and the double's item 6)."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import pytest

from sapwood.server.runtimes.base import UnitPhase
from sapwood.server.runtimes.kubernetes import log_follow
from sapwood.server.runtimes.kubernetes.runtime import KubernetesRuntime
from sapwood.testing.kube_api import KubeApiDouble
from tests.integration.runtimes.kubernetes.conftest import (
    KEY,
    NAMESPACE,
    current_pod,
    spec,
    wait_for,
)

pytestmark = pytest.mark.anyio


async def test_follow_resumes_after_early_ends_without_gaps_or_repeats(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    first = current_pod(double)["metadata"]["name"]
    double.write_log(NAMESPACE, first, b"one\n")
    seen = b""
    async with aclosing(runtime.logs(KEY, follow=True)) as chunks:
        with anyio.fail_after(20):
            async for chunk in chunks:
                seen += chunk
                if seen == b"one\n":
                    double.end_log_streams()  # the container goes on writing
                    double.write_log(NAMESPACE, first, b"two\n")
                elif seen == b"one\ntwo\n":
                    double.write_log(NAMESPACE, first, b"thr")  # half a line, then an end
                elif seen == b"one\ntwo\nthr":
                    double.end_log_streams()
                    double.write_log(NAMESPACE, first, b"ee\nfour\n")
                elif seen == b"one\ntwo\nthree\nfour\n":
                    double.end_log_streams()
                    double.write_log(NAMESPACE, first, b"last words\n")
                    double.finish_pod(NAMESPACE, first, 0)  # ends while nobody streams
                    await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
                    await runtime.start(spec())  # following goes on with the next run
                    double.write_log(NAMESPACE, current_pod(double)["metadata"]["name"], b"x\n")
                elif seen.endswith(b"x\n"):
                    break
    assert seen == b"one\ntwo\nthree\nfour\nlast words\nx\n"


async def test_follow_that_cannot_resume_says_why(
    runtime: KubernetesRuntime, double: KubeApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_follow, "POLL_S", 0.01)
    await runtime.start(spec())
    name = current_pod(double)["metadata"]["name"]
    double.write_log(NAMESPACE, name, b"one\n")
    seen = b""
    async with aclosing(runtime.logs(KEY, follow=True)) as chunks:
        with anyio.fail_after(20):
            async for chunk in chunks:
                seen += chunk
                if seen == b"one\n":
                    for _ in range(log_follow.MAX_FAILURES):
                        double.fail_next(503, "the kubelet is restarting", path_contains="/log")
                    double.end_log_streams()
                elif b"stopped following" in seen:
                    break
    assert (
        seen
        == (
            f"one\n\n[sapwood] stopped following the log of pod {name}: "
            f"{log_follow.MAX_FAILURES} attempts to read on failed, the last: kubernetes "
            "refused to follow a log: the kubelet is restarting\n"
        ).encode()
    )


async def test_a_watch_that_ends_early_is_resumed(
    runtime: KubernetesRuntime, double: KubeApiDouble
) -> None:
    await runtime.start(spec())
    await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.RUNNING)
    double.end_watch_streams()
    double.finish_pod(NAMESPACE, current_pod(double)["metadata"]["name"], 3)
    state = await wait_for(runtime, KEY, lambda s: s.phase is UnitPhase.EXITED)
    assert state.exit_code == 3
