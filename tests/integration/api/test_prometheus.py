"""/metrics in Prometheus's text format: token-protected, collected from the store now."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sapwood.testing.clock import FakeClock
from tests.support import Api, job, service

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(api: Api, token: str | None) -> Samples:
    async with api.http(token) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def key(metric: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return metric, frozenset(labels.items())


async def test_objects_and_queues_per_team(api: Api, clock: FakeClock) -> None:
    await api.admin.create_team("ml")
    await api.admin.apply([job("a"), service("web"), job("b", team="ml")])
    clock.advance(90)
    await api.admin.apply([job("c")])

    got = await scrape(api, api.admin_token)

    assert got[key("sapwood_objects", kind="Job", team="default", phase="Pending")] == 2
    assert got[key("sapwood_objects", kind="Service", team="default", phase="Pending")] == 1
    assert got[key("sapwood_objects", kind="Job", team="ml", phase="Pending")] == 1
    assert got[key("sapwood_queue_length", team="default")] == 3
    assert got[key("sapwood_queue_oldest_wait_seconds", team="default")] == 90
    assert got[key("sapwood_queue_oldest_wait_seconds", team="ml")] == 90
    assert got[key("sapwood_workload_restarts", kind="Job", team="default", name="a")] == 0
    # No preemption yet, and no controller in this server.
    assert not any(name == "sapwood_preemptions_total" for name, _ in got)
    assert key("sapwood_controller_passes_total") not in got
    assert got[key("sapwood_controller_pass_duration_seconds_count")] == 0


async def test_a_member_sees_only_its_teams(api: Api) -> None:
    await api.admin.create_team("ml")
    await api.admin.create_team("web")
    await api.admin.apply([job("a", team="ml"), job("b", team="web")])
    await api.admin.create_user("mia", teams={"ml": "member"})
    token = (await api.admin.create_token(user="mia")).token

    got = await scrape(api, token)

    teams = {dict(labels).get("team") for _, labels in got} - {None}
    assert teams == {"ml"}


async def test_a_scrape_needs_a_valid_token(api: Api) -> None:
    async with api.http() as http:
        response = await http.get("/metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    async with api.http("sw_nope_nope") as http:
        assert (await http.get("/metrics")).status_code == 401
