"""sapwood.run's Run: batching, when a batch goes, and what happens when sending fails."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from sapwood.client import ForbiddenError
from sapwood.client.errors import ConnectionFailedError
from sapwood.client.workload import BATCH_POINTS, FLUSH_INTERVAL_S, NotInWorkloadError, Run

ENV = {
    "SAPWOOD_URL": "http://sapwood.test",
    "SAPWOOD_TOKEN": "sw_w1_secret",
    "SAPWOOD_KIND": "Job",
    "SAPWOOD_TEAM": "ml",
    "SAPWOOD_NAME": "train",
}


class Server:
    """Records every request; answers with ``status`` (or fails to connect)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append(request)
        if self.status != 200:
            body = {"error": {"code": "forbidden", "message": "not yours"}}
            return httpx.Response(self.status, json=body)
        return httpx.Response(200, json={"written": len(json.loads(request.content))})

    def points(self) -> list[dict[str, object]]:
        return [p for r in self.requests for p in json.loads(r.content)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def run(server: Server, clock: Clock) -> Run:
    return Run(ENV, transport=httpx.MockTransport(server), clock=clock)


def test_points_wait_for_a_full_batch_then_go_in_one_request(run: Run, server: Server) -> None:
    for step in range(BATCH_POINTS - 1):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert server.requests == []
    run.log_metric("loss", 0.0, step=BATCH_POINTS - 1)

    [request] = server.requests
    assert request.url.path == "/api/v1/jobs/train/metrics"
    assert request.url.params["team"] == "ml"
    assert request.headers["authorization"] == "Bearer sw_w1_secret"
    assert len(server.points()) == BATCH_POINTS
    assert server.points()[0]["step"] == 0
    assert run.pending == 0


def test_a_point_after_a_quiet_spell_goes_at_once(run: Run, server: Server, clock: Clock) -> None:
    run.log_metric("loss", 0.5, step=1)
    clock.now += FLUSH_INTERVAL_S
    run.log_metrics({"loss": 0.4, "accuracy": 0.9}, step=2)
    points = server.points()
    assert [(p["name"], p["value"], p["step"]) for p in points] == [
        ("loss", 0.5, 1),
        ("loss", 0.4, 2),
        ("accuracy", 0.9, 2),
    ]
    assert points[1]["time"] == points[2]["time"]


def test_flush_and_close_send_the_rest(run: Run, server: Server) -> None:
    run.log_metric("loss", 0.5)
    run.flush()
    assert len(server.requests) == 1
    run.log_metric("loss", 0.25)
    run.close()
    run.close()  # idempotent
    assert [p["value"] for p in server.points()] == [0.5, 0.25]
    assert "step" not in server.points()[0]


def test_points_wait_while_the_server_is_unreachable(
    run: Run, server: Server, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    server.down = True
    clock.now += FLUSH_INTERVAL_S
    with caplog.at_level(logging.WARNING, logger="sapwood.run"):
        run.log_metric("loss", 0.5)  # training goes on
    assert run.pending == 1
    assert "not sent yet" in caplog.text
    with pytest.raises(ConnectionFailedError):
        run.flush()
    server.down = False
    run.flush()
    assert [p["value"] for p in server.points()] == [0.5]


def test_a_refusal_is_raised_and_its_points_dropped(run: Run, server: Server) -> None:
    server.status = 403
    run.log_metric("loss", 0.5)
    with pytest.raises(ForbiddenError, match="not yours"):
        run.flush()
    assert run.pending == 0


def test_close_at_exit_logs_a_refusal_instead_of_raising(
    run: Run, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    server.status = 403
    run.log_metric("loss", 0.5)
    run.close()
    assert "refused and dropped" in caplog.text


@pytest.mark.parametrize(
    ("name", "value", "step", "words"),
    [
        ("loss", float("nan"), None, "finite"),
        ("loss", float("-inf"), None, "finite"),
        ("bad name", 1.0, None, "not a metric name"),
        ("loss", 1.0, -1, "step must be 0 or more"),
    ],
)
def test_a_bad_point_is_refused_at_once(
    run: Run, name: str, value: float, step: int | None, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        run.log_metric(name, value, step=step)
    assert run.pending == 0


def test_numbers_that_convert_are_accepted(run: Run, server: Server) -> None:
    class Scalar:  # like a numpy or torch scalar
        def __float__(self) -> float:
            return 0.125

        def __index__(self) -> int:
            return 7

    run.log_metric("loss", Scalar(), step=Scalar())
    run.flush()
    assert server.points()[0]["value"] == 0.125
    assert server.points()[0]["step"] == 7


def test_outside_a_workload_the_missing_variables_are_named() -> None:
    env = {k: v for k, v in ENV.items() if k not in ("SAPWOOD_TOKEN", "SAPWOOD_NAME")}
    with pytest.raises(NotInWorkloadError, match="SAPWOOD_TOKEN, SAPWOOD_NAME are not set"):
        Run(env)
    with pytest.raises(NotInWorkloadError, match=r"^SAPWOOD_URL is not set"):
        Run({**ENV, "SAPWOOD_URL": ""})
