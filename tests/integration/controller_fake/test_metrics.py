"""Metrics with the controller running: a started workload's own token, and /metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sapwood.client import NotFoundError
from tests.integration.controller_fake.conftest import TEAM, Harness, key
from tests.support import job, service

pytestmark = pytest.mark.anyio


async def test_a_started_job_logs_with_the_token_it_was_given(sw: Harness) -> None:
    await sw.apply(job("train"), job("other"))
    await sw.step()
    [unit] = [u for u in sw.fake.started if u.key.name == "train"]
    env = unit.env
    async with sw.api.client(env["SAPWOOD_TOKEN"], team=env["SAPWOOD_TEAM"]) as workload:
        points = [{"name": "loss", "value": 1 / (s + 1), "step": s} for s in range(5)]
        assert await workload.write_metrics(env["SAPWOOD_KIND"], env["SAPWOOD_NAME"], points) == 5
        with pytest.raises(NotFoundError):
            await workload.write_metrics("job", "other", points)

    [loss] = await sw.sdk.list_metrics("job", "train")
    assert [p.step for p in loss.points] == [0, 1, 2, 3, 4]
    assert loss.points[-1].value == pytest.approx(0.2)


async def scrape(sw: Harness) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with sw.api.http(sw.api.admin_token) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def at(metric: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return metric, frozenset(labels.items())


async def test_preemptions_restarts_phases_and_passes(sw: Harness) -> None:
    most = {"cpu": "7"}  # of 8: the service fits beside it, urgent does not
    await sw.apply(job("big", command=["sleep", "600"], resources=most), service("api"))
    await sw.step(2)
    assert await sw.phase("job", "big") == "Running"

    # A crashed replica restarts after its backoff.
    sw.clock.advance(60)
    sw.fake.crash(key("Service", "api"))
    await sw.step()
    sw.clock.advance(10)
    await sw.step(2)
    restarts = (await sw.get("service", "api")).status["restarts"]
    assert restarts == 1

    # A job of higher priority takes big's place; big waits again.
    await sw.apply(job("urgent", command=["sleep", "600"], resources=most, priority="high"))
    await sw.until_phase("job", "urgent", "Running")
    assert "Preempted" in await sw.reasons("job", "big")
    got = await scrape(sw)
    timed = got[at("sapwood_controller_pass_duration_seconds_count")]

    assert got[at("sapwood_preemptions_total", team=TEAM)] == 1
    assert got[at("sapwood_objects", kind="Job", team=TEAM, phase="Pending")] == 1
    assert got[at("sapwood_objects", kind="Service", team=TEAM, phase="Running")] == 1
    assert got[at("sapwood_queue_length", team=TEAM)] == 1
    assert got[at("sapwood_workload_restarts", kind="Service", team=TEAM, name="api")] == 1
    # The loop's rounds, as it started and timed them (it runs on while the test does).
    assert 1 <= timed <= got[at("sapwood_controller_passes_total")] <= sw.manager.passes
    assert got[at("sapwood_controller_pass_duration_seconds_bucket", le="+Inf")] == timed

    # Deleting a running object: it counts as Terminating until its replicas are gone.
    await sw.sdk.delete("service", "api")
    got = await scrape(sw)
    assert got[at("sapwood_objects", kind="Service", team=TEAM, phase="Terminating")] == 1
    # Each round is counted once: a later scrape adds only the rounds since.
    assert (
        timed
        <= got[at("sapwood_controller_pass_duration_seconds_count")]
        <= sw.manager.passes_timed
    )
