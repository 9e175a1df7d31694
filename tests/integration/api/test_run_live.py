"""sapwood.run against a real server over HTTP, set up as the controller sets up a workload."""

from __future__ import annotations

import pytest

import sapwood.run
from sapwood.client import Client
from sapwood.testing.servers import LiveServer
from tests.support import job


@pytest.fixture
def fresh_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test builds its own process-wide run from the environment it sets."""
    monkeypatch.setattr(sapwood.run, "_current", None)


@pytest.mark.usefixtures("fresh_run")
def test_log_metric_reaches_the_server(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Client(live_server.url, token=live_server.admin_token) as admin:
        admin.create_user("mia", teams={"default": "member"})
        token = admin.create_token(user="mia").token
        admin.apply([job("train")])
        env = {
            "SAPWOOD_URL": live_server.url,
            "SAPWOOD_TOKEN": token,
            "SAPWOOD_KIND": "Job",
            "SAPWOOD_TEAM": "default",
            "SAPWOOD_NAME": "train",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)

        for step in range(250):
            sapwood.run.log_metric("loss", 1.0 / (step + 1), step=step)
        sapwood.run.log_metrics({"accuracy": 0.75, "lr": 1e-3}, step=249)
        sapwood.run.flush()
        sapwood.run.current().close()

        series = {s.name: s for s in admin.list_metrics("job", "train")}
    assert sorted(series) == ["accuracy", "loss", "lr"]
    assert series["loss"].count == 250
    assert series["loss"].points[-1].step == 249
    assert series["accuracy"].points[0].value == 0.75


@pytest.mark.usefixtures("fresh_run")
def test_outside_a_workload_log_metric_says_what_is_missing() -> None:
    with pytest.raises(sapwood.run.NotInWorkloadError, match="SAPWOOD_URL, SAPWOOD_TOKEN"):
        sapwood.run.log_metric("loss", 1.0)
