"""Every route, every role, own team or another: who may do what.

The world: teams alpha and beta; alpha has an admin, a member and a viewer; an outsider
belongs to beta only; a system admin; and an anonymous caller. Job ``x`` lives in alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sapwood.testing.feeds import feed
from tests.support import Api, job, workspace
from tests.support_onnx import mlp_model

pytestmark = pytest.mark.anyio

ROLES = ["admin", "team-admin", "member", "viewer", "outsider", "anonymous"]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # Authorisation does not depend on the backend; the store suites cover PostgreSQL.
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


@dataclass
class World:
    api: Api
    tokens: dict[str, str | None]
    victim_token_id: str


@pytest.fixture
async def world(api: Api) -> World:
    admin = api.admin
    await admin.create_team("alpha")
    await admin.create_team("beta")
    await admin.create_team("spare")
    users = {
        "team-admin": {"alpha": "admin"},
        "member": {"alpha": "member"},
        "viewer": {"alpha": "viewer"},
        "outsider": {"beta": "member"},
        "victim": {"beta": "member"},
    }
    tokens: dict[str, str | None] = {"admin": api.admin_token, "anonymous": None}
    for user, teams in users.items():
        await admin.create_user(user, teams=teams)
        tokens[user] = (await admin.create_token(user=user)).token
    victim = await admin.create_token(user="victim")
    await admin.set_quota("beta", guaranteed={"cpu": 1})
    await admin.push_model(mlp_model(features=4), name="m", alias="production", team="alpha")
    await admin.apply([job("x", team="alpha"), workspace("ws", team="alpha")])
    await admin.apply([feed("f", team="alpha")])
    return World(api, tokens, victim.id)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: dict[str, Any] | list[Any] | None
    expect: dict[str, int]


def _expect(ok: int, **overrides: int) -> dict[str, int]:
    table = dict.fromkeys(ROLES, ok)
    table["anonymous"] = 401
    table.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return table


READ = _expect(200, outsider=404)
WRITE = _expect(200, viewer=403, outsider=404)
ADMIN_ONLY = _expect(403, admin=200)
MANAGE_ALPHA = _expect(200, member=403, viewer=403, outsider=404)
ANY_USER = _expect(200)

CASES = {
    "whoami": Case("GET", "/api/v1/whoami", None, ANY_USER),
    "apply": Case("POST", "/api/v1/apply", {"objects": [job("y", team="alpha")]}, WRITE),
    "list": Case("GET", "/api/v1/jobs?team=alpha", None, READ),
    "get": Case("GET", "/api/v1/jobs/x?team=alpha", None, READ),
    "object-events": Case("GET", "/api/v1/jobs/x/events?team=alpha", None, READ),
    "delete": Case("DELETE", "/api/v1/jobs/x?team=alpha", None, WRITE),
    "pause": Case("POST", "/api/v1/workspaces/ws/pause?team=alpha", None, WRITE),
    "resume": Case("POST", "/api/v1/workspaces/ws/resume?team=alpha", None, WRITE),
    "extend": Case("POST", "/api/v1/teams/alpha/workspaces/ws/extend", {"by": "1d"}, WRITE),
    # Job x never ran (no controller here): writers may ask, and hear it has not finished.
    "rerun": Case(
        "POST", "/api/v1/jobs/x/rerun?team=alpha", None, _expect(409, viewer=403, outsider=404)
    ),
    "events": Case("GET", "/api/v1/events?team=alpha", None, READ),
    "list-teams": Case("GET", "/api/v1/teams", None, ANY_USER),
    "create-team": Case("POST", "/api/v1/teams", {"name": "gamma"}, _expect(403, admin=201)),
    "delete-team": Case("DELETE", "/api/v1/teams/spare", None, _expect(403, admin=204)),
    "list-users": Case("GET", "/api/v1/users", None, ADMIN_ONLY),
    "slack-status": Case("GET", "/api/v1/slack", None, ADMIN_ONLY),
    "create-user": Case("POST", "/api/v1/users", {"name": "newbie"}, _expect(403, admin=201)),
    "delete-user": Case("DELETE", "/api/v1/users/victim", None, _expect(403, admin=204)),
    "set-membership": Case(
        "PUT", "/api/v1/users/victim/teams/alpha", {"role": "viewer"}, MANAGE_ALPHA
    ),
    "remove-membership": Case(
        "DELETE",
        "/api/v1/users/viewer/teams/alpha",
        None,
        _expect(204, member=403, viewer=403, outsider=404),
    ),
    "list-tokens": Case("GET", "/api/v1/tokens", None, ANY_USER),
    "create-token": Case("POST", "/api/v1/tokens", {}, _expect(201)),
    "list-quotas": Case("GET", "/api/v1/quotas", None, ANY_USER),
    "set-quota": Case("PUT", "/api/v1/quotas/alpha", {"guaranteed": {"cpu": 1}}, ADMIN_ONLY),
    "delete-quota": Case("DELETE", "/api/v1/quotas/beta", None, _expect(403, admin=204)),
    "queue": Case("GET", "/api/v1/queue?team=alpha", None, READ),
    "logs": Case("GET", "/api/v1/jobs/x/logs?team=alpha", None, _expect(503, outsider=404)),
    "write-metrics": Case(
        "POST", "/api/v1/jobs/x/metrics?team=alpha", [{"name": "loss", "value": 1.0}], WRITE
    ),
    "read-metrics": Case("GET", "/api/v1/jobs/x/metrics?team=alpha", None, READ),
    "prometheus": Case("GET", "/metrics", None, ANY_USER),
    "list-channels": Case("GET", "/api/v1/teams/alpha/channels", None, READ),
    "set-channel": Case(
        "PUT",
        "/api/v1/teams/alpha/channels/hook",
        {"type": "webhook", "url": "https://hooks.example.com/sapwood"},
        WRITE,
    ),
    "delete-channel": Case(
        "DELETE", "/api/v1/teams/alpha/channels/nope", None, _expect(404, viewer=403)
    ),
    "test-channel": Case(
        "POST", "/api/v1/teams/alpha/channels/nope/test", None, _expect(404, viewer=403)
    ),
    "list-rules": Case("GET", "/api/v1/teams/alpha/rules", None, READ),
    "set-rule": Case(
        "PUT",
        "/api/v1/teams/alpha/rules/r",
        {"channel": "nope", "events": ["job.failed"]},
        _expect(422, viewer=403, outsider=404),
    ),
    "delete-rule": Case("DELETE", "/api/v1/teams/alpha/rules/r", None, _expect(404, viewer=403)),
    "deliveries": Case("GET", "/api/v1/teams/alpha/deliveries", None, READ),
    # one column of 67: the others take the schema's -1, as asked
    "feed-records": Case(
        "POST", "/api/v1/feeds/f/records?team=alpha&fillMissing=true", [{"idx": 1}], WRITE
    ),
    "feed-lease": Case(
        "POST", "/api/v1/feeds/f/lease?team=alpha", None, _expect(204, viewer=403, outsider=404)
    ),
    "feed-ack": Case(
        "POST", "/api/v1/feeds/f/ack?team=alpha&lease=1.x", None, _expect(404, viewer=403)
    ),
    "feed-results": Case("GET", "/api/v1/feeds/f/results?team=alpha", None, READ),
    "feed-figures": Case("GET", "/api/v1/feeds/f/figures?team=alpha", None, READ),
    "list-models": Case("GET", "/api/v1/teams/alpha/models", None, READ),
    "get-model": Case("GET", "/api/v1/teams/alpha/models/m", None, READ),
    "get-model-version": Case(
        "GET", "/api/v1/teams/alpha/models/m/versions/production", None, READ
    ),
    "model-artifact": Case("GET", "/api/v1/teams/alpha/models/m/versions/1/artifact", None, READ),
    "push-model": Case(
        "POST",
        "/api/v1/teams/alpha/models/m/versions",
        None,
        _expect(422, viewer=403, outsider=404),
    ),
    "set-model-alias": Case(
        "PUT", "/api/v1/teams/alpha/models/m/aliases/staging", {"version": 1}, WRITE
    ),
    "delete-model-alias": Case(
        "DELETE", "/api/v1/teams/alpha/models/m/aliases/nope", None, _expect(404, viewer=403)
    ),
    "delete-model-version": Case(
        "DELETE", "/api/v1/teams/alpha/models/m/versions/9", None, _expect(404, viewer=403)
    ),
    "revoke-others-token": Case("DELETE", "/api/v1/tokens/{victim}", None, _expect(404, admin=204)),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(CASES))
async def test_route_by_role(world: World, route: str, role: str) -> None:
    case = CASES[route]
    path = case.path.replace("{victim}", world.victim_token_id)
    async with world.api.http(world.tokens[role]) as http:
        response = await http.request(case.method, path, json=case.body)
    assert response.status_code == case.expect[role], response.text
    if response.status_code >= 400:
        assert response.json()["error"]["message"]


async def test_outsider_cannot_learn_that_a_name_exists(world: World) -> None:
    async with world.api.http(world.tokens["outsider"]) as http:
        existing = await http.get("/api/v1/jobs/x?team=alpha")
        missing = await http.get("/api/v1/jobs/nope?team=alpha")
    assert existing.status_code == missing.status_code == 404
    assert "job/x not found" in existing.json()["error"]["message"]


async def test_list_without_team_shows_only_readable_teams(world: World) -> None:
    await world.api.admin.apply([job("b-job", team="beta")])
    viewer = world.api.client(world.tokens["viewer"])
    outsider = world.api.client(world.tokens["outsider"])
    assert [o.metadata.name for o in await viewer.list("jobs")] == ["x"]
    assert [o.metadata.name for o in await outsider.list("jobs")] == ["b-job"]
    await viewer.aclose()
    await outsider.aclose()


async def test_health_needs_no_token(world: World) -> None:
    async with world.api.http() as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
