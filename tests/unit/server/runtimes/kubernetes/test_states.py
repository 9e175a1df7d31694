"""Pods to unit states (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.server.runtimes.base import UnitKey, UnitPhase, UnitReason, UnitSpec
from sapwood.server.runtimes.kubernetes.manifests import STOP_REQUESTED, pod_manifest
from sapwood.server.runtimes.kubernetes.states import pod_to_state

KEY = UnitKey("Job", "research", "train")
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def pod(status: dict[str, Any], **annotations: str) -> dict[str, Any]:
    manifest = pod_manifest(
        UnitSpec(key=KEY, command=("python",), env={}, generation=4),
        namespace="sapwood-research",
        run=1,
        image="python:3.11-slim",
    )
    manifest["metadata"]["annotations"].update(annotations)
    manifest["metadata"]["creationTimestamp"] = T0
    manifest["status"] = status
    return manifest


def terminated(code: int, reason: str, message: str | None = None) -> dict[str, Any]:
    state = {"exitCode": code, "reason": reason, "startedAt": T0, "finishedAt": T1}
    if message:
        state["message"] = message
    return {
        "phase": "Failed" if code else "Succeeded",
        "containerStatuses": [{"name": "main", "state": {"terminated": state}}],
    }


def test_pending_pod_is_a_running_unit() -> None:
    state = pod_to_state(pod({"phase": "Pending"}))
    assert state is not None
    assert (state.key, state.phase, state.generation, state.reason) == (
        KEY,
        UnitPhase.RUNNING,
        4,
        None,
    )


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        (
            {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/2 nodes are available: 2 Insufficient cpu.",
                    }
                ],
            },
            "Unschedulable",
            "0/2 nodes are available: 2 Insufficient cpu.",
        ),
        (
            {
                "phase": "Pending",
                "containerStatuses": [
                    {"name": "main", "state": {"waiting": {"reason": "ErrImagePull"}}}
                ],
            },
            "ErrImagePull",
            None,
        ),
        (
            {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "main",
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    }
                ],
            },
            "CrashLoopBackOff",
            "back-off",
        ),
    ],
)
def test_waiting_reasons(status: dict[str, Any], reason: str, message: str | None) -> None:
    state = pod_to_state(pod(status))
    assert state is not None
    assert (state.phase, state.reason, state.message) == (UnitPhase.RUNNING, reason, message)


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (terminated(0, "Completed"), 0, UnitReason.COMPLETED),
        (terminated(3, "Error"), 3, UnitReason.ERROR),
        (terminated(137, "OOMKilled"), 137, UnitReason.OOM_KILLED),
        (
            terminated(128, "StartError", 'exec: "nope": executable file not found in $PATH'),
            127,
            UnitReason.COMMAND_NOT_FOUND,
        ),
        ({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}, None, "Evicted"),
        ({"phase": "Failed", "reason": "NodeLost"}, None, UnitReason.KILLED),
    ],
)
def test_exits(status: dict[str, Any], code: int | None, reason: str) -> None:
    state = pod_to_state(pod(status))
    assert state is not None
    assert (state.phase, state.exit_code, state.reason) == (UnitPhase.EXITED, code, reason)
    assert state.finished_at is not None
    assert state.finished_at >= state.started_at


def test_a_stop_request_makes_the_exit_stopped_but_keeps_the_code() -> None:
    state = pod_to_state(pod(terminated(143, "Error"), **{STOP_REQUESTED: T1}))
    assert state is not None
    assert (state.exit_code, state.reason) == (143, UnitReason.STOPPED)


def test_pods_that_are_not_units_are_ignored() -> None:
    assert pod_to_state({"metadata": {"name": "dns", "labels": {}}}) is None


def test_a_running_pod_is_reached_at_its_ip() -> None:
    running = {"containerStatuses": [{"name": "main", "state": {"running": {"startedAt": T0}}}]}
    state = pod_to_state(pod({"phase": "Running", "podIP": "10.42.0.7", **running}))
    assert state is not None
    assert state.host == "10.42.0.7"
    assert pod_to_state(pod({"phase": "Pending"})).host == "127.0.0.1"  # type: ignore[union-attr]
